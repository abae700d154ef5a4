"""The only module that runs git: refs, merge bases, diffs, tree listings and blobs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class GitError(Exception):
    """A git command failed; the message is fit to show a user as it is."""


@dataclass(frozen=True)
class TreeItem:
    mode: str
    kind: str  # blob | tree | commit (submodule)
    oid: str
    size: int | None
    path: str
    missing: bool = False  # the object is absent from the repository (a partial or damaged clone)


@dataclass(frozen=True)
class Change:
    status: str  # A, M, D, T ...
    path: str


def _run(repo: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=input_bytes,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(proc.returncode)}")
    return proc.stdout


def is_repo(repo: Path) -> bool:
    try:
        return _run(repo, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def is_shallow(repo: Path) -> bool:
    return _run(repo, "rev-parse", "--is-shallow-repository").strip() == b"true"


def resolve(repo: Path, ref: str) -> str | None:
    """The commit SHA a ref names, or None when git does not know it."""
    try:
        return _run(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip() or None
    except GitError:
        return None


def merge_base(repo: Path, a: str, b: str) -> str | None:
    try:
        return _run(repo, "merge-base", a, b).decode().strip() or None
    except GitError:
        return None


def changed_files(repo: Path, base: str, head: str) -> list[Change]:
    """Files that differ between two commits, renames split into delete + add."""
    out = _run(repo, "diff", "--name-status", "--no-renames", "-z", base, head)
    parts = out.decode("utf-8", "replace").split("\0")
    changes = []
    for status, path in zip(parts[0::2], parts[1::2], strict=False):
        if status:
            changes.append(Change(status=status[0], path=path))
    return changes


def list_tree(repo: Path, commit: str, paths: tuple[str, ...] = ()) -> list[TreeItem]:
    """Every entry of a commit's tree (or only `paths`), recursively, with blob sizes."""
    out = _run(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", *paths)
    items = []
    for record in out.decode("utf-8", "replace").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, oid, size = meta.split()
        # git prints `BAD` as the size of a blob whose object is missing; `-` for trees and submodules
        missing = kind == "blob" and not size.isdigit()
        items.append(TreeItem(mode, kind, oid, int(size) if size.isdigit() else None, path, missing))
    return items


def read_blob(repo: Path, oid: str) -> bytes:
    return _run(repo, "cat-file", "blob", oid)


def open_blob(repo: Path, oid: str) -> tuple[subprocess.Popen, IO[bytes]]:
    """Stream a blob without holding it in memory; the caller closes the process."""
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "blob", oid],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    return proc, proc.stdout


def init_repo(repo: Path) -> None:
    _run(repo, "init", "-q", "-b", "main")


def commit_all(repo: Path, message: str) -> str:
    """Stage everything and commit as the demo author; returns the new commit's SHA."""
    _run(repo, "add", "-A")
    _run(
        repo,
        "-c", "user.name=gym-review demo",
        "-c", "user.email=demo@gym-review.invalid",
        "-c", "commit.gpgsign=false",
        "commit", "-q", "-m", message,
    )  # fmt: skip
    return _run(repo, "rev-parse", "HEAD").decode().strip()


# -- commits of a PR (GR120) ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author_name: str
    author_email: str
    signed_off_by: tuple[str, ...]  # the values of its `Signed-off-by:` trailers, as git parses them


def commits_between(repo: Path, base: str, head: str) -> list[CommitInfo]:
    """The non-merge commits reachable from head but not from base, oldest first."""
    # NUL cannot occur in a name, an e-mail or a trailer: four NUL-separated fields per commit.
    fmt = "%H%x00%an%x00%ae%x00%(trailers:key=Signed-off-by,valueonly,separator=%x01)%x00"
    out = _run(repo, "log", "--no-merges", "--reverse", f"--format={fmt}", f"{base}..{head}", "--")
    fields = out.decode("utf-8", "replace").split("\0")
    commits = []
    for i in range(0, len(fields) - 3, 4):
        sha, name, email, trailers = (f.strip("\n") for f in fields[i : i + 4])
        signed = tuple(t.strip() for t in trailers.split("\x01") if t.strip())
        commits.append(CommitInfo(sha, name, email, signed))
    return commits
