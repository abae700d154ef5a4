"""`gym-review new-head`: new commits on a PR; what the bot said of the old head stops counting at once.

Run by a `pull_request_target: synchronize` job (base branch code, no PR checkout) the moment commits
arrive, before any review of them: the ready and passing labels come off, and the `gym-review` status
on the new head is `pending`. That status also dates the head's arrival for the merge gate: a ready
label counts only when it was added after it.
"""

from __future__ import annotations

from typing import Any

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.event import event_json, own_run_url
from gym_review_bot.github.publish import remove_label

PENDING = "new commits: waiting for their review"


def event_head(number: int) -> str | None:
    """The new head the `synchronize` event names (GitHub's data, not the PR's)."""
    event = event_json() or {}
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else {}
    head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
    sha = head.get("sha")
    return sha if pr.get("number") == number and isinstance(sha, str) and len(sha) == 40 else None


def new_head(gh: Any, repo_name: str, number: int, settings: GithubSettings) -> str:
    repo = gh.get_repo(repo_name)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        if pr.state != "open":
            return f"PR #{number} is {pr.state}: nothing to do"
        head = event_head(number) or pr.head.sha
        target = {"target_url": own_run_url()} if own_run_url() else {}
        repo.get_commit(head).create_status(
            state="pending", description=PENDING, context=settings.status_context, **target
        )
        present = [label.name for label in pr.labels]
        gone = [name for name in (settings.labels.ready, settings.labels.passing) if name in present]
        for name in gone:
            remove_label(pr, name)
    removed = f"; removed {', '.join(repr(n) for n in gone)}" if gone else ""
    return f"PR #{number}: status pending on {head[:12]}{removed}"
