"""The review pipeline, one way through: discover -> static checks -> sandbox -> evidence -> judge -> Report."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple

from gym_review_bot import __version__
from gym_review_bot.blast.affected import changed_shared
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.base import Check, apply_rules, run_checks
from gym_review_bot.checks.blast import BlastContext
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.evidence import review_evidence
from gym_review_bot.checks.pull import PR_SCOPE, PullRequest
from gym_review_bot.config import POLICY_FILE, LoadedPolicy, load_policy, policy_notes
from gym_review_bot.discover import SERVERS_DIR, Discovery, ServerTarget
from gym_review_bot.errors import UsageError
from gym_review_bot.evidence.body import ParsedBody, parse_body
from gym_review_bot.judge import Judgement, judge, sealed
from gym_review_bot.models import BlastRadius, Finding, PrReport, Report, ServerReport
from gym_review_bot.renames import RenamedTree
from gym_review_bot.sandbox.catalogue import error_findings, skipped_findings
from gym_review_bot.sources import GitTree, SourceTree

if TYPE_CHECKING:
    from gym_review_bot.sandbox.options import SandboxOptions

# run: the sandbox runs. not_requested: it was turned off (--no-docker, or outside PR mode without
# --docker): skipped, and the review is incomplete. unavailable: it should have run and could not
# (no daemon): its checks are `error`.
SandboxMode = Literal["run", "not_requested", "unavailable"]
VERIFY_CHECK = "GR102"  # a verify() found statically; settled by the sandbox when it could not tell
BUILD_CHECK = "GR201"  # the sandbox ran when it judged the build (pass or fail)
REPLAY_CHECK = "GR203"  # GR408 replays the PR's evidence only where the example rollouts were replayed


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
    catalogue: Catalogue
    pull: PullRequest | None
    body: ParsedBody | None
    added: list[str] = field(default_factory=list)  # servers the PR adds (evidence is asked of these)
    notes: list[str] = field(default_factory=list)


def options_from_flags(args: argparse.Namespace, pr_mode: bool) -> ReviewOptions:
    """The review's options from a command's flags: whether the sandbox runs (`run`), was turned off
    (`not_requested`) or should run and cannot (`unavailable`); `--docker` without a daemon exits 2."""
    options = ReviewOptions(max_file_mb=args.max_file_mb, allow_url_deps=args.allow_url_deps)
    if args.docker is False:
        options.sandbox_reason = "--no-docker was given"
        return options
    if args.docker is None and not pr_mode:
        options.sandbox_reason = "outside PR mode (--base) the sandbox runs only with --docker"
        return options
    from gym_review_bot.sandbox.docker_api import unavailable_reason
    from gym_review_bot.sandbox.options import options_from_args

    reason = unavailable_reason()
    if reason:
        if args.docker:
            raise UsageError(f"--docker: no Docker daemon reachable ({reason})")
        options.sandbox = "unavailable"
        options.sandbox_reason = f"no Docker daemon reachable ({reason}); pass --no-docker to review without it"
        return options
    options.sandbox = "run"
    options.sandbox_options = options_from_args(args)
    return options


class Reviewed(NamedTuple):
    """A review's result: the report (carrying the judgement's verdict, complete and summary) and the judgement."""

    report: Report
    judgement: Judgement


def review(found: Discovery, options: ReviewOptions, blast: BlastRadius | None = None) -> Reviewed:
    """Check every discovered server, judge the findings once, and return both. `blast`: a PR changing shared
    code, the servers it reaches and how the sample fared (blast/; GR501); None when it changes none."""
    rules = load_policy(found.base if found.base is not None else found.head)  # never the PR's head
    catalogue = Catalogue(rules.policy)  # unknown check ids in the rules stop here (exit 2)
    head = Checkout(found.head, trusted=found.base)  # policy facts (domains, licences) from the merge base
    base = Checkout(found.base) if found.base is not None else None
    _add_package_hosts(options, rules)
    pull = _pull_request(found)
    body = parse_body(options.pr_body) if options.pr_body is not None else None
    pr = _PullFacts(rules, catalogue, pull, body, added=found.added)  # the PR's added servers, not only these
    blast = blast or _unsampled(found)
    servers = [_review_server(target, found, head, base, options, pr) for target in found.servers]
    report = Report(
        tool_version=__version__,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        head_sha=found.head_sha,
        base_sha=found.base_sha,
        servers=servers,
        not_reviewed=found.not_reviewed,
        notes=list(dict.fromkeys([*found.notes, *_policy_notes(found, rules), *pr.notes])),  # each once
        policy=rules.source,
        blast=blast,
    )
    if found.base is not None:  # a PR: its description, its commits and its reach are checked (or skipped, saying why)
        ctx = BlastContext(body, rules.policy, pull, blast=blast)
        report.pr = PrReport(findings=run_checks(catalogue.pr_checks(), ctx, PR_SCOPE, rules.policy))
    return Reviewed(*sealed(report, judge(report, rules.policy.config_waivers(), catalogue)))


def _unsampled(found: Discovery) -> BlastRadius | None:
    """A PR changing shared code whose reach this run was not asked to judge: GR501 says it was not sampled."""
    modules = changed_shared(found)
    if not modules:
        return None
    return BlastRadius(modules=modules, reason="the servers this change reaches were not sampled in this run.")


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
    if found.base is None or not isinstance(found.head, GitTree) or not (found.base_sha and found.head_sha):
        return None
    # Present at the head and absent at the base: git's "added" (renames split into delete + add).
    added = frozenset(c.path for c in found.changes() if c.status == "A" and c.path.startswith(f"{SERVERS_DIR}/"))
    return PullRequest(found.base, added, found.head.repo, found.base_sha, found.head_sha)


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
    policy, catalogue = pr.rules.policy, pr.catalogue
    ctx = ServerContext(
        found.head,
        target.name,
        head,
        options.max_file_bytes,
        policy=policy,
        pull=pr.pull,
        allow_url_deps=options.allow_url_deps,
        renamed_from=target.renamed_from,
        reworked=target.reworked,
    )
    findings = run_checks(catalogue.static_server_checks(), ctx, target.name, policy)
    sandbox, verify_answered = _run_sandbox(result, findings, found, options, pr)
    if verify_answered:  # GR102 that could not tell (its base class is outside the checkout) is settled
        findings = [_settled(f) if f.id == VERIFY_CHECK and f.status == "error" else f for f in findings]
    findings += sandbox
    if target.status == "added" or target.reworked:  # a changed server is not asked for evidence
        max_bytes = int(options.max_evidence_mb * 1024 * 1024)
        replay, replay_skip = _evidence_replay(result.name, findings, found, options)
        result.evidence, evidence = review_evidence(
            ctx, pr.body, pr.added, policy, max_bytes, options.sandbox, replay, replay_skip
        )
        findings += evidence
    if target.status == "changed" and base is not None:
        if target.renamed_from:  # the old server seen at the new path: base findings name the head's paths
            base = Checkout(RenamedTree(base.tree, target.renamed_from, target.name))
        base_ctx = ServerContext(
            base.tree, target.name, base, options.max_file_bytes, policy=policy, allow_url_deps=options.allow_url_deps
        )
        base_findings = run_checks(catalogue.static_server_checks(), base_ctx, target.name, policy)
        if options.sandbox == "run" and any(f.status == "fail" for f in findings if _is_sandbox(f, catalogue)):
            base_findings += _base_sandbox(base.tree, result.name, findings, options, pr.notes)
        findings = _mark_pre_existing(findings, base_findings)
    result.findings = catalogue.order(findings)
    return result


def _is_sandbox(finding: Finding, catalogue: Catalogue) -> bool:
    check = catalogue.get(finding.id)
    return check is not None and check.phase == "sandbox"


def _evidence_replay(
    name: str, findings: list[Finding], found: Discovery, options: ReviewOptions
) -> tuple[object, str | None]:
    """GR408's replay when the sandbox replayed the example rollouts (GR203 ran), else why not."""
    if options.sandbox != "run" or options.sandbox_options is None:
        return None, None
    replayed = next((f for f in findings if f.id == REPLAY_CHECK), None)
    if replayed is None or replayed.status not in ("pass", "fail"):
        reason = replayed.message.split("\n")[0] if replayed else "the sandbox did not replay"
        return None, f"Not replayed: as for the example rollouts ({REPLAY_CHECK}), {reason[:300]}"
    from gym_review_bot.sandbox.evidence_replay import sandbox_replay

    return sandbox_replay(found.head, name, options.sandbox_options, found.head_sha or ""), None


