"""Check the PR's own commits: every one signed off (DCO, GR120), a registry's own rule."""

from __future__ import annotations

from gym_review_bot import git
from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed
from gym_review_bot.checks.pull import PrContext

MAX_LISTED = 10


def _signed_by_author(commit: git.CommitInfo) -> bool:
    for value in commit.signed_off_by:
        name, _, rest = value.rpartition("<")
        email = rest.removesuffix(">").strip()
        if email.lower() == commit.author_email.strip().lower() and name.strip() == commit.author_name.strip():
            return True
    return False


def check_dco(ctx: PrContext) -> Outcome:
    if ctx.pull is None:
        raise SkipCheck("Not applicable outside PR mode (--base): it checks the commits of a PR.")
    try:
        commits = ctx.pull.commits()
    except git.GitError as exc:
        raise CheckError(f"Could not list the PR's commits: {exc}.") from exc
    unsigned = [c for c in commits if not _signed_by_author(c)]
    if unsigned:
        shown = [f"{c.sha[:12]} ({c.author_name} <{c.author_email}>)" for c in unsigned]
        more = f" (and {len(shown) - MAX_LISTED} more)" if len(shown) > MAX_LISTED else ""
        return failed(
            f"{len(unsigned)} of {len(commits)} commit(s) carry no `Signed-off-by:` matching their author: "
            f"{', '.join(shown[:MAX_LISTED])}{more}. Sign off each commit (`git commit -s`; fix old ones with "
            "`git rebase --signoff <base>`) to certify the Developer Certificate of Origin.",
            key="\n".join(c.sha for c in unsigned),
        )
    return passed(f"All {len(commits)} commit(s) are signed off by their author.")


CHECKS = [
    Check(
        "GR120",
        "error",
        "Every commit is signed off (DCO)",
        "Sign off every commit with `git commit -s` (fix existing ones with `git rebase --signoff <base>`).",
        family="commits",
        run=check_dco,
        scope="pr",
        rule="dco",
    ),
]
