"""Find a server's reward-profiling evidence in the head commit, in the issue's order of preference.

(a) NeMo Gym's own profiling output, (b) a rollouts file (named in the body, else `*rollouts*.jsonl`
other than the 5-row example), (c) the body's own numbers (self-reported). Files are streamed under
their own size cap; a Git LFS pointer is "not in the repository".
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from gym_review_bot.evidence.claims import BodyClaims, resolve_named_file
from gym_review_bot.evidence.profiling import AGENT_SUFFIX, PROFILE_SUFFIX, merge_agent_metrics, profile_from_profiling
from gym_review_bot.evidence.rollouts import profile_rollouts
from gym_review_bot.models import Evidence
from gym_review_bot.sources import Entry, SourceTree

LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
EXAMPLE_ROLLOUTS = "data/example_rollouts.jsonl"
HOW_TO_ATTACH = (
    "commit NeMo Gym's reward-profiling output (`<stem>_reward_profiling.jsonl` and `<stem>_agent_metrics.json`, "
    "small), or a rollouts file under the cap, or link the full file in the PR description"
)


@dataclass
class Located:
    evidence: Evidence | None = None
    rollouts_file: str | None = None  # a rollouts file the evidence came from (GR408 replays it)
    problems: list[str] = field(default_factory=list)  # files that could not serve, and why


def _vet(tree: SourceTree, entry: Entry | None, path: str, max_bytes: int) -> str | None:
    """Why a file cannot serve as evidence, or None."""
    if entry is None:
        return f"{path} does not exist in the head commit"
    if entry.kind != "file":
        return f"{path} is a {entry.kind}, not a file (not followed)"
    if entry.size > max_bytes:
        return (
            f"{path} is {entry.size / 1024 / 1024:,.1f} MB, over the {max_bytes / 1024 / 1024:g} MB evidence cap "
            f"(--max-evidence-mb); {HOW_TO_ATTACH}"
        )
    if tree.read(entry, len(LFS_MAGIC)).startswith(LFS_MAGIC):
        return f"{path} is a Git LFS pointer: the evidence is not in the repository; {HOW_TO_ATTACH}"
    return None


def _profiling(tree: SourceTree, server_path: str, max_bytes: int, found: Located) -> Evidence | None:
    for entry in tree.walk(server_path):
        if not entry.path.endswith(PROFILE_SUFFIX):
            continue
        why = _vet(tree, entry, entry.path, max_bytes)
        if why:
            found.problems.append(why)
            continue
        with tree.stream(entry) as fh:
            evidence = profile_from_profiling(fh, entry.path)
        if not evidence.prompts:
            found.problems.append(f"{entry.path} holds no reward-profiling groups")
            continue
        agent_path = entry.path[: -len(PROFILE_SUFFIX)] + AGENT_SUFFIX
        agent = tree.get(agent_path)
        if agent is not None and _vet(tree, agent, agent_path, max_bytes) is None:
            merge_agent_metrics(evidence, tree.read(agent))
        return evidence
    return None


def _rollout_candidates(tree: SourceTree, server_path: str, claims: BodyClaims | None) -> list[str]:
    named = []
    for text in claims.named_files if claims else []:
        path = resolve_named_file(text, server_path)
        if path and path not in named:
            named.append(path)
    found = [
        e.path
        for e in tree.walk(server_path)
        if e.path.endswith(".jsonl")
        and "rollouts" in posixpath.basename(e.path)
        and "example" not in posixpath.basename(e.path)  # NeMo Gym's 5-row examples: example_rollouts_openqa.jsonl
        and not e.path.endswith(PROFILE_SUFFIX)
    ]
    return named + [p for p in found if p not in named]


def locate_evidence(tree: SourceTree, server_path: str, claims: BodyClaims | None, max_bytes: int) -> Located:
    found = Located()
    evidence = _profiling(tree, server_path, max_bytes, found)
    if evidence is None:
        for path in _rollout_candidates(tree, server_path, claims):
            entry = tree.get(path)
            why = _vet(tree, entry, path, max_bytes)
            if why or entry is None:
                found.problems.append(why or path)
                continue
            with tree.stream(entry) as fh:
                candidate = profile_rollouts(fh, path)
            if candidate.rollouts:
                evidence, found.rollouts_file = candidate, path
                break
            found.problems.append(f"{path} holds no usable rollouts")
    if evidence is None and claims is not None:
        evidence = claims.self_reported()
    if evidence is not None:
        evidence.notes += [f"Not used: {p}." for p in found.problems]
    found.evidence = evidence
    return found