def _base_sandbox(
    base: SourceTree, name: str, findings: list[Finding], options: ReviewOptions, notes: list[str]
) -> list[Finding]:
    """The sandbox at the base commit, for a changed server that fails it at the head: what was already broken."""
    from gym_review_bot.sandbox.runner import run_sandbox

    assert options.sandbox_options is not None
    verify_expected = any(f.id == VERIFY_CHECK and f.status == "pass" for f in findings)
    outcome = run_sandbox(base, name, options.sandbox_options, verify_expected=verify_expected)
    notes += outcome.notes
    return outcome.findings


def _mark_pre_existing(findings: list[Finding], base_findings: list[Finding]) -> list[Finding]:
    """A failure is pre-existing only when the base has the same failure: same fingerprint, not just same check;
    or, for a finding whose locations carry keys (one per problem), when the base's finding of that check had
    every one of its problems (one new problem makes it new)."""
    failed_before = {f.fingerprint for f in base_findings if f.status == "fail"}
    problems_before = {(f.id, loc.key) for f in base_findings if f.status == "fail" for loc in f.locations if loc.key}
    return [
        replace(f, pre_existing=True, message=f.message + " (Pre-existing: the base commit has this same failure.)")
        if f.status == "fail" and (f.fingerprint in failed_before or _problems_within(f, problems_before))
        else f
        for f in findings
    ]


