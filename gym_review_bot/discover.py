"""Which resource servers a review covers: those a PR touches, or those named on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gym_review_bot import git
from gym_review_bot.errors import UsageError
from gym_review_bot.models import NotReviewed, ServerStatus
from gym_review_bot.sources import FsTree, GitTree, SourceTree

SERVERS_DIR = "resources_servers"
CONFIG_TYPES = "nemo_gym/config_types.py"  # NeMo Gym's Domain values and dataset licences (read at the merge base)
MAX_LISTED_FILES = 10


@dataclass
class ServerTarget:
    name: str
    status: ServerStatus

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

    @property
    def added(self) -> list[str]:
        """The servers the PR adds (all of them, also in a one-server matrix job): evidence is asked of these."""
        return [t.name for t in (self.pr_servers or self.servers) if t.status == "added"]


def is_server(tree: SourceTree, name: str) -> bool:
    """A server has app.py or configs/; anything else under resources_servers/ is a shared library."""
    path = f"{SERVERS_DIR}/{name}"
    return tree.get(f"{path}/app.py") is not None or tree.is_dir(f"{path}/configs")


def _not_a_server(name: str) -> str:
    return f"{SERVERS_DIR}/{name} has neither app.py nor configs/: a shared library, not a server; not checked."


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
    for change in git.changed_files(repo, base_sha, head_sha):
        parts = change.path.split("/")
        if parts[0] == SERVERS_DIR and len(parts) > 2:
            touched.add(parts[1])
        else:
            outside.append(change.path)
    for name in sorted(touched):
        _classify(found, name)
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


def _classify(found: Discovery, name: str) -> None:
    assert found.base is not None
    in_head = is_server(found.head, name)
    in_base = is_server(found.base, name)
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
    if names is None:
        if not tree.is_dir(SERVERS_DIR):
            raise UsageError(f"{root} has no {SERVERS_DIR}/ directory: is it a NeMo Gym checkout?")
        names = tree.subdirs(SERVERS_DIR)
        candidates = [n for n in names if not n.startswith((".", "__"))]
    else:
        candidates = []
        for name in names:
            if "/" in name or name in ("", ".", "..") or not tree.is_dir(f"{SERVERS_DIR}/{name}"):
                raise UsageError(f"--server {name}: no directory {SERVERS_DIR}/{name} in {root}")
            candidates.append(name)
    for name in candidates:
        if is_server(tree, name):
            found.servers.append(ServerTarget(name, "checked"))
        else:
            found.notes.append(_not_a_server(name))
    return found
