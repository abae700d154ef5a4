"""Many servers: `plan` lists the changed servers for a `strategy.matrix`; `merge-reports` joins their reports."""

from __future__ import annotations

import json
from pathlib import Path

import re2
from pydantic import ValidationError

from gym_review_bot.blast import BLAST_JOB_NOTE
from gym_review_bot.discover import Discovery, discover_pr
from gym_review_bot.errors import UsageError
from gym_review_bot.models import (
    BlastRadius,
    Finding,
    Report,
    SampledServer,
    ServerReport,
    adapter,
    make_fingerprint,
    plain,
    read_report,
)
from gym_review_bot.text import escape_output

SAFE_NAME = re2.compile(r"^[A-Za-z0-9_.-]+$")
PLAN_CHECK_ID = "GR000"  # "the review ran for this server": an error when a planned server has no report


def is_safe(name: str) -> bool:
    return bool(SAFE_NAME.match(name)) and name not in (".", "..")


def make_plan(repo: Path, base: str, head: str, audit: Path | None = None) -> str:
    """JSON: the servers to review (safe names only), the refused ones, and a matrix `include` list; for a PR
    changing shared code, `blast`: the servers it reaches and the sample the blast jobs review (else null)."""
    found = discover_pr(repo, base, head)
    names = [s.name for s in found.servers if s.status != "removed"]
    safe = [n for n in names if is_safe(n)]
    plan = {
        "head": found.head_sha,
        "base": found.base_sha,
        "servers": safe,
        "status": {s.name: s.status for s in found.servers if is_safe(s.name)},
        "refused": [escape_output(n) for n in names if not is_safe(n)],  # shown in the log: no `##[`, no controls
        "include": [{"server": n} for n in safe],
        "blast": blast_plan(found, audit),
    }
    return json.dumps(plan, separators=(",", ":"), ensure_ascii=True)


def blast_plan(found: Discovery, audit_path: Path | None) -> dict | None:
    """The core change's reach and sample (only safe names reach the matrix), and what the sample costs: its
    servers x one server's median sandbox time (from the last audit, else the documented default), plus at most
    as many runs again at the merge base for those no audit result covers."""
    from gym_review_bot.blast.baseline import base_keys, from_audit, median_seconds, read_audit
    from gym_review_bot.blast.sample import find_radius
    from gym_review_bot.config import load_policy

    assert found.base is not None
    audit = read_audit(audit_path)
    radius = find_radius(found, load_policy(found.base).policy.github.audit_sample)
    if radius is None:
        return None
    radius.not_sampled += [n for n in radius.sampled if not is_safe(n)]
    radius.sampled = [n for n in radius.sampled if is_safe(n)]
    keys = base_keys(found, radius.sampled) if audit is not None else None
    covered = [n for n in radius.sampled if keys is not None and from_audit(audit, n, keys) is not None]
    median, source = median_seconds(audit)
    runs = len(radius.sampled) + len(radius.sampled) - len(covered)
    cost = {
        "servers": len(radius.sampled),
        "median_s": median,
        "median_from": source,
        "seconds": round(len(radius.sampled) * median, 1),
        "base_from_audit": covered,
        "seconds_at_most": round(runs * median, 1),  # each sampled server failing here also run at the merge base
    }
    plan = {k: v for k, v in plain(radius).items() if k not in ("results", "reason")}
    return {**plan, "count": len(radius.affected), "cost": cost}


def _error_server(name: str, status: str, message: str) -> ServerReport:
    shown = name if is_safe(name) else "(a server with an unsafe name)"
    finding = Finding(
        id=PLAN_CHECK_ID,
        severity="error",
        status="error",
        title="Review ran for this server",
        message=message,
        fingerprint=make_fingerprint(PLAN_CHECK_ID, shown, None, message),
    )
    return ServerReport(name=shown, path=f"resources_servers/{shown}", status=status, findings=[finding])


def _job_note(note: str) -> bool:
    """A job's note on what it reviewed (one of the PR's servers, one sampled server): not the joined report's."""
    return "reviewed here; the PR also touches" in note or note.startswith(BLAST_JOB_NOTE)


