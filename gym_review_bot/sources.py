"""Read-only views of a checkout: a commit's tree (through git) or a plain directory.

Nothing here follows a symlink: links are reported as entries with their target, and the
checks decide what to do with them.
"""

from __future__ import annotations

import bisect
import io
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from gym_review_bot import git

EntryKind = Literal["file", "symlink", "submodule"]


@dataclass(frozen=True)
class Entry:
    path: str  # repository-relative, POSIX separators
    kind: EntryKind
    size: int
    target: str | None = None  # symlinks only
    oid: str | None = None  # git trees only
    missing: bool = False  # git trees only: the object is absent (a partial or damaged clone)


class SourceTree:
    """The files of one checkout state."""

    label: str = ""

    def get(self, path: str) -> Entry | None:
        raise NotImplementedError

    def walk(self, prefix: str) -> list[Entry]:
        """Every file, link and submodule below a directory, sorted by path."""
        raise NotImplementedError

    def is_dir(self, path: str) -> bool:
        raise NotImplementedError

    def subdirs(self, prefix: str) -> list[str]:
        """Names of the real (not linked) directories directly inside a directory."""
        raise NotImplementedError

    def read(self, entry: Entry, limit: int | None = None) -> bytes:
        """The whole file, or its first `limit` bytes."""
        with self.stream(entry) as fh:
            return fh.read() if limit is None else fh.read(limit)

    @contextmanager
    def stream(self, entry: Entry) -> Iterator[IO[bytes]]:
        raise NotImplementedError
        yield  # pragma: no cover


# Directories with one subdirectory per server (NeMo Gym's layout): listed one server at a time, so a review of
# one server never lists the other hundred.
SPLIT_DIRS = ("resources_servers", "responses_api_agents", "responses_api_models")
# A git blob up to this size is streamed from memory (read whole through the tree's `cat-file --batch`); a
# bigger one through its own `git cat-file blob`, never whole in memory.
STREAM_IN_MEMORY_BYTES = 1024 * 1024


class GitTree(SourceTree):
    """A commit's tree, read through git: never the working tree.

    Listed lazily, a part at a time when first asked for: a top-level entry, or one server's directory
    under SPLIT_DIRS. A review reads the servers it reviews, nemo_gym/ and a few root files, not the
    whole checkout (in a partial clone, it also fetches no other blob).
    """

    def __init__(self, repo: Path, commit: str):
        self.repo = repo
        self.commit = commit
        self.label = commit[:12]
        self._entries: dict[str, Entry] = {}
        self._dirs: set[str] = {""}
        self._loaded: set[str] = set()  # parts listed recursively ("" is the whole tree)
        self._children: dict[str, list[git.TreeItem]] = {}  # a directory's own entries (root, SPLIT_DIRS)
        self._sorted: list[str] | None = None
        self._blobs = git.BlobReader(repo)
        self._top: set[str] | None = None  # the names at the root, listed once

    @staticmethod
    def _part(path: str) -> str:
        parts = path.strip("/").split("/")
        return "/".join(parts[:2]) if parts[0] in SPLIT_DIRS and len(parts) > 1 else parts[0]

    def _load(self, part: str) -> None:
        if part in self._loaded or "" in self._loaded:
            return
        top = part.split("/", 1)[0]
        if top and top not in self._top_names():
            self._loaded.add(part)  # no such top-level entry: nothing to list (e.g. a module name not in the tree)
            return
        items = git.list_tree(self.repo, self.commit, (part,) if part else ())
        targets = git.read_blobs(self.repo, [i.oid for i in items if i.mode == "120000" and not i.missing])
        for item in items:
            self._add(item, targets)
        self._loaded.add(part)
        if part in SPLIT_DIRS or not part:  # a whole split directory (or tree): its servers are listed too
            self._loaded.update({self._part(i.path) for i in items})
        self._sorted = None

    def _add(self, item: git.TreeItem, targets: dict[str, bytes]) -> None:
        if item.kind == "commit":
            entry = Entry(item.path, "submodule", 0, oid=item.oid)
        elif item.missing or (item.mode == "120000" and item.oid not in targets):
            kind: EntryKind = "symlink" if item.mode == "120000" else "file"
            entry = Entry(item.path, kind, 0, oid=item.oid, missing=True)
        elif item.mode == "120000":
            target = targets[item.oid].decode("utf-8", "surrogateescape")
            entry = Entry(item.path, "symlink", item.size or 0, target=target, oid=item.oid)
        else:
            entry = Entry(item.path, "file", item.size or 0, oid=item.oid)
        self._entries[item.path] = entry
        parent = posixpath.dirname(item.path)
        while parent not in self._dirs:
            self._dirs.add(parent)
            parent = posixpath.dirname(parent)

    def _top_names(self) -> set[str]:
        if self._top is None:
            self._top = {i.path for i in self._own_entries("")}
        return self._top

    def _own_entries(self, directory: str) -> list[git.TreeItem]:
        """A directory's own entries (the root's, or one per server of a split directory), not what is inside."""
        if directory not in self._children:
            paths = (directory + "/",) if directory else ()
            self._children[directory] = git.list_tree(self.repo, self.commit, paths, recursive=False)
        return self._children[directory]

    def get(self, path: str) -> Entry | None:
        self._load(self._part(path))
        return self._entries.get(path)

    def walk(self, prefix: str) -> list[Entry]:
        prefix = prefix.strip("/")
        self._load(self._part(prefix) if prefix else "")
        if self._sorted is None:
            self._sorted = sorted(self._entries)
        start = prefix + "/" if prefix else ""
        i = bisect.bisect_left(self._sorted, start)
        out = []
        while i < len(self._sorted) and self._sorted[i].startswith(start):
            out.append(self._entries[self._sorted[i]])
            i += 1
        return out

    def is_dir(self, path: str) -> bool:
        path = path.strip("/")
        if path in SPLIT_DIRS:
            return bool(self._own_entries(path))
        if path:
            self._load(self._part(path))
        return path in self._dirs

    def subdirs(self, prefix: str) -> list[str]:
        prefix = prefix.strip("/")
        if prefix in SPLIT_DIRS:
            return sorted(posixpath.basename(i.path) for i in self._own_entries(prefix) if i.kind == "tree")
        self._load(self._part(prefix) if prefix else "")
        return sorted(posixpath.basename(d) for d in self._dirs if d and posixpath.dirname(d) == prefix)

    def read(self, entry: Entry, limit: int | None = None) -> bytes:
        _refuse_missing(entry)
        if limit is None or entry.size <= limit:
            return self._blobs.read(entry.oid or "")
        return super().read(entry, limit)

    @contextmanager
    def stream(self, entry: Entry) -> Iterator[IO[bytes]]:
        _refuse_missing(entry)  # `git cat-file` would stream nothing, which reads as an empty file
        if entry.size <= STREAM_IN_MEMORY_BYTES:  # through the one batch process: a process per file costs ~4 ms
            yield io.BytesIO(self._blobs.read(entry.oid or ""))
            return
        proc, fh = git.open_blob(self.repo, entry.oid or "")
        try:
            yield fh
        finally:
            fh.close()
            proc.kill()
            proc.wait()


