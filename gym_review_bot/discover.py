"""Which resource servers a review covers: those a PR touches, or those named on the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gym_review_bot import git
from gym_review_bot.errors import UsageError
from gym_review_bot.models import NotReviewed, ServerStatus
from gym_review_bot.renames import find_renames
from gym_review_bot.sources import FsTree, GitTree, SourceTree

SERVERS_DIR = "resources_servers"
CONFIG_TYPES = "nemo_gym/config_types.py"  # NeMo Gym's Domain values and dataset licences (read at the merge base)
MAX_LISTED_FILES = 10


@dataclass
class ServerTarget:
    name: str
    status: ServerStatus
    renamed_from: str | None = None  # a rename (status `changed`): the server's name at the merge base
    reworked: bool = False  # a rename that also changed data/ or verify()'s module: GR118 and evidence apply

    @property
    def path(self) -> str:
        return f"{SERVERS_DIR}/{self.name}"


@dataclass
class Discovery:
    head: SourceTree
    base: SourceTree | None = None  # the merge base, in PR mode
    head_sha: str | None = None
    base_sha: str | None = None
    servers: list[ServerTarget] = field(default_factory=list)  # the servers reviewed
    notes: list[str] = field(default_factory=list)
    pr_servers: list[ServerTarget] | None = None  # every server the PR touches, when only some are reviewed
    not_reviewed: list[NotReviewed] = field(default_factory=list)  # touched, but not servers (libraries)
    _changes: list[git.Change] | None = field(default=None, init=False, repr=False, compare=False)  # changes()

    def changes(self) -> list[git.Change]:
        """The files the PR changes (git diff of the merge base and the head, renames split into delete + add),
        listed once; none outside PR mode."""
        if self._changes is None:
            self._changes = []
            if self.base is not None and isinstance(self.head, GitTree) and self.base_sha and self.head_sha:
                self._changes = git.changed_files(self.head.repo, self.base_sha, self.head_sha)
        return self._changes

    @property
    def added(self) -> list[str]:
        """The servers the PR adds (all of them, also in a one-server matrix job), and the renames that changed
        data/ or verify()'s module: evidence is asked of these."""
        return [t.name for t in (self.pr_servers or self.servers) if t.status == "added" or t.reworked]


def is_server(tree: SourceTree, name: str) -> bool:
    """A server has app.py or configs/ (of any kind: a linked configs/ is the server's, and GR100 says so); a
    symlink or a submodule where a server belongs is reviewed as one (GR100 fails it). Any other directory
    under resources_servers/ is a shared library."""
    path = f"{SERVERS_DIR}/{name}"
    if _linked(tree, name) is not None:
        return True
    return (
        tree.get(f"{path}/app.py") is not None
        or tree.is_dir(f"{path}/configs")
        or tree.get(f"{path}/configs") is not None
    )


def _linked(tree: SourceTree, name: str) -> str | None:
    """ "symlink" or "submodule" when resources_servers/<name> itself is one, else None."""
    entry = tree.get(f"{SERVERS_DIR}/{name}")
    return entry.kind if entry is not None and entry.kind in ("symlink", "submodule") else None


def _is_file(tree: SourceTree, name: str) -> bool:
    entry = tree.get(f"{SERVERS_DIR}/{name}")
    return entry is not None and entry.kind == "file"


def _not_a_server(name: str) -> str:
    return f"{SERVERS_DIR}/{name} has neither app.py nor configs/: a shared library, not a server; not checked."


def _files_note(names: list[str]) -> str:
    paths = ", ".join(f"{SERVERS_DIR}/{n}" for n in names)
    return f"{paths}: {'a file' if len(names) == 1 else 'files'}, not a server directory; not reviewed."


def discover_pr(repo: Path, base_ref: str, head_ref: str = "HEAD") -> Discovery:
    """Servers added, changed or removed between the merge base of BASE and HEAD, and HEAD."""
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    if not git.is_repo(repo):
        raise UsageError(f"--repo {repo}: not a git repository (--all or --server work without git)")
    head_sha = git.resolve(repo, head_ref)
    if head_sha is None:
        raise UsageError(f"--head {head_ref}: unknown revision in {repo}")
    base_tip = git.resolve(repo, base_ref)
    if base_tip is None:
        raise UsageError(f"--base {base_ref}: unknown revision in {repo} (fetch it first?)")
    base_sha = git.merge_base(repo, base_tip, head_sha)
    if base_sha is None:
        if git.is_shallow(repo):
            raise UsageError(
                f"no merge base of {base_ref} and {head_ref}: this is a shallow clone. Fetch full "
                "history (actions/checkout with `fetch-depth: 0`, or `git fetch --unshallow`)."
            )
        raise UsageError(f"{base_ref} and {head_ref} have no common history")
    found = Discovery(GitTree(repo, head_sha), GitTree(repo, base_sha), head_sha, base_sha)
    touched: set[str] = set()
    outside: list[str] = []
    for change in found.changes():
        parts = change.path.split("/")
        if parts[0] == SERVERS_DIR and len(parts) > 1:  # a file, link or submodule at resources_servers/<name> too
            touched.add(parts[1])
        else:
            outside.append(change.path)
    for name in sorted(touched):
        _classify(found, name)
    _pair_renames(found, repo)
    files = [n for n in sorted(touched) if _is_file(found.head, n) or (_is_file(found.base, n) and not _in(found, n))]
    if files:
        found.notes.append(_files_note(files))
    if outside:
        shown = ", ".join(outside[:MAX_LISTED_FILES])
        more = f" and {len(outside) - MAX_LISTED_FILES} more" if len(outside) > MAX_LISTED_FILES else ""
        found.notes.append(
            f"{len(outside)} changed file(s) outside {SERVERS_DIR}/<name>/ (not reviewed): {shown}{more}."
        )
    _note_policy_change(found, outside)
    if not touched:
        found.notes.append(f"The PR touches no {SERVERS_DIR}/<name>/ directory.")
    return found


