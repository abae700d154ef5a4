"""`--shard K/N`: a stable share of the servers, so N runners cover every server exactly once."""

from __future__ import annotations

import argparse
import re

from gym_review_bot.audit.models import Shard

MAX_SHARDS = 256  # GitHub Actions: a matrix generates at most 256 jobs per workflow run
_SPEC = re.compile(r"^([0-9]{1,4})/([0-9]{1,4})$")


def parse_shard(text: str) -> Shard:
    """K/N with 1 <= K <= N <= 256 (an argparse type: a bad value exits 2 naming the flag)."""
    match = _SPEC.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N (e.g. 3/16)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"{text!r}: N must be from 1 to {MAX_SHARDS} (GitHub's matrix limit)")
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be from 1 to N")
    return Shard(index=index, count=count)


def share(names: list[str], shard: Shard | None) -> list[str]:
    """The servers of one shard: names in sorted order dealt round-robin, so shards differ by at most one
    server and the same checkout always gives the same shares (no two shards overlap, none is left out)."""
    ordered = sorted(set(names))
    if shard is None:
        return ordered
    return [name for i, name in enumerate(ordered) if i % shard.count == shard.index - 1]


def shard_count(servers: int, wanted: int) -> int:
    """How many shards to run: at most one per server and at most GitHub's matrix limit; at least one."""
    return max(1, min(wanted, servers, MAX_SHARDS))
