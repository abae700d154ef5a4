"""Check that every file the review reads can and may be read (GR100)."""

from __future__ import annotations

from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location

MAX_LISTED = 10


def check_readable_files(ctx: ServerContext) -> Outcome:
    problems = ctx.problems()
    if not problems:
        return passed(
            "Every file the review reads is plain text under the size cap, and no symlink leaves the server directory."
        )
    items = sorted(problems.items())
    listed = "; ".join(f"{path} {why}" for path, why in items[:MAX_LISTED])
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return failed(
        f"{listed}{more}. Replace links with the files themselves, keep required files as UTF-8 text, "
        "and keep data samples small (full datasets belong in a dataset registry, not the PR).",
        file=items[0][0],
        locations=[Location(file=path) for path, _ in items],
    )


CHECKS = [
    Check(
        "GR100",
        "error",
        "Files can be read safely",
        "Replace symlinks that leave the server directory, binary or non-UTF-8 text, Git LFS "
        "pointers and files over --max-file-mb with plain text files in the server directory.",
        check_readable_files,
    )
]
