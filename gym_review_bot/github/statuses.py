"""Commit statuses and workflow runs as the merge gate reads them.

Every workflow token in a repository writes as `github-actions[bot]`, so a status's creator proves
little: the gate believes a `gym-review` status only when its `target_url` is a run of the publish
workflow on the default branch (and then re-judges the review's report itself). A push cannot be dated
from git (the pusher sets commit dates), so a head's arrival is the bot's `pending` status on it (set
by the new-head job at once), or failing that the earliest workflow run for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from github import GithubException

from gym_review_bot.config import GithubSettings

MAX_STATUS_PAGES = 10  # 1,000 statuses: GitHub's limit per commit and context


@dataclass(frozen=True)
class StatusHistory:
    statuses: tuple[Any, ...]  # newest first, as GitHub lists them

    def latest(self, context: str) -> Any | None:
        return next((s for s in self.statuses if s.context == context), None)

    def first_pending(self, context: str, bot_login: str) -> datetime | None:
        """When the bot first set `pending` on this commit (the new-head job does, on every push)."""
        times = [
            s.created_at
            for s in self.statuses
            if s.context == context and s.state == "pending" and s.creator is not None and s.creator.login == bot_login
        ]
        return min(times, default=None)


def history(repo: Any, sha: str) -> StatusHistory:
    listed = repo.get_commit(sha).get_statuses()
    found = []
    for status in listed:
        found.append(status)
        if len(found) >= MAX_STATUS_PAGES * 100:
            break
    return StatusHistory(tuple(found))


def head_arrival(repo: Any, sha: str, statuses: StatusHistory, settings: GithubSettings) -> datetime | None:
    """When this head reached the PR, as far as GitHub's own records tell; None when they do not."""
    pending = statuses.first_pending(settings.status_context, settings.bot_login)
    if pending is not None:
        return pending
    runs = [r.created_at for r in repo.get_workflow_runs(head_sha=sha) if r.created_at is not None]
    return min(runs, default=None)


_RUN_PAGE = re.compile(r"https?://[^/?#]+/([^/?#]+/[^/?#]+)/actions/runs/([0-9]{1,20})(?:/attempts/[0-9]{1,6})?/?")


def publish_run_problem(
    repo: Any, status: Any, repo_name: str, default_branch: str, settings: GithubSettings
) -> str | None:
    """Why the status was not set by a run of the publish workflow on the default branch (None: it was).

    The link names a run of this repository; the run itself, read from this repository's API, must be of
    the publish workflow, started by `workflow_run`, on the default branch of this repository."""
    match = _RUN_PAGE.fullmatch(status.target_url or "")
    if match is None or match.group(1).lower() != repo_name.lower():
        return "its link is not a run of this repository"
    try:
        run = repo.get_workflow_run(int(match.group(2)))
        facts = (run.path, run.event, run.head_branch, run.head_repository.full_name.lower())
    except (GithubException, AttributeError):
        return "its run cannot be found"
    wanted = (settings.publish_workflow, "workflow_run", default_branch, repo_name.lower())
    if facts != wanted:
        return f"its run is not of {settings.publish_workflow} on {default_branch}"
    return None
