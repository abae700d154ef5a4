"""What a check sees of one server: its files, read safely and once, and facts about the checkout."""

from __future__ import annotations

import codecs
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from gym_review_bot.checks.base import CheckError, SkipCheck
from gym_review_bot.checks.checkout import MAX_PYTHON_BYTES, Checkout
from gym_review_bot.checks.pull import PullRequest
from gym_review_bot.config import Policy, default_policy
from gym_review_bot.sources import Entry, SourceTree

T = TypeVar("T")

# Files the review reads as text; GR100 vets exactly these, the entrypoint files the configs name
# (app.py when they name none), every symlink, and the size of every Python file.
TEXT_FILES = (
    "tests/test_app.py",
    "data/example.jsonl",
    "data/example_rollouts.jsonl",
    "requirements.txt",
    "pyproject.toml",
    "README.md",
)
CONFIG_SUFFIXES = (".yaml", ".yml")
SNIFF_BYTES = 1024 * 1024  # read in chunks of this size; the whole file is read
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
MAX_LINK_HOPS = 8


@dataclass
class ServerContext:
    tree: SourceTree
    name: str
    checkout: Checkout
    max_file_bytes: int = 50 * 1024 * 1024
    max_python_bytes: int = MAX_PYTHON_BYTES
    policy: Policy = field(default_factory=default_policy)  # the registry's .gym-review.yaml (the defaults without one)
    pull: PullRequest | None = None  # PR mode only: the base, the added files, the commits
    allow_url_deps: bool = False  # --allow-url-deps: GR207 says such lines are honoured
    renamed_from: str | None = None  # PR mode, a renamed server: its name at the merge base
    reworked: bool = False  # a rename that also changed data/ or verify()'s module: GR118 judges it as new
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"resources_servers/{self.name}"

    def full(self, rel: str) -> str:
        return f"{self.path}/{rel}"

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- files -------------------------------------------------------------------------------

    def root_problem(self) -> str | None:
        """Why the server's own path is no directory the review can read (a symlink, a submodule), or None."""
        entry = self.tree.get(self.path)
        if entry is None or entry.kind == "file":
            return None
        if entry.kind == "symlink":
            return (
                f"is a symlink to {entry.target!r}, not a directory: the review does not follow links, so none "
                "of the server's files can be read"
            )
        if entry.kind == "submodule":
            return (
                f"is a git submodule (a gitlink to commit {(entry.oid or '?')[:12]}), not a directory: its files "
                "are not in this repository, so none of them can be read"
            )
        return None

    def _require_root(self) -> None:
        why = self.root_problem()
        if why:
            raise SkipCheck(f"Not run: waits on GR100: {self.path} {why}.", "prerequisite_failed")

    def config_files(self) -> list[str]:
        """configs/*.yaml (and .yml), relative to the server, links included."""
        self._require_root()
        prefix = self.full("configs") + "/"
        return [
            e.path[len(self.path) + 1 :]
            for e in self.tree.walk(self.full("configs"))
            if e.path.endswith(CONFIG_SUFFIXES) and "/" not in e.path[len(prefix) :]
        ]

    def entrypoints(self) -> list[str]:
        """The distinct files the configs' entrypoints name, inside the server; app.py when they name none."""

        def collect() -> list[str]:
            from gym_review_bot.checks.config import entrypoint_files  # config reads files through this context

            try:
                return entrypoint_files(self) or ["app.py"]
            except (SkipCheck, CheckError):  # an unreadable config: GR100 and GR103 say so
                return ["app.py"]

        return self.memo("entrypoints", collect)

    def read_targets(self) -> list[str]:
        return [*TEXT_FILES, *self.config_files()]

    def problems(self) -> dict[str, str]:
        """Files the review cannot or must not read (GR100), by repository path."""
        if "problems" not in self._memo:
            found = self._vet(self.read_targets(), links=True)
            self._memo["problems"] = found  # the configs are vetted: their entrypoints can be read now
            found.update(self._vet([rel for rel in self.entrypoints() if self.full(rel) not in found], python=True))
        return self._memo["problems"]

    def damaged(self) -> dict[str, str]:
        """Files of the server whose git object is missing (a damaged or partial clone): path -> object id."""
        return {e.path: e.oid or "?" for e in self.tree.walk(self.path) if e.missing}

    def _vet(self, rels: list[str], links: bool = False, python: bool = False) -> dict[str, str]:
        found: dict[str, str] = {}
        for entry in self.tree.walk(self.path) if links else []:
            if entry.missing:
                continue
            if entry.kind == "symlink":
                _, why = self._follow(entry)
                if why:
                    found[entry.path] = why
            elif entry.path.endswith(".py") and entry.size > self.max_python_bytes:
                found[entry.path] = self._too_big_for_python(entry)
        for rel in rels:
            path = self.full(rel)
            if path in found:
                continue
            entry, why = self._lookup(path)
            if why:
                found[path] = why
            elif entry is not None and not entry.missing:
                why = self._vet_content(entry, python=python or rel.endswith(".py"))
                if why:
                    found[path] = why
        return found

    def _too_big_for_python(self, entry: Entry) -> str:
        size, cap = entry.size / 1024, self.max_python_bytes / 1024
        return f"is {size:,.0f} KiB, over the {cap:g} KiB cap for Python sources; not parsed"

    def _lookup(self, path: str) -> tuple[Entry | None, str | None]:
        entry = self.tree.get(path)
        if entry is None:
            return None, self._linked_parent(path)
        if entry.missing:
            return entry, None  # find() reports it; GR100 reports it as damage
        if entry.kind == "symlink":
            return self._follow(entry)
        if entry.kind == "submodule":
            return None, "is a git submodule, not a file"
        return entry, None

    def _linked_parent(self, path: str) -> str | None:
        parent = posixpath.dirname(path)
        while parent.startswith(self.path + "/"):
            entry = self.tree.get(parent)
            if entry is not None and entry.kind == "symlink":
                return f"lies below {parent}, a symlink the review does not follow into a directory"
            parent = posixpath.dirname(parent)
        return None

    def _follow(self, link: Entry) -> tuple[Entry | None, str | None]:
        entry: Entry | None = link
        for _ in range(MAX_LINK_HOPS):
            if entry is None or entry.kind != "symlink":
                return entry, None
            target = entry.target or ""
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
            if target.startswith("/") or not resolved.startswith(self.path + "/"):
                return None, f"is a symlink to {target!r}, outside the server directory (not followed)"
            entry = self.tree.get(resolved)
        return None, "is a chain of symlinks too long to follow"

    def _vet_content(self, entry: Entry, python: bool = False) -> str | None:
        if python and entry.size > self.max_python_bytes:
            return self._too_big_for_python(entry)
        why = file_problem(self.tree, entry, self.max_file_bytes, "cap (--max-file-mb)")
        if why == LFS_POINTER:
            return f"{why}; commit the content (or a small sample)"
        return f"{why}; not read" if why and entry.size > self.max_file_bytes else why

    def find(self, rel: str) -> Entry | None:
        """A file the review may read; None when absent; SkipCheck when GR100 flagged it."""
        self._require_root()
        path = self.full(rel)
        why = self.problems().get(path)
        if why:
            raise SkipCheck(f"Not run: waits on GR100: {path} {why}.", "prerequisite_failed")
        entry, _ = self._lookup(path)
        if entry is not None and entry.missing:
            raise CheckError(damaged_message(entry.path, entry.oid))
        return entry

    def text(self, rel: str) -> str | None:
        """The decoded text of a file (BOM stripped), or None when it does not exist."""
        entry = self.find(rel)
        if entry is None:
            return None
        return self.tree.read(entry).decode("utf-8", "replace").removeprefix("\ufeff")


