"""Check the PR's own commits: every one signed off (DCO, GR120), a registry's own rule.

The rules are the DCO GitHub App's (dcoapp/app, lib/dco.js), so the bot and the App never disagree:
merge commits and bots are skipped; a `Signed-off-by: Name <e-mail>` line anywhere in the message counts
(case-insensitive); the commit's e-mail must be a valid address; and a sign-off's name and e-mail must each
be the author's or the committer's, compared case-insensitively. The App's member and remediation options
are not followed.
"""

from __future__ import annotations

from functools import cache

from gym_review_bot import git
from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed
from gym_review_bot.checks.pull import PrContext

MAX_LISTED = 10
BOT_EMAIL = "[bot]@users.noreply.github.com"  # a GitHub App's commits: the DCO App skips bots


@cache
def _patterns() -> tuple:
    import re2  # linear-time matching of commit messages (PR text)

    signoff = re2.compile(r"(?im)^Signed-off-by: (.*) <(.*)>$")  # lib/dco.js's own pattern
    # email-validator (the App's dependency): one @, a local part of at most 64 and a domain of at most 255
    # characters, labels of at most 63, and this shape
    address = re2.compile(
        r"^[-!#$%&'*+/0-9=?A-Z^_a-z`{|}~](\.?[-!#$%&'*+/0-9=?A-Z^_a-z`{|}~])*"
        r"@[a-zA-Z0-9](-*\.?[a-zA-Z0-9])*\.[a-zA-Z](-?[a-zA-Z0-9])+$"
    )
    return signoff, address


def valid_email(email: str) -> bool:
    if not email or email.count("@") != 1:
        return False
    local, domain = email.split("@")
    if len(local) > 64 or len(domain) > 255 or any(len(label) > 63 for label in domain.split(".")):
        return False
    return bool(_patterns()[1].match(email))


def signoffs(message: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _patterns()[0].finditer(message)]


def dco_problem(commit: git.CommitInfo) -> str | None:
    """Why the DCO App fails this commit, in its words ("Expected X, but got Y"); None when it passes."""
    if commit.author_email.lower().endswith(BOT_EMAIL):
        return None
    found = signoffs(commit.message)
    if not found:
        return "The sign-off is missing."
    email = commit.author_email or commit.committer_email
    if not valid_email(email):
        return f"{email} is not a valid email address."
    names = {commit.author_name.lower(), commit.committer_name.lower()}
    emails = {commit.author_email.lower(), commit.committer_email.lower()}
    if any(name.lower() in names and mail.lower() in emails for name, mail in found):
        return None
    expected = f'"{commit.author_name} <{commit.author_email}>"'
    if len(found) == 1:
        return f'Expected {expected}, but got "{found[0][0]} <{found[0][1]}>".'
    got = ", ".join(f'"{name} <{mail}>"' for name, mail in found)
    return f"Can not find {expected}, in [{got}]."


def check_dco(ctx: PrContext) -> Outcome:
    if ctx.pull is None:
        raise SkipCheck("Not applicable outside PR mode (--base): it checks the commits of a PR.")
    try:
        commits = ctx.pull.commits()
    except git.GitError as exc:
        raise CheckError(f"Could not list the PR's commits: {exc}.") from exc
    problems = [(c, why) for c in commits for why in [dco_problem(c)] if why]
    if problems:
        shown = [f"{c.sha[:12]} ({c.author_name} <{c.author_email}>): {why}" for c, why in problems[:MAX_LISTED]]
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        return failed(
            f"{len(problems)} of {len(commits)} commit(s) are not signed off as the DCO requires: "
            f"{'; '.join(shown)}{more}. Sign off each commit (`git commit -s`; fix old ones with "
            "`git rebase --signoff <base>`) to certify the Developer Certificate of Origin.",
            key="\n".join(c.sha for c, _ in problems),
        )
    return passed(f"All {len(commits)} commit(s) are signed off by their author or committer.")


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
