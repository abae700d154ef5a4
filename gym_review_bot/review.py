"""The review pipeline, one way through: discover -> static checks -> sandbox -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from gym_review_bot import __version__
from gym_review_bot.checks import Checkout, ServerContext, check_server
from gym_review_bot.checks.evidence import review_evidence
from gym_review_bot.checks.pr_body import PR_SCOPE, check_pr_body
from gym_review_bot.checks.pull import PullRequest, added_between
from gym_review_bot.discover import Discovery, ServerTarget
from gym_review_bot.evidence.body import ParsedBody, parse_body
from gym_review_bot.models import Finding, PrReport, Report, ServerReport
from gym_review_bot.policy import POLICY_FILE, LoadedPolicy, apply_policy, load_policy, policy_notes
from gym_review_bot.sandbox.catalogue import CHECK_IDS, error_findings, requirements_finding, skipped_findings
from gym_review_bot.sandbox.requirements import read_requirements
from gym_review_bot.sources import SourceTree

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
    max_evidence_mb: float = 100

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


@dataclass
class _PullFacts:
    """What every server's review shares: the registry's rules, the PR, its description, the run's notes."""

    rules: LoadedPolicy
    pull: PullRequest | None
    body: ParsedBody | None
    added: list[str] = field(default_factory=list)  # servers the PR adds (evidence is asked of these)
    notes: list[str] = field(default_factory=list)


def review(found: Discovery, options: ReviewOptions) -> Report:
    """Check every discovered server and assemble the report."""
    head = Checkout(found.head, trusted=found.base)  # policy facts (domains, licences) from the merge base
    base = Checkout(found.base) if found.base is not None else None
    rules = load_policy(found.base if found.base is not None else found.head)  # never the PR's head
    _add_package_hosts(options, rules)
    pull = _pull_request(found)
    pr = _PullFacts(rules, pull, parse_body(options.pr_body) if options.pr_body is not None else None)
    pr.added = found.added  # the PR's, not only those reviewed here: the body's statements count as for the PR
    servers = [_review_server(target, found, head, base, options, pr) for target in found.servers]
    report = Report(
        tool_version=__version__,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        head_sha=found.head_sha,
        base_sha=found.base_sha,
        servers=servers,
        notes=[*found.notes, *_policy_notes(found, rules), *pr.notes],
        policy=rules.source,
    )
    if found.base is not None:  # a PR: its description is checked (or skipped as not requested)
        report.pr = PrReport(findings=check_pr_body(pr.body, rules.policy.pr_body))  # the merge base's `pr_body:`
        apply_policy(report.pr.findings, PR_SCOPE, rules.policy, datetime.now(UTC).date())  # severity, waivers
    return report.finalize()


def _add_package_hosts(options: ReviewOptions, rules: LoadedPolicy) -> None:
    """The registry's extra package index hosts (from the trusted config) join --package-host."""
    if options.sandbox_options is None:
        return
    extra = [h if ":" in h else f"{h}:443" for h in rules.policy.sandbox.package_hosts]
    hosts = options.sandbox_options.package_hosts
    options.sandbox_options.package_hosts = hosts + [h for h in extra if h not in hosts]


def _policy_notes(found: Discovery, rules: LoadedPolicy) -> list[str]:
    notes = policy_notes(rules.policy, datetime.now(UTC).date())
    if found.base is not None:
        at_base, at_head = found.base.get(POLICY_FILE), found.head.get(POLICY_FILE)
        if (at_base and at_base.oid) != (at_head and at_head.oid):
            notes.append(
                f"This PR adds or changes {POLICY_FILE}; the review used the merge base's rules, and the "
                "change takes effect after merge."
            )
    return notes


def _pull_request(found: Discovery) -> PullRequest | None:
    """What the registry's rules need to know of the PR (PR mode only), shared by its servers."""
    if found.base is None:
        return None
    added = added_between(found.base, found.head, "resources_servers")
    return PullRequest(found.base, added, getattr(found.head, "repo", None), found.base_sha, found.head_sha)


