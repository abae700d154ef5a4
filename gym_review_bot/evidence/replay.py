"""GR408: replay a seeded sample of attached rollouts against a server's /verify.

`sample_rollouts` picks the rows (reservoir sampling, seeded by the head SHA so a re-run picks the
same rows; one pass, 50 rows in memory); `replay_sample` sends them through any `verify(body)`
callable -- the sandbox's `VerifyClient.verify` inside the server's network -- and says per line
whether the reward reproduced.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gym_review_bot.sandbox.replay import TOLERANCE, Rollout, read_rollouts
from gym_review_bot.sources import SourceTree

if TYPE_CHECKING:
    from gym_review_bot.sandbox.options import SandboxOptions

SAMPLE_SIZE = 50
# (reward, error, aborted) of one /verify request: the shape of sandbox.replay.VerifyClient.verify
Verify = Callable[[dict[str, Any]], tuple[float | None, str | None, bool]]


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


def replay_sample(rollouts: list[Rollout], verify: Verify, concurrency: int = 4) -> list[ReplayLine]:
    """Each sampled line's stored reward against what /verify returns now."""

    def one(rollout: Rollout) -> ReplayLine:
        reward, error, _aborted = verify(rollout.body or {})
        if error is not None or reward is None:
            return ReplayLine(rollout.line, rollout.reward, detail=error or "no reward")
        same = rollout.reward is not None and abs(reward - rollout.reward) <= TOLERANCE
        return ReplayLine(rollout.line, rollout.reward, reward, "match" if same else "mismatch")

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="gr408") as pool:
        return list(pool.map(one, rollouts))


def sandbox_replay(tree: SourceTree, server_name: str, options: SandboxOptions, seed: str) -> ReplayEvidence:
    """A GR408 replay through the sandbox: boots the server (as the sandbox does) and replays the sample."""

    def replay(path: str) -> list[ReplayLine]:
        from gym_review_bot.sandbox.replay import VerifyClient, input_keys
        from gym_review_bot.sandbox.runner import serving

        server_dir = f"resources_servers/{server_name}"
        sample = sample_rollouts(tree, path, seed, input_keys(tree, f"{server_dir}/data/example.jsonl"))
        if not sample:
            return []
        with serving(tree, server_name, options) as url:
            client = VerifyClient(url, options.concurrency, options.request_timeout)
            try:
                return replay_sample(sample, client.verify, options.concurrency)
            finally:
                client.close()

    return replay
