"""Keep the PR comment under GitHub's size limit, cutting the least useful parts first and saying so."""

from __future__ import annotations

from gym_review_bot.judge import Judgement
from gym_review_bot.models import Report, ServerReport
from gym_review_bot.render.markdown import CommentContext, Detail, headline, render_comment
from gym_review_bot.render.safety import md_inert
from gym_review_bot.render.words import MARKER, count, server_icon

GITHUB_LIMIT = 65_536  # characters in an issue comment; GitHub refuses a longer body
CUT_HEADLINE = "Cut to fit GitHub's 65,536-character limit:"
MESSAGE_CHARS = (300, 120)  # the lengths tried, longest first


def comment_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


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


def fit_comment(
    report: Report, judgement: Judgement, limit: int = GITHUB_LIMIT, context: CommentContext | None = None
) -> str:
    """The most detailed comment within `limit`; failing to that, per-server counts."""
    for detail in _levels():
        text = render_comment(report, judgement, detail, context)
        if comment_length(text) <= limit:
            return text
    return counts_comment(report, judgement, limit)


def _server_counts(server: ServerReport, judgement: Judgement) -> str:
    klasses = [judgement.klass(f) for f in server.findings]
    blocking, not_run = klasses.count("blocking"), klasses.count("not_run")
    other = sum(k in ("warning", "waived", "pre_existing") for k in klasses)
    parts = [count(blocking, "blocking failure"), count(other, "other failure"), f"{not_run} not run"]
    icon = server_icon(server, judgement)
    return f"- {icon} <code>{md_inert(server.path)}</code> ({server.status}): {', '.join(parts)}"


def counts_comment(report: Report, judgement: Judgement, limit: int = GITHUB_LIMIT) -> str:
    """The last resort: one line of counts per server with a problem, as many as fit."""
    head = [MARKER, str(headline(judgement)), ""]
    if judgement.headline == "error":
        head += ["**The merge gate must not pass this review:** a check that could not run is not a pass.", ""]
    if not judgement.complete:
        head += [f"**Incomplete:** {md_inert('; '.join(judgement.incomplete))}.", ""]
    troubled = [sv for sv in report.servers if any(f.status in ("fail", "error") for f in sv.findings)]
    quiet = len(report.servers) - len(troubled)
    lines: list[str] = []
    budget = limit - comment_length("\n".join(head)) - 600  # room for the cut line and the tail
    for server in troubled:
        line = _server_counts(server, judgement)
        budget -= comment_length(line) + 1
        if budget < 0:
            break
        lines.append(line)
    cut = ["every check's id, title and message (per-server counts instead)"]
    if quiet:
        cut.append(f"{count(quiet, 'server')} with no failing check")
    if report.notes:
        cut.append(count(len(report.notes), "note"))
    if len(lines) < len(troubled):
        cut.append(f"{count(len(troubled) - len(lines), 'more server')} with failing checks")
    cut_line = f"**{CUT_HEADLINE}** {'; '.join(cut)}. The JSON report has everything."
    return "\n".join([*head, cut_line, "", *lines, ""])
