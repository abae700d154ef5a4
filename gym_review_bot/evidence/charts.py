"""PNG charts of a report's evidence (for workflow artifacts); matplotlib is imported only here."""

from __future__ import annotations

from pathlib import Path

from gym_review_bot.models import HistogramBin, Report

SAFE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def safe_name(name: str) -> str:
    """A file name from a server name (PR text): letters, digits, `_` and `-` only, never empty or hidden."""
    cleaned = "".join(ch if ch in SAFE_CHARS else "_" for ch in name)[:100]
    return cleaned or "server"


def _bar_png(path: Path, bins: list[HistogramBin], title: str, xlabel: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        labels = [b.label for b in bins]
        counts = [b.count for b in bins]
        bars = ax.bar(range(len(bins)), counts, color="#76b900")
        ax.set_xticks(range(len(bins)), labels, rotation=30 if len(bins) > 6 else 0)
        ax.bar_label(bars, counts)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def _line_png(path: Path, points: list[tuple[float, float]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        ax.plot([p[0] for p in points], [p[1] for p in points], color="#76b900", marker="." if len(points) < 60 else "")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def write_charts(report: Report, directory: Path) -> list[Path]:
    """The reward histogram, the per-prompt pass rates and (when its points are attached) the training curve."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for server in report.servers:
        ev = server.evidence
        if ev is None:
            continue
        stem = safe_name(server.name)
        note = " (self-reported)" if ev.self_reported else ""
        if ev.reward_histogram:
            path = directory / f"{stem}_reward_histogram.png"
            _bar_png(path, ev.reward_histogram, f"{stem}: reward distribution{note}", "reward", "rollouts")
            written.append(path)
        if ev.pass_rate_histogram and any(b.count for b in ev.pass_rate_histogram):
            path = directory / f"{stem}_pass_rates.png"
            _bar_png(path, ev.pass_rate_histogram, f"{stem}: per-prompt pass rate", "pass rate", "prompts")
            written.append(path)
        if ev.training_curve:
            path = directory / f"{stem}_training_curve.png"
            _line_png(path, [(p.step, p.value) for p in ev.training_curve], f"{stem}: training accuracy")
            written.append(path)
    return written
