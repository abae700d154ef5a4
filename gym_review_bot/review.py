"""The review pipeline, one way through: discover -> static checks -> sandbox -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from gym_review_bot import __version__
from gym_review_bot.checks import Checkout, ServerContext, check_server
from gym_review_bot.checks.evidence import review_evidence
from gym_review_bot.checks.pr_body import PrBodySettings, check_pr_body
from gym_review_bot.discover import Discovery, ServerTarget
from gym_review_bot.evidence.body import ParsedBody, parse_body
from gym_review_bot.models import Finding, PrReport, Report, ServerReport, make_fingerprint
from gym_review_bot.sandbox.catalogue import CHECK_IDS, error_findings, requirements_finding, skipped_findings
from gym_review_bot.sandbox.requirements import read_requirements

if TYPE_CHECKING:
    from gym_review_bot.sandbox.options import SandboxOptions

# run: the sandbox runs. not_requested: it was turned off (--no-docker, or outside PR mode without
# --docker): skipped, and the review is incomplete. unavailable: it should have run and could not
# (no daemon): its checks are `error`.
SandboxMode = Literal["run", "not_requested", "unavailable"]
STATIC_SANDBOX_CHECK = "GR207"  # reads requirement files only; runs whether or not the sandbox does
DYNAMIC_SANDBOX_CHECKS = [c for c in CHECK_IDS if c != STATIC_SANDBOX_CHECK]


@dataclass
class ReviewOptions:
    max_file_mb: float = 50
    sandbox: SandboxMode = "not_requested"
    sandbox_reason: str = "the sandbox was not requested"
    sandbox_options: SandboxOptions | None = None
    allow_url_deps: bool = False
    pr_body: str | None = None  # the PR description (--pr-body); None: not given
    pr_body_settings: PrBodySettings = field(default_factory=PrBodySettings)
    max_evidence_mb: float = 100

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def review(found: Discovery, options: ReviewOptions) -> Report:
    """Check every discovered server and assemble the report."""
    head = Checkout(found.head)
    base = Checkout(found.base) if found.base is not None else None
    body = parse_body(options.pr_body) if options.pr_body is not None else None
    added = [t.name for t in found.servers if t.status == "added"]
    servers = [_review_server(target, found, head, base, options, body, added) for target in found.servers]
    report = Report(
        tool_version=__version__,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        head_sha=found.head_sha,
        base_sha=found.base_sha,
        servers=servers,
        notes=list(found.notes),
    )
    if found.base is not None:  # a PR: its description is checked (or skipped as not requested)
        report.pr = PrReport(findings=check_pr_body(body, options.pr_body_settings))
    return report.finalize()


def _review_server(
    target: ServerTarget,
    found: Discovery,
    head: Checkout,
    base: Checkout | None,
    options: ReviewOptions,
    body: ParsedBody | None = None,
    added: list[str] | None = None,
) -> ServerReport:
    result = ServerReport(name=target.name, path=target.path, status=target.status)
    if target.status == "removed":
        return result
    ctx = ServerContext(found.head, target.name, head, options.max_file_bytes)
    result.findings = check_server(ctx)
    _run_sandbox(result, found, options)
    fingerprint_sandbox(result)
    if target.status == "added":  # a changed server is not asked for evidence
        max_bytes = int(options.max_evidence_mb * 1024 * 1024)
        settings = options.pr_body_settings
        replay, replay_skip = _evidence_replay(result, found, options)
        result.evidence, evidence = review_evidence(
            ctx, body, added or [], settings, max_bytes, options.sandbox, replay, replay_skip
        )
        result.findings += evidence
    if target.status == "changed" and base is not None:
        _mark_pre_existing(result.findings, ServerContext(base.tree, target.name, base, options.max_file_bytes))
    return result


def _evidence_replay(result: ServerReport, found: Discovery, options: ReviewOptions) -> tuple[object, str | None]:
    """GR408's replay when the sandbox replayed the example rollouts (GR203 ran), else why not."""
    if options.sandbox != "run" or options.sandbox_options is None:
        return None, None
    gr203 = next((f for f in result.findings if f.id == "GR203"), None)
    if gr203 is None or gr203.status not in ("pass", "fail"):
        reason = gr203.message.split("\n")[0] if gr203 else "the sandbox did not replay"
        return None, f"Not replayed: as for the example rollouts (GR203), {reason[:300]}"
    from gym_review_bot.evidence.replay import sandbox_replay

    return sandbox_replay(found.head, result.name, options.sandbox_options, found.head_sha or ""), None


def fingerprint_sandbox(result: ServerReport) -> None:
    """Sandbox findings are keyed by check, server and file (never log text, timings or container names)."""
    for finding in result.findings:
        if not finding.fingerprint:
            finding.fingerprint = make_fingerprint(finding.id, result.name, finding.file, finding.status)


def _mark_pre_existing(findings: list[Finding], base_ctx: ServerContext) -> None:
    """A failure is pre-existing only when the base has the same failure: same fingerprint, not just same check."""
    failed_before = {f.fingerprint for f in check_server(base_ctx) if f.status == "fail"}
    for finding in findings:
        if finding.status == "fail" and finding.fingerprint in failed_before:
            finding.pre_existing = True
            finding.message += " (Pre-existing: the base commit has this same failure.)"


BLOCKING_FOR_SANDBOX = ("GR100", "GR101", "GR103")


def _run_sandbox(result: ServerReport, found: Discovery, options: ReviewOptions) -> None:
    if options.sandbox != "run":
        result.findings.append(_static_requirements_finding(found, result.name, options))
        if options.sandbox == "unavailable":
            result.findings += error_findings(f"{options.sandbox_reason}.", DYNAMIC_SANDBOX_CHECKS)
        else:
            result.findings += skipped_findings(f"{options.sandbox_reason}.", "not_requested", DYNAMIC_SANDBOX_CHECKS)
        _order_sandbox(result)
        return
    blocked = [f.id for f in result.findings if f.id in BLOCKING_FOR_SANDBOX and f.status != "pass"]
    if blocked:
        result.findings.append(_static_requirements_finding(found, result.name, options))
        result.findings += skipped_findings(
            f"waits on {', '.join(blocked)} (the server cannot be built or booted without it).",
            "prerequisite_failed",
            DYNAMIC_SANDBOX_CHECKS,
        )
        _order_sandbox(result)
        return
    from gym_review_bot.sandbox.runner import run_sandbox  # the Docker SDK loads only when a sandbox runs

    assert options.sandbox_options is not None
    outcome = run_sandbox(found.head, result.name, options.sandbox_options)
    result.findings += outcome.findings
    result.timings = outcome.timings
    result.sandbox_ran = any(f.id == "GR201" and f.status in ("pass", "fail") for f in outcome.findings)


def _static_requirements_finding(found: Discovery, server: str, options: ReviewOptions) -> Finding:
    reqs = read_requirements(found.head, f"resources_servers/{server}", options.allow_url_deps)
    return requirements_finding(reqs, options.allow_url_deps)


def _order_sandbox(result: ServerReport) -> None:
    """Sandbox findings in id order (GR207 is made first, since it needs no daemon)."""
    result.findings.sort(key=lambda f: (f.id.startswith("GR2"), f.id))
