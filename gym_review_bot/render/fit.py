"""Keep the PR comment under GitHub's size limit, cutting the least useful parts first and saying so."""

from __future__ import annotations

from gym_review_bot.models import Report, ServerReport
from gym_review_bot.render import (
    ICONS,
    MARKER,
    CommentContext,
    Detail,
    _count,
    incomplete_reasons,
    problem_counts,
    render_comment,
    server_icon,
)
from gym_review_bot.render.safety import md_inert

GITHUB_LIMIT = 65_536  # characters in an issue comment; GitHub refuses a longer body
CUT_HEADLINE = "Cut to fit GitHub's 65,536-character limit:"
MESSAGE_CHARS = (300, 120)  # the lengths tried, longest first


def comment_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le")) // 2


def _levels() -> list[Detail]:
    """Ever less detail; every failing check keeps its id and title down to the last one."""
    # Folded parts go first: the passing and skipped lists, log excerpts, then fix hints and message tails.
    cuts = ["the lists of passing and skipped checks", "log excerpts", "fix hints, skip reasons and message details"]
    levels = [
        Detail(),
        Detail(passing=False, cut=cuts[:1]),
        Detail(passing=False, logs=False, cut=cuts[:2]),
        Detail(passing=False, logs=False, hints=False, cut=cuts[:3]),
    ]
    for chars in MESSAGE_CHARS:
        cut = [*cuts, f"messages past {chars} characters (marked … (cut))"]
        levels.append(Detail(passing=False, logs=False, hints=False, message_chars=chars, cut=cut))
    levels.append(Detail(passing=False, logs=False, hints=False, message_chars=0, cut=[*cuts, "all messages"]))
    return levels


def fit_comment(report: Report, limit: int = GITHUB_LIMIT, context: CommentContext | None = None) -> str:
    """The most detailed comment within `limit`; failing to that, per-server counts."""
    for detail in _levels():
        text = render_comment(report, detail, context)
        if comment_length(text) <= limit:
            return text
    return counts_comment(report, limit)


def _server_counts(server: ServerReport) -> str:
    blocking = sum(f.blocks_merge for f in server.findings)
    other = sum(f.status == "fail" for f in server.findings) - blocking
    not_run = sum(f.not_run for f in server.findings)
    parts = [_count(blocking, "blocking failure"), _count(other, "other failure"), f"{not_run} not run"]
    return f"- {server_icon(server)} <code>{md_inert(server.path)}</code> ({server.status}): {', '.join(parts)}"


def counts_comment(report: Report, limit: int = GITHUB_LIMIT) -> str:
    """The last resort: one line of counts per server with a problem, as many as fit."""
    icon = {"pass": ICONS["pass"], "fail": ICONS["fail"]}.get(report.verdict, ICONS["error"])
    words = {"pass": "no blocking problems", "fail": "changes needed"}.get(report.verdict, "incomplete")
    head = [
        MARKER,
        f"## {icon} gym-review: {words} ({problem_counts(report)})",
        "",
    ]
    if report.verdict == "error":
        head += ["**The merge gate must not pass this review:** a check that could not run is not a pass.", ""]
    if not report.complete:
        head += [f"**Incomplete:** {md_inert('; '.join(incomplete_reasons(report)))}.", ""]
    troubled = [sv for sv in report.servers if sv.failed or any(f.status in ("fail", "error") for f in sv.findings)]
    quiet = len(report.servers) - len(troubled)
    lines: list[str] = []
    budget = limit - comment_length("\n".join(head)) - 600  # room for the cut line and the tail
    for server in troubled:
        line = _server_counts(server)
        budget -= comment_length(line) + 1
        if budget < 0:
            break
        lines.append(line)
    cut = ["every check's id, title and message (per-server counts instead)"]
    if quiet:
        cut.append(f"{_count(quiet, 'server')} with no failing check")
    if report.notes:
        cut.append(_count(len(report.notes), "note"))
    if len(lines) < len(troubled):
        cut.append(f"{_count(len(troubled) - len(lines), 'more server')} with failing checks")
    cut_line = f"**{CUT_HEADLINE}** {'; '.join(cut)}. The JSON report has everything."
    return "\n".join([*head, cut_line, "", *lines, ""])
