"""GR408: replay a seeded sample of attached rollouts against a server's /verify.

`sample_rollouts` picks the rows (reservoir sampling, seeded by the head SHA so a re-run picks the
same rows; one pass, 50 rows in memory); `sandbox_replay` sends them through the sandbox's replay
client (inside the server's network namespace) and `replay_lines` says per line whether the reward
reproduced, by the sandbox's rules (a reward that needed a model never matches).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gym_review_bot.sandbox.replay import ReplayResult, Rollout, read_rollouts
from gym_review_bot.sources import SourceTree

if TYPE_CHECKING:
    from gym_review_bot.sandbox.options import SandboxOptions

SAMPLE_SIZE = 50


@dataclass
class ReplayLine:
    line: int
    stored: float | None
    returned: float | None = None
    status: Literal["match", "mismatch", "error"] = "error"
    detail: str = ""


# What GR408 calls: the rollouts file's path in, one result per sampled line out.
ReplayEvidence = Callable[[str], "list[ReplayLine]"]


def sample_rollouts(
    tree: SourceTree, path: str, seed: str, keys: set[str] | None = None, size: int = SAMPLE_SIZE
) -> list[Rollout]:
    """Up to `size` usable rollouts of a file, the same ones for the same seed; unusable lines are never picked."""
    rng = random.Random(f"gym-review GR408 {seed} {path}")
    picked: list[Rollout] = []
    seen = 0
    for rollout in read_rollouts(tree, path, keys):
        if rollout.body is None or rollout.error:
            continue
        seen += 1
        if len(picked) < size:
            picked.append(rollout)
        else:
            slot = rng.randrange(seen)
            if slot < size:
                picked[slot] = rollout
    return sorted(picked, key=lambda r: r.line)


def replay_lines(results: list[ReplayResult]) -> list[ReplayLine]:
    """Each sampled line's stored reward against what the sandbox's /verify returned now."""
    lines = []
    for r in results:
        if r.model_calls:  # the sandbox's rule: a reward that needed a model is never a match
            lines.append(ReplayLine(r.line, r.stored, r.returned, detail="verify() called a model (stand-in)"))
        elif r.error is not None or r.returned is None:
            lines.append(ReplayLine(r.line, r.stored, detail=r.error or "no reward"))
        else:
            lines.append(ReplayLine(r.line, r.stored, r.returned, "match" if r.matches else "mismatch"))
    return lines


def sandbox_replay(tree: SourceTree, server_name: str, options: SandboxOptions, seed: str) -> ReplayEvidence:
    """A GR408 replay through the sandbox: boots the server (as the sandbox does) and replays the sample."""

    def replay(path: str) -> list[ReplayLine]:
        from gym_review_bot.sandbox.replay import input_keys
        from gym_review_bot.sandbox.runner import serving

        server_dir = f"resources_servers/{server_name}"
        sample = sample_rollouts(tree, path, seed, input_keys(tree, f"{server_dir}/data/example.jsonl"))
        if not sample:
            return []
        with serving(tree, server_name, options, hidden_files=[path]) as client:  # the evidence stays out
            client.start_deadline()
            return replay_lines(client.replay(sample, options.concurrency))

    return replay
