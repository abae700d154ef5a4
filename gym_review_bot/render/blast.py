"""A core change in the PR comment (GR501): the facts its templates word (`blast_line.md.j2`, the summary line;
`blast.md.j2`, each sampled server folded with what broke).

Nothing here writes Markdown: server names, reasons and messages reach the templates as they are in the report,
and the environment's `finalize` escapes every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gym_review_bot.checks.blast import BLAST_CHECK, reward_line
from gym_review_bot.judge import Judgement
from gym_review_bot.models import BlastRadius, Finding, Report, RewardChange, SampledServer
from gym_review_bot.render.words import ICONS, finding_icon

MAX_BLAST_NAMED = 5  # breaking servers named on the summary line
MAX_NOT_SAMPLED = 40  # names listed under "not sampled"
MAX_MODULES = 10  # changed modules listed per sampled server


def no_reach(finding: Finding) -> bool:
    """GR501 of a PR that changes no shared code: the comment says nothing of it."""
    return finding.id == BLAST_CHECK and finding.skip_kind == "not_applicable"


def _blast_finding(report: Report) -> Finding | None:
    return next((f for f in (report.pr.findings if report.pr else []) if f.id == BLAST_CHECK), None)


def blast_icon(row: SampledServer, report: Report, judgement: Judgement) -> str:
    """A sampled server's icon: a break shows as GR501 is judged (a warning by default), the rest by outcome."""
    found = _blast_finding(report)
    if row.outcome == "breaks" and found is not None:
        return finding_icon(found, judgement)
    by_outcome = {"error": ICONS["error"], "pre_existing": ICONS["pre"], "passes": ICONS["pass"]}
    return by_outcome.get(row.outcome, ICONS["skip"])


@dataclass
class BlastSummary:
    """What the summary line says: the reach, the sample and how it fared."""

    icon: str
    affected: int
    sampled: int
    broken: list[tuple[str, str]] = field(default_factory=list)  # (server, the ids it breaks), the first few
    more_broken: int = 0
    unjudged: int = 0
    not_judged: str | None = None  # why the sample was not judged in this report
    none_breaks: bool = False
    in_pr: int = 0


def blast_summary(blast: BlastRadius, report: Report, judgement: Judgement) -> BlastSummary:
    """`blast_line.md.j2`'s facts: "23 servers import it, 8 sampled, 1 breaks: `math_with_judge` GR203"."""
    found = _blast_finding(report)
    broken = [r for r in blast.results if r.outcome == "breaks"]
    judged = [r for r in blast.results if r.outcome != "not_run"]
    summary = BlastSummary(
        icon=finding_icon(found, judgement) if found is not None else ICONS["skip"],
        affected=len(blast.affected),
        sampled=len(blast.sampled),
        broken=[(r.name, " ".join(c.id for c in r.breaks)) for r in broken[:MAX_BLAST_NAMED]],
        more_broken=max(0, len(broken) - MAX_BLAST_NAMED),
        unjudged=sum(r.outcome == "error" for r in blast.results),
        in_pr=len(blast.in_pr),
    )
    if blast.sampled and not judged:
        why = blast.reason or next((r.reason for r in blast.results if r.reason), None) or "not judged here"
        summary.not_judged = why.rstrip(".")
    summary.none_breaks = bool(judged) and not broken and not summary.unjudged
    return summary


def reward_text(change: RewardChange) -> str:
    """`line 3: stored 1, base 1, head none (HTTP 422)`, as GR501's message says it (escaped by the template)."""
    return reward_line(change)


# The templates' filters for a core change (blast_line.md.j2 and blast.md.j2).
FILTERS = {"blast_summary": blast_summary, "blast_icon": blast_icon, "reward_text": reward_text}
GLOBALS = {"MAX_NOT_SAMPLED": MAX_NOT_SAMPLED, "MAX_MODULES": MAX_MODULES}
