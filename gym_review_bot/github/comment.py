"""The one sticky comment: found by marker and author, composed from the report, edited only when it changes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gym_review_bot.github.decision import Decision
from gym_review_bot.github.summary import (
    MAX_FAILING,
    MAX_NEW,
    CommentSummary,
    DeltaNote,
    GateNote,
    decode,
    digest,
    encode,
)
from gym_review_bot.models import Report
from gym_review_bot.render import MARKER, CommentContext, Delta, Links, render_markdown
from gym_review_bot.render import md_inert as md_text
from gym_review_bot.render.fit import fit_comment
from gym_review_bot.render.layout import compute_delta

MAX_COMMENT_CHARS = 65_536  # GitHub's limit for a comment body
MAX_LISTED = 30  # failing fingerprints listed for overrides
STATE_WORDS = {"success": "passing", "failure": "changes needed", "error": "incomplete: could not tell"}


def find_bot_comment(comments: list[Any], bot_login: str) -> Any | None:
    """The bot's comment: it carries the marker **and** the bot wrote it (a copy by anyone else is ignored)."""
    for comment in comments:
        if comment.user is not None and comment.user.login == bot_login and MARKER in (comment.body or ""):
            return comment
    return None


@dataclass
class Extras:
    """What the bot adds to the rendered report: every line is the bot's own wording or escaped."""

    notes: list[str] = field(default_factory=list)
    gate: GateNote | None = None
    reviewer_requested: bool = False
    ready_head: str | None = None
    run_url: str | None = None
    repo: str | None = None  # owner/name the event named: file links point at its head SHA
    server_url: str = "https://github.com"
    previous: CommentSummary | None = None  # the hidden summary of the bot's comment so far, for the delta
    first_comment: bool = False  # no comment of the bot's yet: this one carries the guide's link (and keeps it)


def delta_note(report: Report, decision: Decision, previous: CommentSummary | None) -> DeltaNote | None:
    """What changed since the previous review's head; a re-run on the same head repeats the line it showed."""
    if previous is None or not previous.head:
        return None
    if previous.head == report.head_sha:
        return previous.since
    delta = compute_delta(previous.head, previous.failing, decision.failing, previous.failing_more)
    return DeltaNote(
        head=delta.head,
        fixed=delta.fixed,
        new=delta.new[:MAX_NEW],
        new_more=max(0, len(delta.new) - MAX_NEW),
        still=delta.still,
        partial=delta.partial,
    )


def context(
    report: Report, extras: Extras, since: DeltaNote | None, guide: bool, run: bool, blocking: bool
) -> CommentContext:
    delta = Delta(**since.model_dump()) if since else None
    links = Links(repo=extras.repo, sha=report.head_sha, server=extras.server_url)
    run_url = extras.run_url if run else None
    return CommentContext(links=links, delta=delta, run_url=run_url, first_comment=guide, override_help=blocking)


def compose(report: Report, decision: Decision, extras: Extras) -> tuple[str, CommentSummary]:
    """The comment body and its hidden summary; the digest covers everything but timings and the run link."""
    stable = report.model_copy(deep=True)
    stable.generated_at = ""
    for server in stable.servers:
        server.timings = None
    tail = _sections(decision, extras)
    since = delta_note(report, decision, extras.previous)
    guide = extras.first_comment or bool(extras.previous and extras.previous.guide)
    summary = CommentSummary(
        verdict=decision.verdict,
        complete=decision.complete,
        head=report.head_sha,
        state=decision.state,
        failing=decision.failing[:MAX_FAILING],
        failing_more=max(0, len(decision.failing) - MAX_FAILING),
        reviewer_requested=extras.reviewer_requested,
        gate=extras.gate,
        ready_head=extras.ready_head,
        since=since,
        guide=guide,
        overridden=[f.fingerprint for f, waiver in decision.waived if waiver.source == "override"][:MAX_FAILING],
    )
    blocking = bool(decision.blocking)
    stable_md = render_markdown(stable, context(stable, extras, since, guide, run=False, blocking=blocking))
    summary.digest = digest("\0".join((stable_md, tail, summary.model_dump_json(exclude={"digest"}))))
    end = f"{tail}\n{encode(summary)}\n"  # the merge gate's note goes last (merge.py rewrites it)
    return fit(report, end, context(report, extras, since, guide, run=True, blocking=blocking)), summary


def comment_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit(report: Report, end: str, ctx: CommentContext | None = None) -> str:
    """The rendered report cut (as the renderer cuts) so the body fits; the hidden summary at the end never is."""
    return fit_comment(report, limit=MAX_COMMENT_CHARS - comment_length(end), context=ctx) + end


def _sections(decision: Decision, extras: Extras) -> str:
    lines: list[str] = []
    if decision.waived:
        lines += ["", f"**Status after overrides:** {STATE_WORDS[decision.state]}", ""]
        lines += ["**Overridden failures** (count as passing for labels, status and merge):", ""]
        for finding, waiver in decision.waived:
            who = "the author, a maintainer" if waiver.source == "maintainer" else md_text(f"@{waiver.by}")
            lines.append(f"- {md_text(finding.id)} waived by {who}: {md_text(waiver.reason)}")
    if decision.blocking:
        # The footer says how to override a check. An override records the fingerprints failing when it
        # is given, so a check failing once needs none; a check failing several times lists them, so
        # that one failure of it can be waived (`GRxxx:FINGERPRINT`).
        per_check = Counter(f.id for f in decision.blocking)
        several = [f for f in decision.blocking if per_check[f.id] > 1]
        if several:
            listed = [f"- {md_text(f.id)}: <code>{md_text(f.fingerprint)}</code>" for f in several[:MAX_LISTED]]
            if len(several) > MAX_LISTED:
                listed.append(f"- … and {len(several) - MAX_LISTED} more")
            lines += ["", "<details><summary>Overriding one failure of a check (maintainers)</summary>", ""]
            lines += ['`/gym-review override GRxxx:FINGERPRINT "reason"` waives one of these:', ""]
            lines += [*listed, "", "</details>"]
    for note in extras.notes:
        lines += ["", f"> {note}"]
    if extras.gate:
        lines += ["", f"**Not merged** (head {extras.gate.head[:12]}):", ""]
        lines += [f"- {item}" for item in extras.gate.missing]
    return "\n".join(lines) + "\n" if lines else ""


def previous_summary(comment: Any | None) -> CommentSummary | None:
    return decode(comment.body) if comment is not None else None