def _joined_blast(planned: dict, parts: list[Report]) -> BlastRadius:
    """The plan's reach and sample with each sampled server's row from its blast job; a sampled server whose job
    left no row is `error`, never dropped."""
    try:
        radius = adapter(BlastRadius).validate_python(planned)
    except ValidationError:
        raise UsageError("--plan: its `blast` section is not one `gym-review plan` writes") from None
    rows: dict[str, SampledServer] = {}
    for part in parts:
        for row in part.blast.results if part.blast else []:
            if row.name in radius.sampled and row.name not in rows:
                rows[row.name] = row
    missing = "its blast job's report is missing (job failed?)"
    radius.results = [
        rows.get(n) or SampledServer(name=n, modules=_modules(radius, n), outcome="error", reason=missing)
        for n in radius.sampled
    ]
    return radius


def _modules(radius: BlastRadius, name: str) -> list[str]:
    return next((s.modules for s in radius.affected if s.name == name), [])


def _blast_finding(finding: Finding, radius: BlastRadius) -> Finding:
    """GR501 of the joined report, from every sampled server's row (a job's own says only what it saw); the
    severity is the one the jobs gave it under the merge base's rules, and a GR501 the rules turn off stays off."""
    from gym_review_bot.checks.base import make_finding
    from gym_review_bot.checks.blast import BLAST_CHECK, breaks_outcome
    from gym_review_bot.checks.blast import CHECKS as BLAST_CHECKS
    from gym_review_bot.checks.pull import PR_SCOPE

    if finding.id != BLAST_CHECK or finding.skip_kind == "disabled_by_policy":
        return finding
    check = next(c for c in BLAST_CHECKS if c.id == BLAST_CHECK)
    return make_finding(check, breaks_outcome(radius), PR_SCOPE, finding.severity)


def merge_reports(plan_path: Path, report_paths: list[Path]) -> Report:
    """One report for the PR: every planned server once; a missing or refused one is `error`, never dropped."""
    from gym_review_bot.judge import judge, recorded_waivers, sealed  # the checks load for merge-reports, not plan

    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        planned, refused = list(plan["servers"]), list(plan.get("refused", []))
        statuses = dict(plan.get("status", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--plan {plan_path}: not a plan from `gym-review plan` ({type(exc).__name__})") from None
    by_name: dict[str, ServerReport] = {}
    notes: list[str] = []
    first: Report | None = None  # the PR description's findings and the policy: the same in every job
    parts: list[Report] = []
    for path in report_paths:
        try:
            part = read_report(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError):
            notes.append(f"A per-server report could not be read ({path.name}).")
            continue
        if plan.get("head") and part.head_sha != plan.get("head"):
            notes.append(f"A per-server report is for another commit and was not used ({path.name}).")
            continue
        first = first or part
        parts.append(part)
        notes += [n for n in part.notes if n not in notes and not _job_note(n)]
        for server in part.servers:
            if server.name in planned and server.name not in by_name:
                server.status = statuses.get(server.name, server.status)
                by_name[server.name] = server
    servers = [
        by_name.get(n) or _error_server(n, statuses.get(n, "changed"), "its review report is missing (job failed?)")
        for n in planned
    ]
    servers += [_error_server(n, "added", "its name has characters outside [A-Za-z0-9_.-]") for n in refused]
    report = Report(head_sha=plan.get("head"), base_sha=plan.get("base"), servers=servers, notes=notes)
    if first is not None:
        report.pr, report.policy, report.tool_version = first.pr, first.policy, first.tool_version
        report.not_reviewed, report.generated_at = first.not_reviewed, first.generated_at
    if plan.get("blast"):
        report.blast = _joined_blast(plan["blast"], parts)
        if report.pr is not None:
            report.pr.findings = [_blast_finding(f, report.blast) for f in report.pr.findings]
    # Judged as each job judged its part: with the config waivers the parts record (publish re-judges it all
    # under the trusted config, and refuses a report that claims what that config does not give).
    return sealed(report, judge(report, recorded_waivers(report)))[0]