def _pair_renames(found: Discovery, repo: Path) -> None:
    """A removed server whose files mostly reappear under an added one: the added one is that server, renamed."""
    assert found.base is not None and found.base_sha and found.head_sha
    removed = [t.name for t in found.servers if t.status == "removed"]
    added = [t.name for t in found.servers if t.status == "added"]
    for rename in find_renames(repo, found.base_sha, found.head_sha, found.base, found.head, removed, added):
        gone = f"{SERVERS_DIR}/{rename.old} is removed by this PR; removed servers are not checked."
        found.notes = [n for n in found.notes if n != gone] + [rename.note()]
        found.servers = [t for t in found.servers if t.name != rename.old]
        for target in found.servers:
            if target.name == rename.new:
                target.status, target.renamed_from, target.reworked = "changed", rename.old, bool(rename.reworked)


def select_servers(found: Discovery, names: list[str]) -> None:
    """PR mode for some servers (a matrix job): only the named ones among those the PR adds or changes."""
    touched = {t.name for t in found.servers}
    missing = [n for n in dict.fromkeys(names) if n not in touched]
    if missing:
        raise UsageError(
            f"--server {missing[0]}: this PR does not add, change or remove {SERVERS_DIR}/{missing[0]}"
            + (f" (it touches: {', '.join(sorted(touched))})" if touched else " (it touches no server)")
        )
    found.pr_servers = list(found.servers)
    found.servers = [t for t in found.servers if t.name in names]
    others = sorted(touched - set(names))
    if others:
        found.notes.append(
            f"Only {', '.join(sorted(set(names)))} reviewed here; the PR also touches {', '.join(others)}."
        )


def _note_policy_change(found: Discovery, changed_outside: list[str]) -> None:
    if CONFIG_TYPES in changed_outside:
        found.notes.append(
            f"This PR changes {CONFIG_TYPES}; the merge base's Domain values and licences are used; "
            "the change takes effect after merge."
        )


def _in(found: Discovery, name: str) -> bool:
    return any(t.name == name for t in found.servers)


def _classify(found: Discovery, name: str) -> None:
    """What the PR did at resources_servers/<name>, whatever git object is there: a report entry or a note."""
    assert found.base is not None
    path = f"{SERVERS_DIR}/{name}"
    in_head = is_server(found.head, name)
    in_base = is_server(found.base, name)
    if _is_file(found.head, name):
        found.not_reviewed.append(NotReviewed(path=path, kind="file"))
        if in_base:  # a server the PR replaces with a plain file: removed
            found.servers.append(ServerTarget(name, "removed"))
            found.notes.append(f"{path} is removed by this PR (a plain file takes its place); not checked.")
        return
    if not in_head and _linked(found.base, name) is not None:  # a link or submodule the PR removes
        kind = _linked(found.base, name)
        found.notes.append(f"{path}, a {kind} at the merge base, is removed by this PR; not reviewed.")
        found.not_reviewed.append(NotReviewed(path=path, kind=kind))  # type: ignore[arg-type]
        return
    if not in_head and not in_base and _is_file(found.base, name):
        found.not_reviewed.append(NotReviewed(path=path, kind="file"))
        return
    if in_head:
        found.servers.append(ServerTarget(name, "changed" if in_base else "added"))
    elif in_base:
        found.servers.append(ServerTarget(name, "removed"))
        found.notes.append(f"{SERVERS_DIR}/{name} is removed by this PR; removed servers are not checked.")
    else:
        found.notes.append(_not_a_server(name))
        found.not_reviewed.append(NotReviewed(path=f"{SERVERS_DIR}/{name}", kind="library"))


def discover_local(root: Path, names: list[str] | None) -> Discovery:
    """The named servers (or, with names None, every server) of a plain directory; no git needed."""
    if not root.is_dir():
        raise UsageError(f"--repo {root}: no such directory")
    tree = FsTree(root)
    found = Discovery(tree)
    if names is None:  # --all: every entry of resources_servers/ is reviewed or named in a note
        if not tree.is_dir(SERVERS_DIR):
            raise UsageError(f"{root} has no {SERVERS_DIR}/ directory: is it a NeMo Gym checkout?")
        candidates = sorted(os.listdir(root / SERVERS_DIR))
        files = [n for n in candidates if _is_file(tree, n)]
        if files:
            found.notes.append(_files_note(files))
            found.not_reviewed += [NotReviewed(path=f"{SERVERS_DIR}/{n}", kind="file") for n in files]
        candidates = [n for n in candidates if n not in files]
    else:
        candidates = []
        for name in names:
            where = f"{SERVERS_DIR}/{name}"
            if "/" in name or name in ("", ".", "..") or not (tree.is_dir(where) or _linked(tree, name)):
                raise UsageError(f"--server {name}: no directory {SERVERS_DIR}/{name} in {root}")
            candidates.append(name)
    for name in candidates:
        if is_server(tree, name):
            found.servers.append(ServerTarget(name, "checked"))
        elif tree.is_dir(f"{SERVERS_DIR}/{name}"):
            found.notes.append(_not_a_server(name))
            if names is None:
                found.not_reviewed.append(NotReviewed(path=f"{SERVERS_DIR}/{name}", kind="library"))
    return found
