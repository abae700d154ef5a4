"""The bot's one sticky comment on GitHub: found by marker and author (composing it is render/sticky.py)."""

from __future__ import annotations

from typing import Any

from gym_review_bot.render.summary import CommentSummary, decode
from gym_review_bot.render.words import MARKER


def find_bot_comment(comments: list[Any], bot_login: str) -> Any | None:
    """The bot's comment: it carries the marker **and** the bot wrote it (a copy by anyone else is ignored)."""
    for comment in comments:
        if comment.user is not None and comment.user.login == bot_login and MARKER in (comment.body or ""):
            return comment
    return None


def previous_summary(comment: Any | None) -> CommentSummary | None:
    return decode(comment.body) if comment is not None else None
