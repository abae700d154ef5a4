"""The one sticky comment: found by marker and author, composed from the report, edited only when it changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gym_review_bot.github.decision import Decision
from gym_review_bot.github.summary import MAX_FAILING, CommentSummary, GateNote, decode, digest, encode
from gym_review_bot.models import Report
from gym_review_bot.render import MARKER, render_markdown
from gym_review_bot.render import md_inert as md_text
from gym_review_bot.render.fit import fit_comment

MAX_COMMENT_CHARS = 65_536  # GitHub's limit for a comment body
MAX_LISTED = 30  # failing fingerprints listed for overrides
_RUN_URL = re.compile(r"^https?://[A-Za-z0-9.:-]+/[A-Za-z0-9._~/-]*$")
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


def compose(report: Report, decision: Decision, extras: Extras) -> tuple[str, CommentSummary]:
    """The comment body and its hidden summary; the digest covers everything but timings and the run link."""
    stable = report.model_copy(deep=True)
    stable.generated_at = ""
    for server in stable.servers:
        server.timings = None
    tail = _sections(decision, extras)
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
    )
    summary.digest = digest("\0".join((render_markdown(stable), tail, summary.model_dump_json(exclude={"digest"}))))
    link = f"\n[Full report and logs]({extras.run_url})\n" if extras.run_url and _RUN_URL.match(extras.run_url) else ""
    end = f"{link}{tail}\n{encode(summary)}\n"  # the merge gate's note goes last (merge.py rewrites it)
    return fit(report, end), summary


def comment_length(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit(report: Report, end: str) -> str:
    """The rendered report cut (as the renderer cuts) so the body fits; the hidden summary at the end never is."""
    return fit_comment(report, limit=MAX_COMMENT_CHARS - comment_length(end)) + end


def _sections(decision: Decision, extras: Extras) -> str:
    lines = ["", f"**Status after overrides:** {STATE_WORDS[decision.state]}"]
    if decision.waived:
        lines += ["", "**Overridden failures** (count as passing for labels, status and merge):", ""]
        for finding, waiver in decision.waived:
            who = "the author, a maintainer" if waiver.source == "maintainer" else md_text(f"@{waiver.by}")
            lines.append(f"- {md_text(finding.id)} waived by {who}: {md_text(waiver.reason)}")
    if decision.blocking:
        lines += ["", "<details><summary>Overriding a failure (maintainers)</summary>", ""]
        lines.append('Comment `/gym-review override GRxxx "reason"` (all failures of that check) or')
        lines.append('`/gym-review override GRxxx:FINGERPRINT "reason"` (one failure). Failing now:')
        lines.append("")
        for finding in decision.blocking[:MAX_LISTED]:
            lines.append(f"- {md_text(finding.id)}: <code>{md_text(finding.fingerprint)}</code>")
        if len(decision.blocking) > MAX_LISTED:
            lines.append(f"- … and {len(decision.blocking) - MAX_LISTED} more")
        lines += ["", "</details>"]
    for note in extras.notes:
        lines += ["", f"> {note}"]
    if extras.gate:
        lines += ["", f"**Not merged** (head {extras.gate.head[:12]}):", ""]
        lines += [f"- {item}" for item in extras.gate.missing]
    return "\n".join(lines) + "\n"


def previous_summary(comment: Any | None) -> CommentSummary | None:
    return decode(comment.body) if comment is not None else None