def _refuse_missing(entry: Entry) -> None:
    if entry.missing:
        raise git.GitError(f"git object {entry.oid} ({entry.path}) is missing from the repository")


class FsTree(SourceTree):
    """A plain directory, for --all and --server runs that need no git."""

    def __init__(self, root: Path):
        self.root = root
        self.label = str(root)
        self._walked: dict[str, list[Entry]] = {}  # a review reads a checkout that does not change: walk once

    def _abs(self, path: str) -> Path:
        return self.root / path if path else self.root

    def _entry(self, path: str, st: os.stat_result) -> Entry | None:
        if stat.S_ISLNK(st.st_mode):
            return Entry(path, "symlink", st.st_size, target=os.readlink(self._abs(path)))
        if stat.S_ISREG(st.st_mode):
            return Entry(path, "file", st.st_size)
        return None

    def get(self, path: str) -> Entry | None:
        if self._under_link(path):
            return None  # as in a git tree: a linked directory has no entries
        try:
            return self._entry(path, os.lstat(self._abs(path)))
        except (OSError, ValueError):
            return None

    def _under_link(self, path: str) -> bool:
        parent = posixpath.dirname(path)
        while parent:
            try:
                if stat.S_ISLNK(os.lstat(self._abs(parent)).st_mode):
                    return True
            except (OSError, ValueError):
                return False
            parent = posixpath.dirname(parent)
        return False

    def walk(self, prefix: str) -> list[Entry]:
        prefix = prefix.strip("/")
        if prefix not in self._walked:
            parent = next((p for p in self._walked if p and prefix.startswith(p + "/")), None)
            if parent is not None:
                self._walked[prefix] = [e for e in self._walked[parent] if e.path.startswith(prefix + "/")]
            else:
                self._walked[prefix] = self._walk(prefix)
        return list(self._walked[prefix])

    def _walk(self, prefix: str) -> list[Entry]:
        out: list[Entry] = []
        base = self._abs(prefix)
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            rel_dir = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir
            for name in dirnames + filenames:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if name in dirnames and not stat.S_ISLNK(st.st_mode):
                    continue
                entry = self._entry(rel, st)
                if entry:
                    out.append(entry)
        return sorted(out, key=lambda e: e.path)

    def is_dir(self, path: str) -> bool:
        if self._under_link(path):
            return False
        try:
            return stat.S_ISDIR(os.lstat(self._abs(path)).st_mode)
        except (OSError, ValueError):
            return False

    def subdirs(self, prefix: str) -> list[str]:
        try:
            names = os.listdir(self._abs(prefix))
        except OSError:
            return []
        return sorted(n for n in names if self.is_dir(f"{prefix.rstrip('/')}/{n}" if prefix else n))

    @contextmanager
    def stream(self, entry: Entry) -> Iterator[IO[bytes]]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self._abs(entry.path), flags)
        with os.fdopen(fd, "rb") as fh:
            yield fh
