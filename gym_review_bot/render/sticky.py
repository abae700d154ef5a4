"""The one sticky comment's body: the rendered report, the bot's own sections, and the hidden summary.

Pure: composed from the report, the judgement (overrides included) and what the bot knows (`Extras`);
github/ finds the comment and writes it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from gym_review_bot.judge import Judged, Judgement
from gym_review_bot.models import Report
from gym_review_bot.render.layout import Delta, Links, compute_delta
from gym_review_bot.render.markdown import CommentContext, comment_length, fit_comment
from gym_review_bot.render.safety import md_inert
from gym_review_bot.render.summary import MAX_FAILING, MAX_NEW, CommentSummary, DeltaNote, digest, encode
from gym_review_bot.render.words import STATUS_TEXT

MAX_COMMENT_CHARS = 65_536  # GitHub's limit for a comment body
MAX_LISTED = 30  # failing fingerprints listed for overrides


@dataclass
class Extras:
    """What the bot adds to the rendered report: every line is the bot's own wording or escaped."""

    notes: list[str] = field(default_factory=list)
    reviewer_requested: bool = False
    run_url: str | None = None
    repo: str | None = None  # owner/name the event named: file links point at its head SHA
    server_url: str = "https://github.com"
    previous: CommentSummary | None = None  # the hidden summary of the bot's comment so far, for the delta
    first_comment: bool = False  # no comment of the bot's yet: this one carries the guide's link (and keeps it)


def delta_note(report: Report, judgement: Judgement, previous: CommentSummary | None) -> DeltaNote | None:
    """What changed since the previous review's head; a re-run on the same head repeats the line it showed."""
    if previous is None or not previous.head:
        return None
    if previous.head == report.head_sha:
        return previous.since
    delta = compute_delta(previous.head, previous.failing, judgement.failing, previous.failing_more)
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


def compose(report: Report, judgement: Judgement, extras: Extras) -> tuple[str, CommentSummary]:
    """The comment body and its hidden summary; the digest covers everything but timings and the run link."""
    # Shallow copies: the same findings (the judgement knows them), without what changes on every run.
    servers = [replace(server, timings=None) for server in report.servers]
    stable = replace(report, generated_at="", servers=servers)
    tail = _sections(judgement, extras)
    since = delta_note(report, judgement, extras.previous)
    guide = extras.first_comment or bool(extras.previous and extras.previous.guide)
    summary = CommentSummary(
        verdict=judgement.verdict,
        complete=judgement.complete,
        head=report.head_sha,
        state=judgement.state,
        failing=judgement.failing[:MAX_FAILING],
        failing_more=max(0, len(judgement.failing) - MAX_FAILING),
        reviewer_requested=extras.reviewer_requested,
        since=since,
        guide=guide,
        overridden=[j.finding.fingerprint for j in _overridden(judgement) if j.waiver.source == "override"][
            :MAX_FAILING
        ],
    )
    blocking = bool(judgement.failing)
    stable_ctx = context(stable, extras, since, guide, run=False, blocking=blocking)
    stable_md = fit_comment(stable, judgement, limit=MAX_COMMENT_CHARS, context=stable_ctx)
    summary.digest = digest("\0".join((stable_md, tail, summary.model_dump_json(exclude={"digest"}))))
    end = f"{tail}\n{encode(summary)}\n"
    return fit(report, judgement, end, context(report, extras, since, guide, run=True, blocking=blocking)), summary


def fit(report: Report, judgement: Judgement, end: str, ctx: CommentContext | None = None) -> str:
    """The rendered report cut (as the renderer cuts) so the body fits; the hidden summary at the end never is."""
    return fit_comment(report, judgement, limit=MAX_COMMENT_CHARS - comment_length(end), context=ctx) + end


def _overridden(judgement: Judgement) -> list[Judged]:
    """Failures a maintainer's override (or the author's own maintain permission, GR118) waived."""
    return [j for j in judgement.where("waived") if j.waiver is not None and j.waiver.source != "config"]


def _sections(judgement: Judgement, extras: Extras) -> str:
    lines: list[str] = []
    overridden = _overridden(judgement)
    if overridden:
        lines += ["", f"**Status after overrides:** {STATUS_TEXT[judgement.headline]}", ""]
        lines += ["**Overridden failures** (count as passing for labels, status and merge):", ""]
        for item in overridden:
            waiver = item.waiver
            assert waiver is not None
            who = "the author, a maintainer" if waiver.source == "maintainer" else md_inert(f"@{waiver.by}")
            lines.append(f"- {md_inert(item.finding.id)} waived by {who}: {md_inert(waiver.reason)}")
    blocking = [j.finding for j in judgement.where("blocking")]
    if blocking:
        # The footer says how to override a check. An override records the fingerprints failing when it
        # is given, so a check failing once needs none; a check failing several times lists them, so
        # that one failure of it can be waived (`GRxxx:FINGERPRINT`).
        per_check = Counter(f.id for f in blocking)
        several = [f for f in blocking if per_check[f.id] > 1]
        if several:
            listed = [f"- {md_inert(f.id)}: <code>{md_inert(f.fingerprint)}</code>" for f in several[:MAX_LISTED]]
            if len(several) > MAX_LISTED:
                listed.append(f"- … and {len(several) - MAX_LISTED} more")
            lines += ["", "<details><summary>Overriding one failure of a check (maintainers)</summary>", ""]
            lines += ['`/gym-review override GRxxx:FINGERPRINT "reason"` waives one of these:', ""]
            lines += [*listed, "", "</details>"]
    for note in extras.notes:
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n" if lines else ""
