"""The one judge: from a report's findings and the waivers, every verdict the bot shows, computed once.

`judge` is pure: it never changes a finding. The exit code, the JSON `verdict` / `complete` /
`summary`, the terminal, the comment's headline, icons and table, the commit status, the label, the
merge gate and the annotations all read its `Judgement`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from gym_review_bot.models import Finding, Report, Summary, Verdict, WaiverInfo
from gym_review_bot.waiver import Waiver

if TYPE_CHECKING:
    from gym_review_bot.catalogue import Catalogue

# What one finding means for the PR: it blocks; it could not run (never a pass); it is a warning; a
# waiver covers it; the merge base fails it the same way; it was skipped; it passed.
Klass = Literal["blocking", "not_run", "warning", "waived", "pre_existing", "skipped", "passed"]
# The headline every surface shows: incomplete is a pass with parts not looked at (still not green).
Headline = Literal["pass", "fail", "error", "incomplete"]
StatusState = Literal["success", "failure", "error"]
LabelKey = Literal["changes_requested", "needs_evidence", "incomplete", "passing"]
EVIDENCE_FAMILIES = frozenset({"description", "evidence"})  # only these failing: the PR needs evidence


@dataclass(frozen=True)
class Judged:
    finding: Finding
    server: str | None  # the server's name; None for the PR's own findings (report.pr)
    klass: Klass
    waiver: Waiver | None = None


@dataclass(frozen=True)
class Judgement:
    judged: tuple[Judged, ...]
    verdict: Verdict
    complete: bool
    headline: Headline
    state: StatusState
    label: LabelKey
    summary: Summary
    incomplete: tuple[str, ...]  # why the review is not complete, in words (empty when it is)
    catalogue: Catalogue = field(repr=False, compare=False)  # the checks it judged by (families, columns)
    _index: dict[int, Judged] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {id(item.finding): item for item in self.judged})

    def of(self, finding: Finding) -> Judged:
        """The judgement of one of the report's own findings (by identity: the judge copies nothing)."""
        return self._index[id(finding)]

    def klass(self, finding: Finding) -> Klass:
        return self.of(finding).klass

    def where(self, *klasses: Klass) -> list[Judged]:
        return [item for item in self.judged if item.klass in klasses]

    @property
    def failing(self) -> list[tuple[str, str]]:
        """(check id, fingerprint) of every blocking failure, in report order."""
        return [(j.finding.id, j.finding.fingerprint) for j in self.where("blocking")]

    def server_blocks(self, name: str) -> bool:
        return any(j.klass == "blocking" for j in self.judged if j.server == name)


def _klass(finding: Finding, server: str | None, waivers: list[Waiver], today: date) -> tuple[Klass, Waiver | None]:
    if finding.status == "pass":
        return "passed", None
    if finding.status == "skip":
        return "skipped", None
    if finding.status != "fail":  # `error`, and any status a later schema adds: never a pass
        return "not_run", None
    if finding.pre_existing:
        return "pre_existing", None
    waiver = next((w for w in waivers if w.covers(finding.id, finding.fingerprint, server, today)), None)
    if waiver is not None:
        return "waived", waiver
    return ("blocking" if finding.severity == "error" else "warning"), None


def judge(
    report: Report, waivers: Iterable[Waiver] = (), catalogue: Catalogue | None = None, today: date | None = None
) -> Judgement:
    """Judge every finding of the report; config waivers apply before overrides."""
    from gym_review_bot.catalogue import Catalogue  # the checks load only when a report is judged

    catalogue = catalogue or Catalogue()
    today = today or datetime.now(UTC).date()
    ordered = sorted(waivers, key=lambda w: w.source != "config")  # stable: config first, then the rest
    scoped = [(f, s.name) for s in report.servers for f in s.findings]
    scoped += [(f, None) for f in (report.pr.findings if report.pr else [])]
    judged = tuple(Judged(f, name, *_klass(f, name, ordered, today)) for f, name in scoped)
    counts = Counter(j.klass for j in judged)
    summary = Summary(
        servers=len(report.servers),
        passed=counts["passed"],
        errors=counts["blocking"],
        warnings=counts["warning"],
        skipped=counts["skipped"],
        not_run=counts["not_run"],
        pre_existing=counts["pre_existing"],
        waived=counts["waived"],
    )
    reasons = _incomplete_reasons(report, judged)
    blocking = [j for j in judged if j.klass == "blocking"]
    cannot_tell = any(j.klass == "not_run" and j.finding.severity == "error" for j in judged)
    verdict: Verdict = "fail" if blocking else "error" if cannot_tell else "pass"
    complete = not reasons
    if verdict == "fail":
        families = {catalogue.family(j.finding.id) for j in blocking}
        label: LabelKey = "needs_evidence" if families <= EVIDENCE_FAMILIES else "changes_requested"
        headline: Headline = "fail"
        state: StatusState = "failure"
    elif verdict == "error" or not complete:
        label, headline, state = "incomplete", "error" if verdict == "error" else "incomplete", "error"
    else:
        label, headline, state = "passing", "pass", "success"
    return Judgement(judged, verdict, complete, headline, state, label, summary, reasons, catalogue)


def _incomplete_reasons(report: Report, judged: tuple[Judged, ...]) -> tuple[str, ...]:
    """Why the review is not complete: checks that could not run or were not requested, a sandbox not run."""
    not_run = sum(j.klass == "not_run" for j in judged)
    not_requested = sum(j.finding.skip_kind == "not_requested" for j in judged if j.klass == "skipped")
    no_sandbox = [s for s in report.servers if s.status in ("added", "changed") and not s.sandbox_ran]
    reasons = []
    if no_sandbox:
        reasons.append(f"sandbox not run ({_count(len(no_sandbox), 'server')})")
    if not_run:
        reasons.append(f"{_count(not_run, 'check')} could not run")
    if not_requested:
        reasons.append(f"{_count(not_requested, 'check')} not requested")
    return tuple(reasons)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def sealed(report: Report, judgement: Judgement) -> tuple[Report, Judgement]:
    """A copy of the report carrying the judgement (verdict, complete, summary, and each config waiver recorded
    on the finding it covers; overrides are GitHub's, never written into a report), and the judgement of it."""
    out = deepcopy(report)
    out.verdict, out.complete, out.summary = judgement.verdict, judgement.complete, judgement.summary
    copies = [f for s in out.servers for f in s.findings] + (out.pr.findings if out.pr else [])
    rebound = []
    for copy, item in zip(copies, judgement.judged, strict=True):
        w = item.waiver
        copy.waived = WaiverInfo(reason=w.reason, expires=w.expires) if w and w.source == "config" else None
        rebound.append(replace(item, finding=copy))
    return out, replace(judgement, judged=tuple(rebound))


def recorded_waivers(report: Report) -> list[Waiver]:
    """The config waivers a report records on its findings, to judge it again the same way (merge-reports,
    the job summary); publish judges with the trusted config's waivers instead and compares."""
    found = [(f, s.name) for s in report.servers for f in s.findings]
    found += [(f, None) for f in (report.pr.findings if report.pr else [])]
    return [
        Waiver(f.id, f.waived.reason, "config", f.fingerprint, name, f.waived.expires)
        for f, name in found
        if f.waived is not None and f.waived.source == "config"
    ]