LFS_POINTER = "is a Git LFS pointer, not the file itself"


def file_problem(tree: SourceTree, entry: Entry, max_bytes: int, cap: str, text: bool = True) -> str | None:
    """Why a file's content cannot be read: the one vetting rule of the checks (GR100) and of the evidence files.

    Over its size cap (`cap` names it, with the flag that sets it), its git object missing, a Git LFS pointer
    (LFS_POINTER), and, with `text`, NUL bytes or bad UTF-8 anywhere in it (the whole file is read, a chunk
    at a time). Links, submodules and missing files are the callers' to report: this reads a file's content."""
    if entry.missing:
        return damaged_message(entry.path, entry.oid)
    if entry.size > max_bytes:
        return f"is {entry.size / 1024 / 1024:,.1f} MB, over the {max_bytes / 1024 / 1024:g} MB {cap}"
    with tree.stream(entry) as fh:
        if text:
            return _sniff(fh)
        return LFS_POINTER if fh.read(len(LFS_MAGIC)).startswith(LFS_MAGIC) else None


def _sniff(fh: IO[bytes]) -> str | None:
    """Why a stream is not plain UTF-8 text (a Git LFS pointer, NUL bytes, bad UTF-8), read once in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while chunk := fh.read(SNIFF_BYTES):
        if offset == 0 and chunk.startswith(LFS_MAGIC):
            return LFS_POINTER
        nul = chunk.find(b"\0")
        if nul != -1:
            return f"is binary (contains NUL bytes, the first at byte {offset + nul:,}) where text is required"
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return f"is not valid UTF-8 (byte {offset - pending + exc.start:,}); save it as UTF-8"
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"is not valid UTF-8 (it ends inside a character, byte {offset:,}); save it as UTF-8"
    return None


def damaged_message(path: str, oid: str | None) -> str:
    return (
        f"{path} cannot be read: git object {oid} is missing from the repository (a damaged or partial "
        "clone). The repository is at fault, not the PR: fetch it again (a full clone) and rerun the review."
    )
