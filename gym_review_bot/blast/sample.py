"""A PR's blast radius and its bounded, deterministic sample: which servers import what it changes, and which of
them are reviewed.

The sample takes up to `github.audit_sample` affected servers: those whose example rollouts can be replayed
without a model first (their config names no model server for the resources server, or their rollouts carry a
recorded judge), then, in each of those two groups, the servers importing the most changed modules, ties by
name. Servers the PR adds or changes itself are reviewed as such, never sampled.
"""

from __future__ import annotations

from gym_review_bot.blast.affected import Reach, affected, changed_paths, changed_shared
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.discover import SERVERS_DIR, Discovery
from gym_review_bot.git import GitError
from gym_review_bot.models import AffectedServer, BlastRadius
from gym_review_bot.safeload import iter_jsonl
from gym_review_bot.sandbox.server_config import load_server_config
from gym_review_bot.sources import SourceTree

RECORDED_JUDGE_KEYS = ("judge_evaluations",)  # rollouts carrying their judge's answers (issue 20 replays them)
MAX_ROW_BYTES = 4 * 1024 * 1024  # the first rollout row is read for those keys; a longer one is not replayable


def recorded_judge(tree: SourceTree, name: str) -> bool:
    """Whether the server's example rollouts carry a recorded judge (their first row tells)."""
    entry = tree.get(f"{SERVERS_DIR}/{name}/data/example_rollouts.jsonl")
    if entry is None or entry.kind != "file" or entry.missing:
        return False
    try:
        with tree.stream(entry) as fh:
            for row in iter_jsonl(fh, MAX_ROW_BYTES):
                return isinstance(row.value, dict) and any(key in row.value for key in RECORDED_JUDGE_KEYS)
    except (GitError, OSError):
        return False
    return False


def replayable(tree: SourceTree, name: str) -> bool:
    """Whether the server's example rollouts can be replayed without a model: its config names no model server
    for the resources server, or its rollouts carry a recorded judge. A config that cannot be booted is not."""
    config = load_server_config(tree, f"{SERVERS_DIR}/{name}", name)
    if config.error:
        return False
    return not config.dependencies or recorded_judge(tree, name)


def ranked(reach: dict[str, Reach], tree: SourceTree, size: int, own: set[str]) -> list[AffectedServer]:
    """The affected servers in sample order: the first `size` replayable ones of the others than `own` (most
    changed modules first, ties by name), then the rest in that order. Whether a server is replayable is looked up
    only until the sample is full (its config is read): past that it is left unknown (None)."""
    order = sorted(reach.values(), key=lambda r: (-len(r.modules), r.server))
    servers = [AffectedServer(name=r.server, modules=sorted(r.modules), cut_short=r.cut_short) for r in order]
    found = 0
    for server in servers:
        if found < size:
            server.replayable = replayable(tree, server.name)
            found += server.replayable and server.name not in own
    return sorted(servers, key=lambda s: (s.replayable is not True, -len(s.modules), s.name))


def find_radius(found: Discovery, size: int, changed: list[str] | None = None) -> BlastRadius | None:
    """The PR's reach (at the merge base and the head) and its sample; None when it changes no shared code."""
    if found.base is None:
        return None
    changed = changed_paths(found) if changed is None else changed
    modules = changed_shared(found, changed)
    if not modules:
        return None
    servers = found.head.subdirs(SERVERS_DIR)
    reach = affected([Checkout(found.base), Checkout(found.head)], modules, servers)
    own = {t.name for t in (found.pr_servers or found.servers)}
    order = ranked(reach, found.head, size, own)
    names = [s.name for s in order if s.name not in own]
    return BlastRadius(
        modules=modules,
        affected=order,
        sample_size=size,
        sampled=names[:size],
        not_sampled=names[size:],
        in_pr=[s.name for s in order if s.name in own],
    )
