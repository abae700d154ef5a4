"""One server's verdict, from the one judge (judge.py): what the audit records and every surface shows."""

from __future__ import annotations

from dataclasses import dataclass

from gym_review_bot.audit.models import CheckStatus, Replay, ServerAudit
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.judge import Judgement, judge, recorded_waivers
from gym_review_bot.models import Report, ServerReport, Verdict


@dataclass(frozen=True)
class ServerVerdict:
    verdict: Verdict
    complete: bool
    checks: list[CheckStatus]
    failing: list[str]
    not_run: list[str]
    judgement: Judgement


def judge_server(server: ServerReport, catalogue: Catalogue) -> ServerVerdict:
    """Judge one server's findings with the waivers its report records (the registry's config waivers)."""
    report = Report(servers=[server])
    judgement = judge(report, recorded_waivers(report), catalogue)
    checks = [
        CheckStatus(id=j.finding.id, family=catalogue.family(j.finding.id), status=j.finding.status, klass=j.klass)
        for j in judgement.judged
    ]
    failing = [j.finding.id for j in judgement.where("blocking")]
    not_run = [j.finding.id for j in judgement.where("not_run")]
    return ServerVerdict(judgement.verdict, judgement.complete, checks, failing, not_run, judgement)


def not_judged(name: str, reason: str, when: str, commit: str | None) -> ServerAudit:
    """A server with no result (its review crashed, it was never run, its shard's report is missing): `error`."""
    return ServerAudit(
        name=name,
        path=f"resources_servers/{name}",
        verdict="error",
        replay=Replay(mode="not_run", detail=reason),
        verified_at=when,
        verified_commit=commit,
        reason=reason,
    )
