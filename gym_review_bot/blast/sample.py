"""A PR's blast radius and its bounded, deterministic sample: which servers import what it changes, and which of
them are reviewed.

The sample takes up to `github.audit_sample` affected servers: those whose example rollouts can be replayed
without a model first (their config names no model server for the resources server, or their rollouts carry a
recorded judge), then, in each of those two groups, the servers importing the most changed modules, ties by
name. Servers the PR adds or changes itself are reviewed as such, never sampled.
"""

from __future__ import annotations

import yaml

from gym_review_bot.blast.affected import Reach, affected, changed_paths, changed_shared
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.discover import SERVERS_DIR, Discovery
from gym_review_bot.git import GitError
from gym_review_bot.models import AffectedServer, BlastRadius
from gym_review_bot.safeload import UnsafeInput, iter_jsonl, load_yaml_strict
from gym_review_bot.sandbox._recorded_judge import recording_of
from gym_review_bot.sandbox.server_config import SERVER_TYPES
from gym_review_bot.sources import SourceTree

MAX_ROW_BYTES = 4 * 1024 * 1024  # the first rollout row is read for those keys; a longer one is not replayable
MAX_CONFIG_BYTES = 1024 * 1024  # a config over this is not read here (the sandbox's own reader decides)


def recorded_judge(tree: SourceTree, name: str) -> bool:
    """Whether the server's example rollouts carry a recorded judge in a layout the replay reads (their first row
    tells; sandbox/_recorded_judge.py, which the replay's stand-ins answer from)."""
    entry = tree.get(f"{SERVERS_DIR}/{name}/data/example_rollouts.jsonl")
    if entry is None or entry.kind != "file" or entry.missing:
        return False
    try:
        with tree.stream(entry) as fh:
            for row in iter_jsonl(fh, MAX_ROW_BYTES):
                return recording_of(row.value) is not None
    except (GitError, OSError):
        return False
    return False


def names_a_server(value: object, itself: str) -> bool:
    """Whether a config value holds a `{type: <server type>, name: ...}` reference to a server other than
    `itself` (a model the replay needs), as the sandbox's config counts its stand-ins."""
    if isinstance(value, dict):
        name = value.get("name")
        if value.get("type") in SERVER_TYPES and isinstance(name, str) and name != itself:
            return True
        return any(names_a_server(child, itself) for child in value.values())
    return isinstance(value, list) and any(names_a_server(child, itself) for child in value)


def resources_entries(tree: SourceTree, name: str) -> list[tuple[str, object]] | None:
    """(top-level name, body) of the `resources_servers` entries of the server's configs/*.yaml, its own config's
    first; None when one of them cannot be read. A quick look for the ranking, not the sandbox's full read (GR100's
    vetting of every file of the server: a git process a file, most of `plan`'s time): the sandbox decides what
    boots."""
    entries: list[tuple[bool, str, object]] = []
    for entry in tree.walk(f"{SERVERS_DIR}/{name}/configs"):
        if not entry.path.endswith((".yaml", ".yml")) or entry.path.count("/") != 3:
            continue
        if entry.kind != "file" or entry.missing or entry.size > MAX_CONFIG_BYTES:
            return None
        try:
            docs, duplicate = load_yaml_strict(tree.read(entry).decode("utf-8"))
        except (UnsafeInput, ValueError, yaml.YAMLError, GitError, RecursionError):
            return None
        if duplicate is not None or len(docs) != 1 or not isinstance(docs[0], dict):
            return None
        own = entry.path.endswith((f"/{name}.yaml", f"/{name}.yml"))
        for top, section in docs[0].items():
            servers = section.get("resources_servers") if isinstance(section, dict) else None
            entries += [(not own, str(top), body) for body in servers.values()] if isinstance(servers, dict) else []
    return [(top, body) for _, top, body in sorted(entries, key=lambda e: e[0])]


def replayable(tree: SourceTree, name: str) -> bool:
    """Whether the server's example rollouts can be replayed without a model: its resources-server entry names no
    other server (a model), or its rollouts carry a recorded judge. Configs that cannot be read are not."""
    entries = resources_entries(tree, name)
    if not entries:
        return False
    try:
        needs_model = names_a_server(entries[0][1], entries[0][0])
    except RecursionError:
        return False
    return not needs_model or recorded_judge(tree, name)


def ranked(reach: dict[str, Reach], tree: SourceTree, size: int, own: set[str]) -> list[AffectedServer]:
    """The affected servers in sample order: the first `size` replayable ones of the others than `own` (most
    changed modules first, ties by name), then the rest in that order. Whether a server is replayable is looked up
    only until the sample is full (its config is read): past that it is left unknown (None)."""
    order = sorted(reach.values(), key=lambda r: (-len(r.modules), r.server))
    servers = [AffectedServer(name=r.server, modules=sorted(r.modules), cut_short=r.cut_short) for r in order]
    found = 0
    for server in servers:
        if found < size and server.name not in own:  # the PR's own servers are reviewed as such, never sampled
            server.replayable = replayable(tree, server.name)
            found += server.replayable
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
    order = ranked(reach, found.base, size, own)  # the merge base's configs: the sampled servers are not the PR's
    names = [s.name for s in order if s.name not in own]
    return BlastRadius(
        modules=modules,
        affected=order,
        sample_size=size,
        sampled=names[:size],
        not_sampled=names[size:],
        in_pr=[s.name for s in order if s.name in own],
    )
