"""Who owns a server: the registry's CODEOWNERS, read with git from a trusted commit (the base branch).

GitHub reads the first of .github/CODEOWNERS, CODEOWNERS and docs/CODEOWNERS; its patterns follow most
gitignore rules, and the last pattern that matches a path decides its owners. Only `@user` and
`@org/team` owners are kept (e-mail owners cannot be mentioned).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gym_review_bot import git
from gym_review_bot.sources import GitTree

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
MAX_BYTES = 3 * 1024 * 1024  # GitHub ignores a CODEOWNERS file of 3 MB or more
_OWNER = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?$")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    owners: tuple[str, ...]


def _regex(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS pattern as a regex over repository paths (no leading slash)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    out = ""
    i = 0
    while i < len(body):
        if body.startswith("**", i):
            out += ".*"
            i += 2
        elif body[i] == "*":
            out += "[^/]*"
            i += 1
        elif body[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(body[i])
            i += 1
    prefix = "^" if anchored else "^(?:.*/)?"
    if directory:
        suffix = "/.*$"
    elif pattern.endswith("/*"):
        suffix = "$"  # `docs/*`: the files directly in docs/, not deeper ones
    else:
        suffix = "(?:/.*)?$"  # a file, or a directory and everything under it
    return re.compile(prefix + out + suffix)


def parse(text: str) -> list[Rule]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        if pattern.startswith("!") or "[" in pattern:
            continue  # negation and character ranges are not supported by GitHub either
        rules.append(Rule(_regex(pattern), tuple(o for o in owners if _OWNER.match(o))))
    return rules


def owners_of(rules: list[Rule], path: str) -> tuple[str, ...]:
    """The owners of a path: the last matching rule's (none when no rule matches, or it names none)."""
    found: tuple[str, ...] = ()
    for rule in rules:
        if rule.pattern.match(path):
            found = rule.owners
    return found


def read_codeowners(repo: Path, ref: str = "HEAD") -> list[Rule]:
    """The rules of the trusted commit's CODEOWNERS (the first GitHub would use), or none."""
    commit = git.resolve(repo, ref)
    if commit is None:
        return []
    tree = GitTree(repo, commit)  # listed lazily: only these paths are read (a sparse, partial clone fetches no more)
    for location in LOCATIONS:
        entry = tree.get(location)
        if entry is not None and entry.kind == "file" and not entry.missing and entry.size < MAX_BYTES:
            return parse(tree.read(entry).decode("utf-8", "replace"))
    return []


def server_owners(rules: list[Rule], name: str) -> tuple[str, ...]:
    """A server's owners: those of its directory's files (its app.py stands for them)."""
    return owners_of(rules, f"resources_servers/{name}/app.py")
