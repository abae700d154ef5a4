"""Find a server's reward-profiling evidence in the head commit, in the issue's order of preference.

(a) NeMo Gym's own profiling output (`*_reward_profiling.jsonl`), (b) a rollouts file (named in the body,
else `*rollouts*.jsonl`), (c) the body's own numbers (self-reported). Which files are *examples* (never
evidence) is decided by one rule, `is_example`: a file named like an example (`example` in its name:
`example_rollouts_reward_profiling.jsonl`, `structeval_nonrenderable_example_rollouts.jsonl`) or with no
more rows than the registry's example count is an example, unless the PR description names it as the
profile. Files are streamed under their own size cap; a Git LFS pointer is "not in the repository".
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from gym_review_bot.checks.context import LFS_POINTER, file_problem
from gym_review_bot.config import Policy
from gym_review_bot.evidence.claims import BodyClaims, resolve_named_file
from gym_review_bot.evidence.profiling import AGENT_SUFFIX, PROFILE_SUFFIX, merge_agent_metrics, profile_from_profiling
from gym_review_bot.evidence.rollouts import MAX_LINE_BYTES, profile_rollouts
from gym_review_bot.models import Evidence
from gym_review_bot.safeload import bounded_lines
from gym_review_bot.sources import Entry, SourceTree

EXAMPLE_WORD = "example"
STANDARD_EXAMPLE = "/data/example_rollouts.jsonl"  # every server's own: never worth a note
HOW_TO_ATTACH = (
    "commit NeMo Gym's reward-profiling output (`<stem>_reward_profiling.jsonl` and `<stem>_agent_metrics.json`, "
    "small), or a rollouts file under the cap, or link the full file in the PR description"
)


@dataclass
class Located:
    evidence: Evidence | None = None
    rollouts_file: str | None = None  # a rollouts file the evidence came from (GR408 replays it)
    problems: list[str] = field(default_factory=list)  # files that could not serve, and why
    examples: list[str] = field(default_factory=list)  # files taken as examples, not evidence, and why


def _vet(tree: SourceTree, entry: Entry | None, path: str, max_bytes: int) -> str | None:
    """Why a file cannot serve as evidence, or None: the checks' own vetting (checks/context.file_problem), on
    the evidence cap; the content is streamed by its reader, so only a Git LFS pointer is looked for in it."""
    if entry is None:
        return f"{path} does not exist in the head commit"
    if entry.kind != "file":
        return f"{path} is a {entry.kind}, not a file (not followed)"
    why = file_problem(tree, entry, max_bytes, "evidence cap (--max-evidence-mb)", text=False)
    if why == LFS_POINTER:
        return f"{path} {why}: the evidence is not in the repository; {HOW_TO_ATTACH}"
    if why and not entry.missing:
        return f"{path} {why}; {HOW_TO_ATTACH}"
    return why


def example_rows(policy: Policy) -> int:
    """The registry's example count: a file with no more rows is an example, not a reward profile."""
    return max(policy.examples.rows, policy.rollouts.rows)


def example_name(path: str) -> bool:
    """Named like an example: `example` anywhere in the file name (`example_rollouts_openqa.jsonl`,
    `example_rollouts_reward_profiling.jsonl`, `structeval_nonrenderable_example_rollouts.jsonl`)."""
    return EXAMPLE_WORD in posixpath.basename(path).lower()


def rows_at_most(tree: SourceTree, entry: Entry, limit: int) -> bool:
    """Whether the file holds at most `limit` non-blank lines (read only until it holds more)."""
    rows = 0
    with tree.stream(entry) as fh:
        for _, raw in bounded_lines(fh, MAX_LINE_BYTES):
            if raw is None or raw.strip():
                rows += 1
                if rows > limit:
                    return False
    return True


def is_example(tree: SourceTree, entry: Entry, example_rows: int, named: set[str]) -> str | None:
    """Why a file is an example and not a reward profile (None: it may be one). The one rule: a file the PR
    description names is the profile; else a file named like an example, or holding no more rows than the
    registry's example count, is an example (five rows are not a sample)."""
    if entry.path in named:
        return None
    if example_name(entry.path):
        return f"{entry.path} is named as an example"
    if rows_at_most(tree, entry, example_rows):
        return f"{entry.path} holds no more rows than the {example_rows} examples"
    return None


def _usable(
    tree: SourceTree, path: str, max_bytes: int, example_rows: int, named: set[str], found: Located
) -> Entry | None:
    """The file's entry when it may serve as evidence; else None, with why (a problem, or an example)."""
    entry = tree.get(path)
    if path not in named and example_name(path):  # decided by the name alone: nothing read
        if not path.endswith(STANDARD_EXAMPLE):
            found.examples.append(f"{path} is named as an example")
        return None
    why = _vet(tree, entry, path, max_bytes)
    if why or entry is None:
        found.problems.append(why or path)
        return None
    example = is_example(tree, entry, example_rows, named)
    if example:
        found.examples.append(example)
        return None
    return entry


def _named(claims: BodyClaims | None, server_path: str) -> list[str]:
    named: list[str] = []
    for text in claims.named_files if claims else []:
        path = resolve_named_file(text, server_path)
        if path and path not in named:
            named.append(path)
    return named


def _profiling(
    tree: SourceTree, server_path: str, max_bytes: int, example_rows: int, named: set[str], found: Located
) -> Evidence | None:
    for entry in tree.walk(server_path):
        if not entry.path.endswith(PROFILE_SUFFIX):
            continue
        if _usable(tree, entry.path, max_bytes, example_rows, named, found) is None:
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


def _rollout_candidates(tree: SourceTree, server_path: str, named: list[str]) -> list[str]:
    found = [
        e.path
        for e in tree.walk(server_path)
        if e.path.endswith(".jsonl")
        and "rollouts" in posixpath.basename(e.path)
        and not e.path.endswith(PROFILE_SUFFIX)
    ]
    return named + [p for p in found if p not in named]


def locate_evidence(
    tree: SourceTree, server_path: str, claims: BodyClaims | None, max_bytes: int, example_rows: int = 5
) -> Located:
    """The server's reward profile: files first (examples left out by `is_example`), then the body's numbers."""
    found = Located()
    named = _named(claims, server_path)
    evidence = _profiling(tree, server_path, max_bytes, example_rows, set(named), found)
    if evidence is None:
        for path in _rollout_candidates(tree, server_path, named):
            entry = _usable(tree, path, max_bytes, example_rows, set(named), found)
            if entry is None:
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
        evidence.notes += [f"Not used: {e} (an example, not a reward profile)." for e in found.examples]
    found.evidence = evidence
    return found
