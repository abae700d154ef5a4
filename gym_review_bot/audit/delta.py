"""What changed since the previous audit: newly failing, fixed, still failing since when, not judged now."""

from __future__ import annotations

from gym_review_bot.audit.models import AuditReport, AuditSummary, Delta, DeltaEntry, ServerAudit
from gym_review_bot.models import Verdict


def failing_since(entry: ServerAudit, before: ServerAudit | None, today: str, commit: str | None) -> ServerAudit:
    """A failing entry keeps the date it first failed while it keeps failing; other entries have none."""
    if entry.verdict != "fail":
        return entry.model_copy(update={"failing_since": None, "failing_since_commit": None})
    if before is not None and before.verdict == "fail" and before.failing_since:
        since, since_commit = before.failing_since, before.failing_since_commit
    elif entry.carried and entry.failing_since:
        since, since_commit = entry.failing_since, entry.failing_since_commit
    else:
        since, since_commit = today, commit
    return entry.model_copy(update={"failing_since": since, "failing_since_commit": since_commit})


def compute_delta(servers: list[ServerAudit], previous: AuditReport, every_server: set[str] | None) -> Delta:
    """Per server, its verdict now against the previous audit's; `every_server`: the checkout's servers, to
    say which were removed (None for one shard, which sees only its own)."""
    before = {s.name: s for s in previous.servers}
    delta = Delta(previous_generated_at=previous.generated_at, previous_commit=previous.commit)
    for entry in servers:
        prior = before.get(entry.name)
        if prior is None:
            delta.added.append(entry.name)
        was = prior.verdict if prior else None
        if entry.verdict == "fail":
            if was == "fail":
                delta.still_failing.append(
                    DeltaEntry(
                        name=entry.name,
                        checks=entry.failing,
                        since=entry.failing_since,
                        since_commit=entry.failing_since_commit,
                    )
                )
            else:
                delta.newly_failing.append(DeltaEntry(name=entry.name, checks=entry.failing))
        elif entry.verdict == "pass" and was == "fail":
            delta.fixed.append(DeltaEntry(name=entry.name, checks=prior.failing if prior else []))
        elif entry.verdict == "error" and was != "error":
            delta.newly_not_judged.append(DeltaEntry(name=entry.name, checks=entry.not_run))
    if every_server is not None:
        delta.removed = sorted(name for name in before if name not in every_server)
    return delta


def summarise(servers: list[ServerAudit]) -> tuple[Verdict, AuditSummary]:
    """The audit's verdict (fail when any server fails, else error when any could not be judged) and counts."""
    summary = AuditSummary(servers=len(servers))
    for s in servers:
        summary.passed += s.verdict == "pass"
        summary.failed += s.verdict == "fail"
        summary.not_judged += s.verdict not in ("pass", "fail")
        summary.incomplete += s.verdict == "pass" and not s.complete
        summary.carried += s.carried
        summary.run += not s.carried and s.keys is not None
    verdict: Verdict = "fail" if summary.failed else "error" if summary.not_judged else "pass"
    return verdict, summary
