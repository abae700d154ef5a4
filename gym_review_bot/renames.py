"""Renamed servers (issue 19): a server the PR removes whose files mostly reappear under a server it adds.

A removed server and an added one are a rename when at least half of the old server's files pair with the new
one's under git's rename detection (`git diff -M`). The new one is then reviewed as *changed*: its base is the old
server, seen at the new path (RenamedTree), so base findings match the head's. Deleting one server and adding an
unrelated one pairs no files: not a rename.

A rename that also changes data/ or the module holding verify() is *reworked*: GR118 and the evidence checks
still apply to it as to a new server.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from gym_review_bot import git
from gym_review_bot.sources import Entry, SourceTree

SERVERS_DIR = "resources_servers"
VERIFY_SNIFF_BYTES = 1024 * 1024  # enough of a module to see `def verify(`; GR100 caps what the checks read


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    paired: int  # the old server's files that pair with the new one's
    files: int  # the old server's files
    reworked: tuple[str, ...] = ()  # the changed files of data/ and of the module holding verify(), sorted

    def note(self) -> str:
        how = f"{self.paired} of its {self.files} file(s) pair with the new ones under git's rename detection"
        also = (
            f"; data/ or the module holding verify() changed ({', '.join(self.reworked[:5])}), so GR118 and the "
            "evidence checks apply as to a new server"
            if self.reworked
            else ""
        )
        return f"{SERVERS_DIR}/{self.new} is {SERVERS_DIR}/{self.old} renamed ({how}): reviewed as a change{also}."


def _server(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == SERVERS_DIR else None


def _rel(path: str) -> str:
    return path.split("/", 2)[2]


def find_renames(
    repo: Path, base_sha: str, head_sha: str, base: SourceTree, head: SourceTree, removed: list[str], added: list[str]
) -> list[Rename]:
    """The renames among the servers a PR removes and adds (each server in at most one)."""
    if not removed or not added:
        return []
    changes = git.changes_with_renames(repo, base_sha, head_sha, SERVERS_DIR)
    pairs: Counter[tuple[str, str]] = Counter()
    for status, old, new in changes:
        pair = (_server(old), _server(new))
        if status.startswith("R") and pair[0] in removed and pair[1] in added:
            pairs[pair] += 1  # type: ignore[index]
    renames: list[Rename] = []
    taken: set[str] = set()
    for (old, new), paired in sorted(pairs.items(), key=lambda item: (-item[1], item[0])):
        if old in {r.old for r in renames} or new in taken:
            continue
        files = sum(1 for e in base.walk(f"{SERVERS_DIR}/{old}") if e.kind == "file")
        if files and 2 * paired >= files:
            taken.add(new)
            renames.append(Rename(old, new, paired, files, _reworked(changes, base, head, old, new)))
    return sorted(renames, key=lambda r: r.new)


def _same_blob(base: SourceTree, head: SourceTree, before: str, after: str) -> bool:
    """Whether a renamed file kept its content. Not git's `R100`: its similarity ignores the order of lines."""
    was, now = base.get(before), head.get(after)
    return was is not None and now is not None and was.oid is not None and was.oid == now.oid


def _reworked(
    changes: list[tuple[str, str, str]], base: SourceTree, head: SourceTree, old: str, new: str
) -> tuple[str, ...]:
    """The files of data/ and of the module holding verify() that the rename did not carry over unchanged."""
    found: set[str] = set()
    for status, before, after in changes:
        if status.startswith("R") and _server(before) == old and _same_blob(base, head, before, after):
            continue
        if status.startswith("D") and _server(before) == old:
            rel = _rel(before)
            if rel.startswith("data/"):
                found.add(rel)  # a data file the rename dropped
            continue
        if _server(after) != new:
            continue
        rel = _rel(after)
        if rel.startswith("data/"):
            found.add(rel)
        elif rel.endswith(".py") and _defines_verify(head, after):
            found.add(rel)
    return tuple(sorted(found))


def _defines_verify(head: SourceTree, path: str) -> bool:
    entry = head.get(path)
    if entry is None or entry.kind != "file" or entry.missing:
        return False
    content = head.read(entry, VERIFY_SNIFF_BYTES)
    return b"def verify(" in content


class RenamedTree(SourceTree):
    """The merge base with the old server shown at the new server's path: base findings then name the head's
    paths, and match the head's findings."""

    def __init__(self, inner: SourceTree, old: str, new: str):
        self.inner, self.label = inner, inner.label
        self.old, self.new = f"{SERVERS_DIR}/{old}", f"{SERVERS_DIR}/{new}"

    def _inside(self, path: str) -> str:
        path = path.strip("/")
        if path == self.new or path.startswith(self.new + "/"):
            return self.old + path[len(self.new) :]
        return path

    def _shown(self, entry: Entry) -> Entry:
        if entry.path == self.old or entry.path.startswith(self.old + "/"):
            return replace(entry, path=self.new + entry.path[len(self.old) :])
        return entry

    def get(self, path: str) -> Entry | None:
        entry = self.inner.get(self._inside(path))
        return None if entry is None else self._shown(entry)

    def walk(self, prefix: str) -> list[Entry]:
        return sorted((self._shown(e) for e in self.inner.walk(self._inside(prefix))), key=lambda e: e.path)

    def is_dir(self, path: str) -> bool:
        return self.inner.is_dir(self._inside(path))

    def subdirs(self, prefix: str) -> list[str]:
        names = self.inner.subdirs(self._inside(prefix))
        if prefix.strip("/") == SERVERS_DIR:
            old, new = posixpath.basename(self.old), posixpath.basename(self.new)
            names = sorted(new if n == old else n for n in names)
        return names

    def read(self, entry: Entry, limit: int | None = None) -> bytes:
        return self.inner.read(replace(entry, path=self._inside(entry.path)), limit)

    @contextmanager
    def stream(self, entry: Entry) -> Iterator[IO[bytes]]:
        with self.inner.stream(replace(entry, path=self._inside(entry.path))) as fh:
            yield fh
