"""The files a PR changes, as GitHub lists them; a list that may be cut short counts as touching everything.

GitHub lists at most 3,000 files of a PR, while the PR's `changed_files` counts them all. A rename is
listed once, under its new name, with the old one in `previous_filename`: both names count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from github import GithubException


@dataclass(frozen=True)
class ChangedFiles:
    paths: tuple[str, ...]  # every name the PR touches: the new and the old name of each rename
    complete: bool
    why: str = ""  # when not complete: why the list cannot be trusted to hold every file

    def touched(self, prefixes: list[str]) -> list[str]:
        """The protected prefixes the PR touches; every one of them when the list is not complete."""
        if not self.complete:
            return list(prefixes)
        return [p for p in prefixes if any(f == p or f.startswith(p) for f in self.paths)]


def changed_files(pr: Any) -> ChangedFiles:
    """The PR's files; not `complete` when GitHub listed fewer than `changed_files`, or the list failed."""
    try:
        entries = list(pr.get_files())
        expected = pr.changed_files
    except (GithubException, OSError, ValueError) as exc:
        status = getattr(exc, "status", None) or type(exc).__name__
        return ChangedFiles((), False, f"the PR's file list could not be read ({status})")
    paths = []
    for entry in entries:
        paths.append(entry.filename)
        if entry.previous_filename:
            paths.append(entry.previous_filename)
    if not isinstance(expected, int) or len(entries) < expected:
        why = f"GitHub lists {len(entries)} of the PR's {expected} changed files"
        return ChangedFiles(tuple(paths), False, why)
    return ChangedFiles(tuple(paths), True)
