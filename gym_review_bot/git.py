"""The only module that runs git: refs, merge bases, diffs, tree listings and blobs."""

from __future__ import annotations

import subprocess
import threading
import weakref
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
            # --literal-pathspecs: a path from the PR (a server's name) is a name, never a glob or `:(magic)`
            ["git", "--literal-pathspecs", "-C", str(repo), *args],
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


def changes_with_renames(repo: Path, base: str, head: str, path: str) -> list[tuple[str, str, str]]:
    """(status with its score, old path, new path) for each file under `path` that differs, with git's rename
    detection on (`R097`: a rename whose content is 97 % the same; the old path is the new one for A, M, D)."""
    out = _run(repo, "diff", "--name-status", "-M", "-z", base, head, "--", path)
    parts = out.decode("utf-8", "replace").split("\0")
    changes, i = [], 0
    while i < len(parts) and parts[i]:
        status = parts[i]
        if status[0] in "RC" and i + 2 < len(parts):
            changes.append((status, parts[i + 1], parts[i + 2]))
            i += 3
        elif i + 1 < len(parts):
            changes.append((status, parts[i + 1], parts[i + 1]))
            i += 2
        else:
            break
    return changes


def list_tree(repo: Path, commit: str, paths: tuple[str, ...] = (), recursive: bool = True) -> list[TreeItem]:
    """Every entry of a commit's tree (or only `paths`), recursively, with blob sizes; with `recursive` off,
    a directory's own entries (its subdirectories as `tree` items) without sizes (a size is read from the blob,
    which a partial clone would have to fetch)."""
    flags = ["-r", "-l"] if recursive else []
    out = _run(repo, "ls-tree", *flags, "-z", "--full-tree", commit, "--", *paths)
    items = []
    for record in out.decode("utf-8", "replace").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, oid, size = meta.split() if recursive else (*meta.split(), "")
        # git prints `BAD` as the size of a blob whose object is missing; `-` for trees and submodules
        missing = recursive and kind == "blob" and not size.isdigit()
        items.append(TreeItem(mode, kind, oid, int(size) if size.isdigit() else None, path, missing))
    return items


def read_blobs(repo: Path, oids: list[str]) -> dict[str, bytes]:
    """Several small blobs (symlink targets) in one `git cat-file --batch`; an absent one is left out."""
    if not oids:
        return {}
    out = _run(repo, "cat-file", "--batch", input_bytes="".join(f"{oid}\n" for oid in oids).encode())
    blobs, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3:  # <oid> <type> <size>; an absent object prints `<oid> missing`
            size = int(header[2])
            blobs[header[0].decode()] = out[pos : pos + size]
            pos += size + 1  # the object, then a newline
    return blobs


class BlobReader:
    """Whole blobs through one `git cat-file --batch` process (a process per file costs ~4 ms each), started
    on the first read and ended by `close` (or when the reader is collected)."""

    def __init__(self, repo: Path):
        self.repo = repo
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize | None = None

    def read(self, oid: str) -> bytes:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(f"{oid}\n".encode())
                proc.stdin.flush()
                header = proc.stdout.readline().split()
            except OSError as exc:
                self._stop()
                raise GitError(f"git cat-file failed: {exc}") from exc
            if len(header) != 3 or header[1] != b"blob":
                what = header[1].decode("ascii", "replace") if len(header) > 1 else "no answer"
                raise GitError(f"git cat-file failed: object {oid} is {what}")
            size = int(header[2])
            data = proc.stdout.read(size + 1)[:size]  # the object, then a newline
            if len(data) != size:
                self._stop()
                raise GitError(f"git cat-file failed: object {oid} was cut short")
            return data

    def _start(self) -> subprocess.Popen:
        if self._proc is None:
            try:
                self._proc = subprocess.Popen(
                    ["git", "-C", str(self.repo), "cat-file", "--batch"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError as exc:
                raise GitError("git is not installed or not on PATH") from exc
            self._finalizer = weakref.finalize(self, _end_process, self._proc)
        return self._proc

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._proc, self._finalizer = None, None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _end_process(proc: subprocess.Popen) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
    committer_name: str
    committer_email: str
    message: str


def commits_between(repo: Path, base: str, head: str) -> list[CommitInfo]:
    """The non-merge commits reachable from head but not from base, oldest first, read from the commit
    objects themselves (names, e-mails and messages are the PR's text: nothing in them can split a record)."""
    shas = _run(repo, "rev-list", "--no-merges", "--reverse", f"{base}..{head}", "--").decode().split()
    if not shas:
        return []
    out = _run(repo, "cat-file", "--batch", input_bytes="".join(f"{sha}\n" for sha in shas).encode())
    commits, pos = [], 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"commit":
            raise GitError(
                f"git cat-file failed: commit {header[0].decode(errors='replace') if header else '?'} missing"
            )
        size = int(header[2])
        commits.append(_commit_info(header[0].decode(), out[pos : pos + size]))
        pos += size + 1
    return commits


def _commit_info(sha: str, raw: bytes) -> CommitInfo:
    head, _, message = raw.partition(b"\n\n")
    people = {}
    for line in head.split(b"\n"):
        role, _, value = line.partition(b" ")
        if role in (b"author", b"committer"):
            text = value.decode("utf-8", "replace")
            name, _, rest = text.partition(" <")
            people[role] = (name.strip(), rest.split(">", 1)[0].strip())
    author = people.get(b"author", ("", ""))
    committer = people.get(b"committer", ("", ""))
    return CommitInfo(sha, *author, *committer, message.decode("utf-8", "replace"))