def _review_server(
    target: ServerTarget,
    found: Discovery,
    head: Checkout,
    base: Checkout | None,
    options: ReviewOptions,
    pr: _PullFacts,
) -> ServerReport:
    result = ServerReport(name=target.name, path=target.path, status=target.status)
    if target.status == "removed":
        return result
    rules, notes = pr.rules, pr.notes
    ctx = ServerContext(found.head, target.name, head, options.max_file_bytes, policy=rules.policy, pull=pr.pull)
    result.findings = check_server(ctx)
    _run_sandbox(result, found, options, notes)
    if target.status == "added":  # a changed server is not asked for evidence
        max_bytes = int(options.max_evidence_mb * 1024 * 1024)
        replay, replay_skip = _evidence_replay(result, found, options)
        result.evidence, evidence = review_evidence(
            ctx, pr.body, pr.added, rules.policy.pr_body, max_bytes, options.sandbox, replay, replay_skip
        )
        result.findings += evidence
    apply_policy(result.findings, target.name, rules.policy, datetime.now(UTC).date())
    if target.status == "changed" and base is not None:
        base_ctx = ServerContext(base.tree, target.name, base, options.max_file_bytes, policy=rules.policy)
        base_findings = check_server(base_ctx)
        if _sandbox_failed(result.findings) and options.sandbox == "run":
            base_findings += _base_sandbox(base.tree, result, options, notes)
        _mark_pre_existing(result.findings, base_findings)
    return result


def _sandbox_failed(findings: list[Finding]) -> bool:
    return any(f.id in DYNAMIC_SANDBOX_CHECKS and f.status == "fail" for f in findings)


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


def _base_sandbox(base: SourceTree, result: ServerReport, options: ReviewOptions, notes: list[str]) -> list[Finding]:
    """The sandbox at the base commit, for a changed server that fails it at the head: what was already broken."""
    from gym_review_bot.sandbox.runner import run_sandbox

    assert options.sandbox_options is not None
    verify_expected = any(f.id == "GR102" and f.status == "pass" for f in result.findings)
    outcome = run_sandbox(base, result.name, options.sandbox_options, verify_expected=verify_expected)
    notes += outcome.notes
    return outcome.findings


def _mark_pre_existing(findings: list[Finding], base_findings: list[Finding]) -> None:
    """A failure is pre-existing only when the base has the same failure: same fingerprint, not just same check."""
    failed_before = {f.fingerprint for f in base_findings if f.status == "fail"}
    for finding in findings:
        if finding.status == "fail" and finding.fingerprint in failed_before:
            finding.pre_existing = True
            finding.message += " (Pre-existing: the base commit has this same failure.)"


BLOCKING_FOR_SANDBOX = ("GR100", "GR101", "GR103")


def _run_sandbox(result: ServerReport, found: Discovery, options: ReviewOptions, notes: list[str]) -> None:
    if options.sandbox != "run":
        result.findings.append(_static_requirements_finding(found, result.name, options))
        if options.sandbox == "unavailable":
            result.findings += error_findings(f"{options.sandbox_reason}.", result.name, DYNAMIC_SANDBOX_CHECKS)
        else:
            result.findings += skipped_findings(
                f"{options.sandbox_reason}.", "not_requested", result.name, DYNAMIC_SANDBOX_CHECKS
            )
        _order_sandbox(result)
        return
    blocked = [f.id for f in result.findings if f.id in BLOCKING_FOR_SANDBOX and f.status != "pass"]
    if blocked:
        result.findings.append(_static_requirements_finding(found, result.name, options))
        result.findings += skipped_findings(
            f"waits on {', '.join(blocked)} (the server cannot be built or booted without it).",
            "prerequisite_failed",
            result.name,
            DYNAMIC_SANDBOX_CHECKS,
        )
        _order_sandbox(result)
        return
    from gym_review_bot.sandbox.runner import run_sandbox  # the Docker SDK loads only when a sandbox runs

    assert options.sandbox_options is not None
    verify_expected = any(f.id == "GR102" and f.status == "pass" for f in result.findings)
    outcome = run_sandbox(found.head, result.name, options.sandbox_options, verify_expected=verify_expected)
    result.findings += outcome.findings
    result.timings = outcome.timings
    result.sandbox_ran = any(f.id == "GR201" and f.status in ("pass", "fail") for f in outcome.findings)
    notes += outcome.notes
    if outcome.verify_answered:
        _settle_gr102(result.findings)


def _settle_gr102(findings: list[Finding]) -> None:
    """GR102 that could not tell (its base class is outside the checkout) is settled by /verify answering."""
    for finding in findings:
        if finding.id == "GR102" and finding.status == "error":
            finding.status = "pass"
            finding.message = (
                "The sandbox settled it: the server answers POST /verify (the static check could not tell: "
                f"{finding.message})"
            )


def _static_requirements_finding(found: Discovery, server: str, options: ReviewOptions) -> Finding:
    reqs = read_requirements(found.head, f"resources_servers/{server}", options.allow_url_deps)
    return requirements_finding(reqs, options.allow_url_deps, server)


def _order_sandbox(result: ServerReport) -> None:
    """Sandbox findings in id order (GR207 is made first, since it needs no daemon)."""
    result.findings.sort(key=lambda f: (f.id.startswith("GR2"), f.id))
