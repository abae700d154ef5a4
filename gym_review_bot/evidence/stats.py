"""The numbers a reward profile is judged by, computed in one pass over rewards grouped by prompt."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gym_review_bot.models import HistogramBin, ToolCallMetrics

PASS_REWARD = 1.0  # a response passes when its reward is at least 1 (NeMo Gym's "correct")
REWARD_BINS = 10
MAX_DISTINCT_AS_BARS = 11  # up to this many distinct rewards: one bar per value
EPS = 1e-12


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def std(values: Sequence[float]) -> float | None:
    """Population standard deviation (what a reward distribution has, not an estimate)."""
    m = mean(values)
    if m is None:
        return None
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / len(values))


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None when either side has no variance (or there are fewer than two pairs)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx <= EPS or syy <= EPS:
        return None
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _label(value: float) -> str:
    return f"{value:.4g}"


def histogram(values: Sequence[float]) -> list[HistogramBin]:
    """Bars of a reward distribution: one per value when few are distinct, else ten equal bins."""
    if not values:
        return []
    distinct = sorted(set(values))
    if len(distinct) <= MAX_DISTINCT_AS_BARS:
        counts = {v: 0 for v in distinct}
        for v in values:
            counts[v] += 1
        return [HistogramBin(label=_label(v), low=v, high=v, count=c) for v, c in counts.items()]
    low, high = (0.0, 1.0) if distinct[0] >= 0 and distinct[-1] <= 1 else (distinct[0], distinct[-1])
    width = (high - low) / REWARD_BINS
    counts_list = [0] * REWARD_BINS
    for v in values:
        counts_list[min(REWARD_BINS - 1, int((v - low) / width))] += 1
    bins = []
    for i, c in enumerate(counts_list):
        lo, hi = low + i * width, low + (i + 1) * width
        bins.append(HistogramBin(label=f"{_label(lo)}-{_label(hi)}", low=lo, high=hi, count=c))
    return bins


# Per-prompt pass rates: the two ends (no signal for GRPO) apart from the middle.
PASS_RATE_BINS = [(0.0, 0.0, "0"), (0.0, 0.25, "0-0.25"), (0.25, 0.5, "0.25-0.5"), (0.5, 0.75, "0.5-0.75")]
PASS_RATE_BINS += [(0.75, 1.0, "0.75-1"), (1.0, 1.0, "1")]


def pass_rate_histogram(rates: Iterable[float]) -> list[HistogramBin]:
    counts = [0] * len(PASS_RATE_BINS)
    for r in rates:
        if r <= 0:
            counts[0] += 1
        elif r >= 1:
            counts[5] += 1
        else:
            counts[1 + min(3, int(r * 4))] += 1
    pairs = zip(PASS_RATE_BINS, counts, strict=True)
    return [HistogramBin(label=lab, low=lo, high=hi, count=c) for (lo, hi, lab), c in pairs]


@dataclass
class PromptGroup:
    rewards: array = field(default_factory=lambda: array("d"))

    @property
    def zero_variance(self) -> bool:
        return max(self.rewards) - min(self.rewards) <= EPS if self.rewards else True

    @property
    def pass_rate(self) -> float:
        return sum(1 for r in self.rewards if r >= PASS_REWARD) / len(self.rewards) if self.rewards else 0.0


@dataclass
class ToolTally:
    """Per rollout: tool calls made and how many failed, beside the reward."""

    calls: array = field(default_factory=lambda: array("d"))
    rewards: array = field(default_factory=lambda: array("d"))
    failed: int = 0

    def metrics(self) -> ToolCallMetrics:
        total = math.fsum(self.calls)
        return ToolCallMetrics(
            calls_per_rollout=mean(self.calls),
            failed_call_share=(self.failed / total) if total else 0.0,
            reward_correlation=pearson(self.calls, self.rewards),
        )
