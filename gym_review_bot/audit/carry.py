"""Resuming from `--previous`: a server's result is carried over when nothing it depends on changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gym_review_bot.audit.keys import changed
from gym_review_bot.audit.models import AuditReport, Keys, ServerAudit

DEFAULT_MAX_AGE_DAYS = 30.0


def previous_entries(previous: AuditReport | None) -> dict[str, ServerAudit]:
    return {s.name: s for s in previous.servers} if previous else {}


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time from a report (UTC when it says no zone), or None when it is not one."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def why_run(before: ServerAudit | None, keys: Keys, now: datetime, max_age_days: float) -> str | None:
    """Why the server must run again, judged on every key but the packages (which need its image); None: it
    may be carried over if its packages are unchanged too."""
    if before is None:
        return "no previous result"
    if before.keys is None or before.report is None:
        return "the previous audit has no result for it"
    if before.verdict not in ("pass", "fail"):
        return "the previous audit could not judge it"
    verified = parse_time(before.verified_at)
    if verified is None:
        return "the previous result has no valid time"
    if now - verified > timedelta(days=max_age_days):
        return f"its result is {(now - verified).days} days old (--max-age {max_age_days:g})"
    return changed(before.keys, keys, with_packages=False)


def carried(before: ServerAudit, keys: Keys) -> ServerAudit:
    """The previous result, marked as carried; when and where it was verified stay as they were."""
    return before.model_copy(update={"carried": True, "keys": keys, "reason": None}, deep=True)
