"""From a report and its waivers to what GitHub shows: effective verdict, commit status and the one label."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gym_review_bot.models import Finding, Report, WaiverInfo

EVIDENCE_ID = re.compile(r"^GR[34]\d\d$")  # evidence checks (a later issue adds them)
VERIFIED_ID = "GR118"  # a PR setting `verified: true`: passing when its author may maintain the repository


@dataclass(frozen=True)
class Waiver:
    """A failing finding counted as passing: by a maintainer's override or by the author's own permission."""

    check_id: str
    fingerprint: str
    reason: str
    by: str
    source: str = "override"  # override | maintainer


@dataclass
class Decision:
    verdict: str  # effective: pass | fail | error
    complete: bool
    state: str  # commit status: success | failure | error
    label: str  # a key of Labels: changes_requested | needs_evidence | incomplete | passing
    blocking: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)

    @property
    def failing(self) -> list[tuple[str, str]]:
        return [(f.id, f.fingerprint) for f in self.blocking]


def decide(report: Report, waivers: dict[str, Waiver]) -> Decision:
    """Blocking failures not waived decide `failure`; otherwise an error verdict or an incomplete review is `error`."""
    blocking, waived = [], []
    findings = [f for server in report.servers for f in server.findings]
    findings += report.pr.findings if report.pr else []  # the PR description (GR3xx) blocks like a server's finding
    for finding in findings:
        if not finding.blocks_merge:
            continue
        waiver = waivers.get(finding.fingerprint)
        if waiver and waiver.check_id == finding.id:
            waived.append((finding, waiver))
            _mark_waived(finding, waiver)
        else:
            blocking.append(finding)
    if blocking:
        verdict, state = "fail", "failure"
        evidence_only = all(EVIDENCE_ID.match(f.id) for f in blocking)
        label = "needs_evidence" if evidence_only else "changes_requested"
    elif report.verdict == "error" or not report.complete:
        verdict, state, label = "error", "error", "incomplete"
    else:
        verdict, state, label = "pass", "success", "passing"
    return Decision(verdict, report.complete, state, label, blocking, waived)


def _mark_waived(finding: Finding, waiver: Waiver) -> None:
    """Record the waiver on the finding; an author's own permission (GR118) is recorded like an override."""
    finding.waived = WaiverInfo(reason=waiver.reason, source="override", by=waiver.by)
