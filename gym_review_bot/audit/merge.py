"""Many runners, one audit: `audit-plan` lists the servers and the shards, `audit-merge` joins the shards'
reports. A planned server with no result is `error`, never a silent pass."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from gym_review_bot import git
from gym_review_bot.audit.delta import compute_delta, summarise
from gym_review_bot.audit.judging import not_judged
from gym_review_bot.audit.models import AUDIT_KIND, AUDIT_SCHEMA_VERSION, AuditReport, ServerAudit, Shard
from gym_review_bot.audit.shard import shard_count, share
from gym_review_bot.discover import discover_local
from gym_review_bot.errors import UsageError

PLAN_KIND = "gym-review-audit-plan"
MAX_REPORT_BYTES = 64 * 1024 * 1024


class AuditPlan(BaseModel):
    kind: str = PLAN_KIND
    commit: str | None = None
    servers: list[str] = Field(default_factory=list)
    shards: int = 1
    matrix: list[str] = Field(default_factory=list)  # "K/N" per shard, for a strategy.matrix


def make_plan(repo: Path, shards: int, names: list[str] | None = None) -> AuditPlan:
    """The servers of the checkout and N shards (at most one per server, at most GitHub's 256)."""
    root = repo.resolve()
    found = discover_local(root, names)
    servers = sorted(t.name for t in found.servers)
    count = shard_count(len(servers), shards)
    commit = git.resolve(root, "HEAD") if git.is_repo(root) else None
    return AuditPlan(commit=commit, servers=servers, shards=count, matrix=[f"{k}/{count}" for k in range(1, count + 1)])


def read_plan(path: Path) -> AuditPlan:
    try:
        plan = AuditPlan.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise UsageError(f"--plan {path}: not a plan from `gym-review audit-plan` ({type(exc).__name__})") from None
    if plan.kind != PLAN_KIND or not 1 <= plan.shards <= 256:
        raise UsageError(f"--plan {path}: not a plan from `gym-review audit-plan`")
    return plan


def read_report(path: Path) -> AuditReport:
    """An audit report, or UsageError saying why it cannot be read."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise UsageError(f"{path}: over {MAX_REPORT_BYTES // 1024 // 1024} MB; not an audit report")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("kind") != AUDIT_KIND or raw.get("schema") != AUDIT_SCHEMA_VERSION:
            raise ValueError("no `kind: gym-review-audit` and `schema: 1`")
        return AuditReport.model_validate(raw)
    except (OSError, ValueError, ValidationError) as exc:
        raise UsageError(f"{path}: not an audit report from `gym-review audit` ({type(exc).__name__})") from None


def read_given_report(path: Path | None, flag: str) -> AuditReport | None:
    """The audit report a command-line flag names, or None when it names none; UsageError naming the flag."""
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"{flag} {path}: no such file")
    try:
        return read_report(path)
    except UsageError as exc:
        raise UsageError(f"{flag} {exc}") from None


def report_files(paths: list[Path]) -> list[Path]:
    """The given files, and every *.json below the given directories (the workflow downloads one per shard)."""
    out: list[Path] = []
    for path in paths:
        out += sorted(p for p in path.rglob("*.json") if p.is_file()) if path.is_dir() else [path]
    return out


def merge_audits(plan: AuditPlan, paths: list[Path], previous: AuditReport | None = None) -> AuditReport:
    """One report: every planned server once, from the shard that ran it; missing ones are `error`."""
    notes: list[str] = []
    parts: list[AuditReport] = []
    for path in report_files(paths):
        try:
            part = read_report(path)
        except UsageError as exc:
            notes.append(f"A shard report could not be read ({path.name}): {exc}")
            continue
        if plan.commit and part.commit != plan.commit:
            notes.append(f"A shard report is for another commit and was not used ({path.name}).")
            continue
        parts.append(part)
    seen_shards = {p.shard.index: p for p in parts if p.shard and p.shard.count == plan.shards}
    results: dict[str, ServerAudit] = {}
    for part in parts:
        for entry in part.servers:
            if entry.name in plan.servers and entry.name not in results:
                results[entry.name] = entry
        notes += [n for n in part.notes if n not in notes]
    first = parts[0] if parts else None
    when = first.generated_at if first else ""
    servers = [results.get(n) or not_judged(n, _missing(n, plan, seen_shards), when, plan.commit) for n in plan.servers]
    verdict, summary = summarise(servers)
    finished = all(k in seen_shards and seen_shards[k].finished for k in range(1, plan.shards + 1))
    report = AuditReport(
        commit=plan.commit,
        planned=list(plan.servers),
        finished=finished,
        verdict=verdict,
        summary=summary,
        servers=servers,
        notes=notes,
        generated_at=when,
    )
    if first is not None:
        for name in ("tool_version", "repository", "server_url", "nemo_gym_tree", "base_image", "policy", "sandbox"):
            setattr(report, name, getattr(first, name))
    if previous is not None:
        report.delta = compute_delta(servers, previous, set(plan.servers))
    return report


def _missing(name: str, plan: AuditPlan, shards: dict[int, AuditReport]) -> str:
    index = next(k for k in range(1, plan.shards + 1) if name in share(plan.servers, Shard(index=k, count=plan.shards)))
    part = shards.get(index)
    where = f"shard {index}/{plan.shards}"
    if part is None:
        return f"no result: the report of {where} is missing (its job failed, was cancelled or was killed)"
    if not part.finished:
        return f"no result: {where} stopped before this server"
    return f"no result: {where} did not review it"


def plan_json(plan: AuditPlan) -> str:
    return json.dumps(plan.model_dump(), separators=(",", ":"), ensure_ascii=True)
