"""The bot's comments on GitHub, each found by its marker and its author: one of each, never two.

Composing the sticky comment is render/sticky.py. GitHub has no conditional write for comments, so a
comment is created once: a POST answered 5xx may have been done, so it is looked for before it is sent
again; and when two of the bot's comments carry the same marker (two runs raced), the oldest is kept
and the others are deleted.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from github import GithubException

from gym_review_bot.github.client import GithubError, describe, github_errors, once
from gym_review_bot.render.summary import CommentSummary, decode
from gym_review_bot.render.words import MARKER

CREATE_ATTEMPTS = 3
MAX_WAIT_S = 60.0


def bot_comments(comments: list[Any], bot_login: str, marker: str = MARKER) -> list[Any]:
    """The bot's comments carrying the marker, oldest first (a copy by anyone else is ignored)."""
    mine = [c for c in comments if c.user is not None and c.user.login == bot_login and marker in (c.body or "")]
    return sorted(mine, key=lambda c: c.id)


def find_bot_comment(comments: list[Any], bot_login: str, marker: str = MARKER) -> Any | None:
    """The bot's comment: the oldest of its comments carrying the marker."""
    mine = bot_comments(comments, bot_login, marker)
    return mine[0] if mine else None


def previous_summary(comment: Any | None) -> CommentSummary | None:
    return decode(comment.body) if comment is not None else None


def write_comment(
    gh: Any, repo_name: str, number: int, comments: list[Any], body: str, bot_login: str, marker: str = MARKER
) -> None:
    """Edit the bot's comment (the oldest with the marker; others deleted), or create it exactly once."""
    mine = bot_comments(comments, bot_login, marker)
    for extra in mine[1:]:
        _delete(extra)
    if mine:
        if mine[0].body != body:
            mine[0].edit(body)
        return
    since = max((c.updated_at for c in comments if c.updated_at is not None), default=None)
    created = _create_once(gh, repo_name, number, body, bot_login, marker, since)
    _settle(gh, repo_name, number, body, bot_login, marker, since, created)


def _marked_since(
    gh: Any, repo_name: str, number: int, bot_login: str, marker: str, since: datetime | None
) -> list[Any]:
    """The bot's marked comments updated since the listing (one read): what a racing run may have created."""
    issue = gh.get_repo(repo_name).get_issue(number)
    with github_errors(f"PR #{number}"):
        listed = issue.get_comments(since=since) if since is not None else issue.get_comments()
        return bot_comments(list(listed), bot_login, marker)


def _create_once(
    gh: Any, repo_name: str, number: int, body: str, bot_login: str, marker: str, since: datetime | None
) -> Any:
    issue = once(gh).get_repo(repo_name).get_issue(number)
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return issue.create_comment(body)
        except GithubException as exc:
            wait = _retry_after(exc)
            if wait is not None and attempt + 1 < CREATE_ATTEMPTS:  # a secondary rate limit: nothing was created
                time.sleep(wait)
                continue
            if exc.status < 500:
                with github_errors(f"PR #{number}"):
                    raise
            failure: Exception = exc
        except (OSError, ValueError) as exc:  # no answer: it may have been created all the same
            failure = exc
        found = _marked_since(gh, repo_name, number, bot_login, marker, since)
        if found:
            return found[0]
        time.sleep(min(2**attempt, 8))
    raise GithubError(f"PR #{number}: creating the comment failed: {describe(failure)}")


def _retry_after(exc: GithubException) -> float | None:
    """Seconds to wait when GitHub refused the request for a (secondary) rate limit and said how long."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    value = headers.get("retry-after")
    if exc.status in (403, 429) and value is not None and str(value).isdigit():
        return min(float(value), MAX_WAIT_S)
    return None


def _settle(
    gh: Any,
    repo_name: str,
    number: int,
    body: str,
    bot_login: str,
    marker: str,
    since: datetime | None,
    created: Any,
) -> None:
    """After a create: when a racing run created one too, keep the oldest (with this body), delete the rest."""
    mine = _marked_since(gh, repo_name, number, bot_login, marker, since)
    if len(mine) < 2:
        return
    keep = mine[0]
    for extra in mine[1:]:
        _delete(extra)
    if keep.id != created.id and keep.body != body:
        with github_errors(f"PR #{number}"):
            keep.edit(body)


def _delete(comment: Any) -> None:
    try:
        comment.delete()
    except GithubException as exc:
        if exc.status != 404:  # already gone: what was wanted
            with github_errors("deleting a duplicate comment"):
                raise
