"""A core change in the PR comment (GR501): one summary line, and each sampled server folded with what broke.

Server names and messages come from the report: every one is escaped (`md_inert`) or left to the template's
`finalize`, which escapes what is not already Markup.
"""

from __future__ import annotations

from markupsafe import Markup

from gym_review_bot.checks.blast import BLAST_CHECK, reward_line
from gym_review_bot.judge import Judgement
from gym_review_bot.models import BlastRadius, Finding, Report, RewardChange, SampledServer
from gym_review_bot.render.safety import md_inert
from gym_review_bot.render.words import ICONS, count, finding_icon

MAX_BLAST_NAMED = 5  # breaking servers named on the summary line
MAX_NOT_SAMPLED = 40  # names listed under "not sampled"
BLAST_WORDS = {"pre_existing": "fails as at the merge base", "passes": "no change", "not_run": "not run"}


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


def code_list(names: list[str], limit: int = MAX_NOT_SAMPLED) -> Markup:
    shown = ", ".join(f"<code>{md_inert(n)}</code>" for n in names[:limit])
    return Markup(shown + (f", … ({len(names) - limit} more)" if len(names) > limit else ""))


def blast_line(blast: BlastRadius, report: Report, judgement: Judgement) -> Markup:
    """`**Core change:** 23 servers import it, 8 sampled, 1 breaks: <code>math_with_judge</code> GR203`."""
    found = _blast_finding(report)
    icon = finding_icon(found, judgement) if found is not None else ICONS["skip"]
    reach = f"{count(len(blast.affected), 'server')} import it" if blast.affected else "no server imports it"
    parts = [reach if len(blast.affected) != 1 else "1 server imports it"]
    if blast.affected:
        parts.append(f"{len(blast.sampled)} sampled")
    broken = [r for r in blast.results if r.outcome == "breaks"]
    if broken:
        named = [f"<code>{md_inert(r.name)}</code> {md_inert(' '.join(c.id for c in r.breaks))}" for r in broken]
        more = f", … ({len(broken) - MAX_BLAST_NAMED} more)" if len(broken) > MAX_BLAST_NAMED else ""
        verb = "breaks" if len(broken) == 1 else "break"
        parts.append(f"{len(broken)} {verb}: {', '.join(named[:MAX_BLAST_NAMED])}{more}")
    unjudged = sum(r.outcome == "error" for r in blast.results)
    if unjudged:
        parts.append(f"{unjudged} could not be judged")
    judged = [r for r in blast.results if r.outcome != "not_run"]
    if blast.sampled and not judged:
        why = blast.reason or next((r.reason for r in blast.results if r.reason), None) or "not judged here"
        parts.append(f"not judged ({md_inert(why.rstrip('.'))})")
    elif judged and not broken and not unjudged:
        parts.append("none breaks")
    if blast.in_pr:
        parts.append(f"{len(blast.in_pr)} of them changed by the PR itself")
    return Markup(f"{icon} **Core change:** {', '.join(parts)}.")


def blast_outcome(row: SampledServer) -> Markup:
    """What happened to a sampled server, in a few words."""
    if row.outcome == "breaks":
        return Markup(f"breaks ({md_inert(', '.join(c.id for c in row.breaks))})")
    if row.outcome == "error":
        return Markup(f"could not be judged: {md_inert(row.reason or 'no reason recorded')}")
    words = BLAST_WORDS.get(row.outcome, row.outcome)
    ids = f" ({', '.join(row.pre_existing)})" if row.outcome == "pre_existing" else ""
    return Markup(md_inert(words + ids))


def blast_facts(row: SampledServer) -> Markup:
    """`imports nemo_gym/x.py · merge base: its own run · 84.1 s`."""
    base = {"audit": "the last audit's result", "run": "its own run", "none": "not needed (nothing fails here)"}
    parts = [f"imports {code_list(row.modules, 10)}" if row.modules else "imports the change through a walk cut short"]
    if row.outcome != "error" or row.base_from != "none":
        parts.append(f"merge base: {base.get(row.base_from, row.base_from)}")
    if row.seconds is not None:
        parts.append(f"{row.seconds:.1f} s")
    return Markup(" · ".join(parts))


def reward_text(change: RewardChange) -> str:
    """`line 3: stored 1, base 1, head none (HTTP 422)` (escaped by the template)."""
    return reward_line(change)


# The template's filters for a core change (comment.md.j2's summary line and "Core change" section).
FILTERS = {
    "blast_line": blast_line,
    "blast_icon": blast_icon,
    "blast_outcome": blast_outcome,
    "blast_facts": blast_facts,
    "reward_text": reward_text,
    "code_list": code_list,
}
