"""The hidden, compact, machine-readable summary at the end of the bot's comment."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from pydantic import BaseModel, Field, ValidationError

MAX_FAILING = 200  # keeps the summary (never cut) a small part of the 65,536-character comment
SUMMARY_PREFIX = "<!-- gym-review-bot:summary "
# base64url keeps anything the report carried from closing the HTML comment or forming Markdown.
_SUMMARY = re.compile(r"<!-- gym-review-bot:summary ([A-Za-z0-9_=-]{1,20000}) -->")


class DeltaNote(BaseModel):
    """The "since the last review" line as shown, so a re-run on the same head shows the same line."""

    head: str
    fixed: int = 0
    new: list[str] = Field(default_factory=list)  # check ids, at most MAX_NEW
    new_more: int = 0
    still: int = 0
    partial: bool = False


MAX_NEW = 50


class CommentSummary(BaseModel):
    """What the bot last published: a cache read back by publish (no-op detection and the delta line) and triage.

    Anyone with write access can edit the comment, so nothing decides a merge from it: the merge gate
    re-judges the review's own report, and only compares this summary with that (a disagreement blocks).
    """

    v: int = 1
    verdict: str  # the effective verdict after overrides: pass | fail | error
    complete: bool
    head: str | None
    state: str  # the commit status: success | failure | error
    failing: list[tuple[str, str]] = Field(default_factory=list)  # (check id, fingerprint), the first MAX_FAILING
    failing_more: int = 0  # how many more failed than listed
    digest: str = ""  # of the comment's stable content: edit only when it changes
    reviewer_requested: bool = False
    since: DeltaNote | None = None  # what the comment said changed since the review before it
    guide: bool = False  # the comment carries the guide's link (given on the first comment, then kept)
    overridden: list[str] = Field(default_factory=list)  # fingerprints a maintainer's override waived (the first
    # MAX_FAILING)


def encode(summary: CommentSummary) -> str:
    # Defaults are left out (decoding restores them): the summary is never cut, so it stays small.
    raw = json.dumps(summary.model_dump(exclude_defaults=True), separators=(",", ":"), sort_keys=True)
    return f"{SUMMARY_PREFIX}{base64.urlsafe_b64encode(raw.encode()).decode()} -->"


def decode(body: str) -> CommentSummary | None:
    """The summary in a comment body, or None when there is none or it does not parse."""
    matches = _SUMMARY.findall(body or "")
    if not matches:
        return None
    try:
        return CommentSummary.model_validate_json(base64.urlsafe_b64decode(matches[-1]))
    except (ValidationError, binascii.Error, ValueError):
        return None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:24]