def _problems_within(finding: Finding, problems_before: set[tuple[str, str | None]]) -> bool:
    keys = [loc.key for loc in finding.locations]
    return bool(keys) and all(keys) and all((finding.id, key) in problems_before for key in keys)


def _run_sandbox(
    result: ServerReport, static: list[Finding], found: Discovery, options: ReviewOptions, pr: _PullFacts
) -> tuple[list[Finding], bool]:
    """The sandbox checks' findings for one server (skipped or `error`, saying why, when it does not run), and
    whether POST /verify answered."""
    checks = pr.catalogue.sandbox_checks()
    ids = [c.id for c in checks]
    if options.sandbox != "run":
        if options.sandbox == "unavailable":
            made = error_findings(f"{options.sandbox_reason}.", result.name, ids)
        else:
            made = skipped_findings(f"{options.sandbox_reason}.", "not_requested", result.name, ids)
        return _under_rules(made, checks, pr), False
    blocked = _blocked(checks, static)
    if blocked:
        reason = f"waits on {', '.join(blocked)} (the server cannot be built or booted without it)."
        return _under_rules(skipped_findings(reason, "prerequisite_failed", result.name, ids), checks, pr), False
    from gym_review_bot.sandbox.runner import run_sandbox  # the Docker SDK loads only when a sandbox runs

    assert options.sandbox_options is not None
    verify_expected = any(f.id == VERIFY_CHECK and f.status == "pass" for f in static)
    from gym_review_bot.sandbox.replay import NOT_A_PR, server_change

    change = NOT_A_PR
    if result.status == "changed" and found.base is not None:  # a stale recorded judge is pre-existing when untouched
        change = server_change(found.base, found.head, result.path)
    outcome = run_sandbox(
        found.head, result.name, options.sandbox_options, verify_expected=verify_expected, change=change
    )
    result.timings, result.replay = outcome.timings, outcome.replay
    result.sandbox_ran = any(f.id == BUILD_CHECK and f.status in ("pass", "fail") for f in outcome.findings)
    pr.notes.extend(outcome.notes)
    return _under_rules(outcome.findings, checks, pr), outcome.verify_answered


def _blocked(checks: list[Check], static: list[Finding]) -> list[str]:
    """The static checks the sandbox waits on (every sandbox check's `needs`) that did not pass."""
    needs = sorted({need for check in checks for need in check.needs})
    return [f.id for f in static if f.id in needs and f.status != "pass"]


def _under_rules(findings: list[Finding], checks: list[Check], pr: _PullFacts) -> list[Finding]:
    by_id = {c.id: c for c in checks}
    return [apply_rules(by_id[f.id], f, pr.rules.policy) if f.id in by_id else f for f in findings]


def _settled(finding: Finding) -> Finding:
    """GR102 that could not tell, settled by /verify answering."""
    message = (
        f"The sandbox settled it: the server answers POST /verify (the static check could not tell: {finding.message})"
    )
    return replace(finding, status="pass", message=message)
