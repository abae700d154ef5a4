"""Many servers: `plan` lists the changed servers for a `strategy.matrix`; `merge-reports` joins their reports."""

from __future__ import annotations

import json
from pathlib import Path

import re2
from pydantic import ValidationError

from gym_review_bot.discover import discover_pr
from gym_review_bot.errors import UsageError
from gym_review_bot.judge import judge, recorded_waivers, sealed
from gym_review_bot.models import Finding, Report, ServerReport, make_fingerprint

SAFE_NAME = re2.compile(r"^[A-Za-z0-9_.-]+$")
PLAN_CHECK_ID = "GR000"  # "the review ran for this server": an error when a planned server has no report


def is_safe(name: str) -> bool:
    return bool(SAFE_NAME.match(name)) and name not in (".", "..")


def make_plan(repo: Path, base: str, head: str) -> str:
    """JSON: the servers to review (safe names only), the refused ones, and a matrix `include` list."""
    found = discover_pr(repo, base, head)
    names = [s.name for s in found.servers if s.status != "removed"]
    safe = [n for n in names if is_safe(n)]
    plan = {
        "head": found.head_sha,
        "base": found.base_sha,
        "servers": safe,
        "status": {s.name: s.status for s in found.servers if is_safe(s.name)},
        "refused": [n for n in names if not is_safe(n)],
        "include": [{"server": n} for n in safe],
    }
    return json.dumps(plan, separators=(",", ":"), ensure_ascii=True)


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


def merge_reports(plan_path: Path, report_paths: list[Path]) -> Report:
    """One report for the PR: every planned server once; a missing or refused one is `error`, never dropped."""
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        planned, refused = list(plan["servers"]), list(plan.get("refused", []))
        statuses = dict(plan.get("status", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--plan {plan_path}: not a plan from `gym-review plan` ({type(exc).__name__})") from None
    by_name: dict[str, ServerReport] = {}
    notes: list[str] = []
    first: Report | None = None  # the PR description's findings and the policy: the same in every job
    for path in report_paths:
        try:
            part = Report.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError):
            notes.append(f"A per-server report could not be read ({path.name}).")
            continue
        if plan.get("head") and part.head_sha != plan.get("head"):
            notes.append(f"A per-server report is for another commit and was not used ({path.name}).")
            continue
        first = first or part
        notes += [n for n in part.notes if n not in notes and "reviewed here; the PR also touches" not in n]
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
    # Judged as each job judged its part: with the config waivers the parts record (publish re-judges it all
    # under the trusted config, and refuses a report that claims what that config does not give).
    return sealed(report, judge(report, recorded_waivers(report)))[0]
