"""The review pipeline, one way through: discover -> static checks -> sandbox -> Report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gym_review_bot.checks import Checkout, ServerContext, check_server
from gym_review_bot.discover import Discovery, ServerTarget
from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.sandbox.catalogue import skipped_findings

if TYPE_CHECKING:
    from gym_review_bot.sandbox.options import SandboxOptions

SandboxMode = Literal["run", "skip"]


@dataclass
class ReviewOptions:
    max_file_mb: float = 50
    sandbox: SandboxMode = "skip"
    sandbox_skip_reason: str = "the sandbox was not requested"
    sandbox_options: SandboxOptions | None = None

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def review(found: Discovery, options: ReviewOptions) -> Report:
    """Check every discovered server and assemble the report."""
    head = Checkout(found.head)
    base = Checkout(found.base) if found.base is not None else None
    servers = [_review_server(target, found, head, base, options) for target in found.servers]
    report = Report(
        head_sha=found.head_sha,
        base_sha=found.base_sha,
        servers=servers,
        notes=list(found.notes),
    )
    return report.finalize()


def _review_server(
    target: ServerTarget, found: Discovery, head: Checkout, base: Checkout | None, options: ReviewOptions
) -> ServerReport:
    result = ServerReport(name=target.name, path=target.path, status=target.status)
    if target.status == "removed":
        return result
    ctx = ServerContext(found.head, target.name, head, options.max_file_bytes)
    result.findings = check_server(ctx)
    if target.status == "changed" and base is not None:
        _mark_pre_existing(result.findings, ServerContext(base.tree, target.name, base, options.max_file_bytes))
    _run_sandbox(result, found, options)
    return result


def _mark_pre_existing(findings: list[Finding], base_ctx: ServerContext) -> None:
    """A failure the base commit already had does not block a PR that merely touches the server."""
    failed_before = {f.id for f in check_server(base_ctx) if f.status == "fail"}
    for finding in findings:
        if finding.status == "fail" and finding.id in failed_before:
            finding.pre_existing = True
            finding.message += " (Pre-existing: the base commit fails this check too.)"


BLOCKING_FOR_SANDBOX = ("GR100", "GR101", "GR103")


def _run_sandbox(result: ServerReport, found: Discovery, options: ReviewOptions) -> None:
    if options.sandbox == "skip":
        result.findings += skipped_findings(f"{options.sandbox_skip_reason}.")
        return
    blocked = [f.id for f in result.findings if f.id in BLOCKING_FOR_SANDBOX and f.status != "pass"]
    if blocked:
        result.findings += skipped_findings(
            f"waits on {', '.join(blocked)} (the server cannot be built or booted without it)."
        )
        return
    from gym_review_bot.sandbox.runner import run_sandbox  # the Docker SDK loads only when a sandbox runs

    assert options.sandbox_options is not None
    outcome = run_sandbox(found.head, result.name, options.sandbox_options)
    result.findings += outcome.findings
    result.timings = outcome.timings
