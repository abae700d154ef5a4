"""Check that every file the review reads can and may be read (GR100)."""

from __future__ import annotations

from gym_review_bot.checks.base import Check, Outcome, errored, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location

MAX_LISTED = 10


def _listing(items: list[tuple[str, str]]) -> str:
    listed = "; ".join(f"{path} {why}" for path, why in items[:MAX_LISTED])
    return listed + (f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else "")


def check_readable_files(ctx: ServerContext) -> Outcome:
    damaged = sorted(ctx.damaged().items())
    if damaged:  # the repository is at fault, not the PR: the review could not do its job
        what = _listing([(path, f"(git object {oid})") for path, oid in damaged])
        return errored(
            f"The repository is damaged or a partial clone: git objects are missing for {what}. "
            "This is not the PR's fault: fetch a full clone and rerun the review.",
            file=damaged[0][0],
            key="missing-objects " + " ".join(f"{path}:{oid}" for path, oid in damaged),
        )
    problems = ctx.problems()
    if not problems:
        return passed(
            "Every file the review reads is plain text under the size cap, and no symlink leaves the server directory."
        )
    items = sorted(problems.items())
    return failed(
        f"{_listing(items)}. Replace links with the files themselves, keep required files as UTF-8 text, "
        "and keep data samples small (full datasets belong in a dataset registry, not the PR); keep "
        "Python sources under 512 KiB.",
        file=items[0][0],
        locations=[Location(file=path) for path, _ in items],
        key=" ".join(path for path, _ in items),  # which files, not how big: a size change is the same failure
    )


CHECKS = [
    Check(
        "GR100",
        "error",
        "Files can be read safely",
        "Replace symlinks that leave the server directory, binary or non-UTF-8 text, Git LFS "
        "pointers, files over --max-file-mb and Python sources over 512 KiB with plain text files in "
        "the server directory.",
        family="files",
        run=check_readable_files,
        floor="error",
    )
]
