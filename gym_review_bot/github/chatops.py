"""Handle one `/gym-review` comment: recheck re-runs the review workflow; override records a waiver."""

from __future__ import annotations

from typing import Any

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.artifact import finished, review_runs
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.commands import WRITE_ROLES, Permissions, parse_command, record
from gym_review_bot.github.comment import find_bot_comment
from gym_review_bot.render.safety import md_inert as md_text
from gym_review_bot.render.summary import decode

REFUSAL = (
    "Thanks for the suggestion, {who}. Only maintainers (write, maintain or admin permission) can override "
    "a check; a maintainer will take a look."
)


def handle_comment(gh: Any, repo_name: str, number: int, comment_id: int, settings: GithubSettings) -> str:
    repo = gh.get_repo(repo_name)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        source = pr.get_issue_comment(comment_id)
        command = parse_command(source.body)
        login = source.user.login if source.user is not None else ""
        if command is None or login == settings.bot_login:
            return "not a command"
        role = Permissions(repo).role(login)
        who = md_text(f"@{login}")
        if command.verb == "recheck":
            if role not in WRITE_ROLES and login != pr.user.login:
                return _reply(pr, f"{who}: only the PR's author or someone with write access can ask for a recheck.")
            return _recheck(repo, pr, settings)
        if command.verb != "override":
            return _reply(pr, f'{who}: commands are `/gym-review recheck` and `/gym-review override GRxxx "reason"`.')
        if role not in WRITE_ROLES:
            return _reply(pr, REFUSAL.format(who=who))
        return _override(repo, pr, source, command, settings)


def _override(repo: Any, pr: Any, source: Any, command: Any, settings: GithubSettings) -> str:
    summary = decode(getattr(find_bot_comment(list(pr.get_issue_comments()), settings.bot_login), "body", ""))
    failing = [fp for check_id, fp in (summary.failing if summary else []) if check_id == command.check_id]
    if command.fingerprint:
        failing = [fp for fp in failing if fp.startswith(command.fingerprint)]
    if not failing:
        return _reply(pr, f"No failing {command.check_id} in the latest review matches; nothing overridden.")
    text = (
        f"Override of {command.check_id} recorded ({len(failing)} finding(s)); it counts once the review is "
        f"published again, only while its author keeps write access and the command comment stays as it is "
        f"(editing or deleting it withdraws the override).\n\n" + record(source, command, failing)
    )
    _reply(pr, text)
    _recheck(repo, pr, settings)
    return f"override of {command.check_id} recorded"


def _recheck(repo: Any, pr: Any, settings: GithubSettings) -> str:
    """Re-run this PR's own review run of its current head (found by head commit, repository and branch)."""
    run = finished(review_runs(repo, pr, settings))
    if run is None:
        return _reply(pr, "There is no finished review run for the current head to re-run yet.")
    run.rerun()
    return f"re-running run {run.id}"


def _reply(pr: Any, text: str) -> str:
    pr.create_issue_comment(text)
    return text
