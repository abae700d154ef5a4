"""The audit's progress: a rich progress bar with an ETA on a terminal, plain lines in CI and in logs.

Server names come from the audited checkout: they are shown with control characters spelled out and
can never act as a GitHub Actions workflow command.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO

from gym_review_bot.audit.models import ServerAudit
from gym_review_bot.audit.run import Progress
from gym_review_bot.render.safety import escape_terminal, neutralise_commands


def _outcome(entry: ServerAudit) -> str:
    carried = ", carried over" if entry.carried else ""
    took = f" in {entry.wall_s:.1f} s" if entry.wall_s is not None and not entry.carried else ""
    return f"{entry.verdict}{carried}{took}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class PlainProgress:
    """One line per server: `[3/114] name: pass in 12.3 s (ETA 4 min 10 s)`."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.total = 0
        self.count = 0
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        self.total, self.count, self.started = total, 0, time.monotonic()
        print(f"gym-review audit: {total} server(s) to audit", file=self.stream, flush=True)

    def done(self, entry: ServerAudit) -> None:
        self.count += 1
        elapsed = time.monotonic() - self.started
        left = self.total - self.count
        eta = f" (ETA {_duration(elapsed / self.count * left)})" if left else ""
        name = escape_terminal(entry.name)
        line = f"[{self.count}/{self.total}] {name}: {_outcome(entry)}{eta}"
        print(neutralise_commands(line), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A progress bar with the count, elapsed time and ETA; the last server's outcome as its description."""

    def __init__(self, stream: IO[str]):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.task = None

    def start(self, total: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task("auditing", total=total)

    def done(self, entry: ServerAudit) -> None:
        from rich.markup import escape

        text = escape(f"{escape_terminal(entry.name)}: {_outcome(entry)}")
        self.bar.update(self.task, advance=1, description=text)

    def close(self) -> None:
        self.bar.stop()


def make_progress(stream: IO[str] | None = None, quiet: bool = False) -> Progress:
    """Rich on an interactive terminal, plain lines when the output is a file or a CI log."""
    stream = stream or sys.stderr
    if quiet:
        return _Silent()
    in_ci = os.environ.get("CI") or os.environ.get("GITHUB_ACTIONS") == "true"
    if stream.isatty() and not in_ci and os.environ.get("TERM") != "dumb":
        return RichProgress(stream)
    return PlainProgress(stream)


class _Silent:
    def start(self, total: int) -> None:
        pass

    def done(self, entry: ServerAudit) -> None:
        pass

    def close(self) -> None:
        pass
