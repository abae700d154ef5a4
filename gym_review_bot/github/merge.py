"""`gym-review merge`: the label-gated merge; otherwise say in the comment what is missing, once per head."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.commands import WRITE_ROLES, Permissions, override_waivers
from gym_review_bot.github.comment import find_bot_comment
from gym_review_bot.render.summary import CommentSummary, GateNote, decode, encode


def labeled_head(number: int, settings: GithubSettings) -> str | None:
    """The head when the ready label was added, from a `labeled` event (GitHub's data, not the PR's)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    if event.get("action") != "labeled" or not isinstance(pr, dict) or pr.get("number") != number:
        return None
    if (event.get("label") or {}).get("name") != settings.labels.ready:
        return None
    return (pr.get("head") or {}).get("sha")


def missing_for_merge(
    pr: Any,
    summary: CommentSummary | None,
    ready_head: str | None,
    settings: GithubSettings,
    repo: Any,
    comments: list[Any],
) -> list[str]:
    """What stops the merge, in the bot's own words (nothing from the PR), or [] when it may merge."""
    head = pr.head.sha
    permissions = Permissions(repo)
    labels = [label.name for label in pr.labels]
    missing = []
    if settings.labels.ready not in labels:
        missing.append(f"the `{settings.labels.ready}` label")
    elif ready_head and ready_head != head:
        missing.append(f"the `{settings.labels.ready}` label added again: new commits arrived after it")
    if summary is None or summary.head != head:
        missing.append("a review of the current head (the latest one is for an older commit or missing)")
    elif not summary.complete or summary.verdict != "pass":
        missing.append("a complete, passing review (or its failures overridden)")
    elif summary.overridden and _withdrawn(summary, comments, settings, permissions):
        missing.append(
            "a new review: an override it counted no longer stands (its command comment was edited or "
            "deleted, or its author lost write access); comment `/gym-review recheck`"
        )
    files = [f.filename for f in pr.get_files()]
    touched = sorted({p for p in settings.protected_paths for f in files if f == p or f.startswith(p)})
    if touched:
        missing.append("a PR that leaves " + " and ".join(f"`{p}`" for p in touched) + " alone (merge by hand)")
    approvals = _approvals(pr, head, permissions)
    if approvals < settings.approvals:
        missing.append(f"{settings.approvals} approval(s) for the current head from users with write access")
    return missing


def _withdrawn(
    summary: CommentSummary, comments: list[Any], settings: GithubSettings, permissions: Permissions
) -> bool:
    """Whether an override the published verdict counted has gone since (read again, as publish reads it)."""
    standing = override_waivers(comments, settings.bot_login, permissions)
    return any(fp not in standing for fp in summary.overridden)


def _approvals(pr: Any, head: str, permissions: Permissions) -> int:
    latest: dict[str, Any] = {}
    for review in pr.get_reviews():  # oldest first: each user's last word counts
        if review.user is not None and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user.login] = review
    return sum(
        1
        for login, review in latest.items()
        if review.state == "APPROVED" and review.commit_id == head and permissions.role(login) in WRITE_ROLES
    )


def ready_prs(gh: Any, repo_name: str, settings: GithubSettings) -> list[int]:
    """Open PRs carrying the ready label (the scheduled run of the merge gate)."""
    with github_errors(repo_name):
        pulls = gh.get_repo(repo_name).get_pulls(state="open")
        return [pr.number for pr in pulls if settings.labels.ready in [label.name for label in pr.labels]]


def merge_gate(gh: Any, repo_name: str, number: int, settings: GithubSettings) -> tuple[bool, str]:
    repo = gh.get_repo(repo_name)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        if pr.state != "open":
            return False, f"PR #{number} is {pr.state}: nothing to merge"
        comments = list(pr.get_issue_comments())
        comment = find_bot_comment(comments, settings.bot_login)
        summary = decode(comment.body) if comment is not None else None
        ready_head = (summary.ready_head if summary else None) or labeled_head(number, settings)
        if settings.labels.ready not in [label.name for label in pr.labels]:
            ready_head = None
        missing = missing_for_merge(pr, summary, ready_head, settings, repo, comments)
        if not missing:
            pr.merge(merge_method=settings.merge_method, sha=pr.head.sha)
            return True, f"PR #{number}: merged ({settings.merge_method})"
        _say_once(comment, summary, pr.head.sha, missing, ready_head)
        return False, f"PR #{number}: not merged: " + "; ".join(missing)


def _say_once(
    comment: Any | None, summary: CommentSummary | None, head: str, missing: list[str], ready_head: str | None
) -> None:
    """Add the refusal to the bot's comment, once per head (re-runs on the same head write nothing)."""
    if comment is None or summary is None:
        return  # no review yet: the label alone is not worth a comment; the review will come
    same = summary.gate and summary.gate.head == head and summary.gate.missing == missing
    if same and summary.ready_head == ready_head:
        return
    old = encode(summary)
    summary.gate = GateNote(head=head, missing=missing)
    summary.ready_head = ready_head
    block = f"\n**Not merged** (head {head[:12]}):\n\n" + "\n".join(f"- {m}" for m in missing) + "\n\n"
    body = comment.body.replace(old, "").rstrip("\n")
    body = body.split("\n**Not merged** (head ")[0].rstrip("\n")
    comment.edit(f"{body}\n{block}{encode(summary)}\n")
