"""The one interface every check implements, and the runner that applies them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from gym_review_bot.config import POLICY_FILE, Policy
from gym_review_bot.models import Finding, FindingStatus, Location, ServerStatus, Severity, SkipKind, make_fingerprint

_DIGITS = re.compile(r"\d+")


@dataclass
class Outcome:
    """What a check found; the runner adds id, severity, title, fix and fingerprint."""

    status: FindingStatus
    message: str
    file: str | None = None
    line: int | None = None
    locations: list[Location] = field(default_factory=list)
    severity: Severity | None = None  # a lower severity for this outcome; honoured when it is the check's `lowers_to`
    skip_kind: SkipKind | None = None
    # What makes this finding the same finding on another commit (the offending value, the line's
    # content); never line numbers, log text or timings. None: the message with its numbers blanked.
    key: str | None = None


class SkipCheck(Exception):
    """Raised inside a check that cannot run; the message is the reason."""

    def __init__(self, reason: str, kind: SkipKind = "not_applicable"):
        super().__init__(reason)
        self.kind: SkipKind = kind


class CheckError(Exception):
    """Raised inside a check that could not tell (damaged repository, missing service); becomes `error`."""


def passed(message: str, file: str | None = None, key: str | None = None) -> Outcome:
    return Outcome("pass", message, file=file, key=key)


def failed(
    message: str,
    file: str | None = None,
    line: int | None = None,
    locations: Iterable[Location] = (),
    severity: Severity | None = None,
    key: str | None = None,
) -> Outcome:
    locs = list(locations)
    if file and not locs:
        locs = [Location(file=file, line=line)]
    return Outcome("fail", message, file=file, line=line, locations=locs, severity=severity, key=key)


def skipped(reason: str, file: str | None = None, kind: SkipKind = "not_applicable") -> Outcome:
    return Outcome("skip", reason, file=file, skip_kind=kind)


def errored(message: str, file: str | None = None, line: int | None = None, key: str | None = None) -> Outcome:
    """The check could not do its job: never a pass, never a skip."""
    locs = [Location(file=file, line=line)] if file else []
    return Outcome("error", message, file=file, line=line, locations=locs, key=key)


Family = Literal["files", "code", "config", "data", "licence", "sandbox", "evidence", "description", "commits", "core"]
Scope = Literal["server", "pr"]  # a finding per server, or one for the whole PR (report.pr)
Phase = Literal["static", "sandbox"]  # read from the trees, or judged by the Docker sandbox run
ALL_STATUSES: tuple[ServerStatus, ...] = ("added", "changed", "checked")


@dataclass(frozen=True)
class Check:
    """One check: everything the report, the comment, the config and the README know of it."""

    id: str
    severity: Severity
    title: str
    fix: str  # how to fix, for the finding and the README catalogue
    family: Family  # the comment's column (server checks) or the PR line's part (PR checks)
    run: Callable[..., Outcome] | None = None  # None: judged by the sandbox run, not from a tree
    needs: tuple[str, ...] = ()  # checks whose failure makes this one skip
    scope: Scope = "server"
    phase: Phase = "static"
    floor: Severity | None = None  # a registry cannot set it lower (unreadable files must never reach the sandbox)
    lowers_to: Severity | None = None  # some of its outcomes are reported at this lower severity (they say why)
    servers: tuple[ServerStatus, ...] = ALL_STATUSES  # whose reviews run it (evidence: added servers only)
    rule: str | None = None  # a registry's own rule: off until `rules.<rule>.enabled` in .gym-review.yaml


def rule_reason(check: Check, policy: Policy) -> str | None:
    """Why the registry's rules never run the check (a rule not enabled, `pr_body.disabled`), or None."""
    if check.rule is not None and not getattr(policy.rules, check.rule).enabled:
        return f"Off: this registry's rules do not ask for it (rules.{check.rule} in {POLICY_FILE})."
    if check.id in policy.pr_body.disabled:
        return f"Turned off by this registry's `{POLICY_FILE}` (pr_body.disabled)."
    return None


def off_reason(check: Check, policy: Policy) -> str | None:
    """Why the registry turned the check off with `severity: off`, or None."""
    return (
        f"Turned off by {POLICY_FILE} (severity: {check.id}: off)." if policy.severity.get(check.id) == "off" else None
    )


def disabled_reason(check: Check, policy: Policy) -> str | None:
    """Why the registry's rules leave the check out of the report (skip_kind `disabled_by_policy`), or None."""
    return rule_reason(check, policy) or off_reason(check, policy)


def severity_of(check: Check, policy: Policy, outcome: Outcome | None = None) -> Severity:
    """The registry's severity for the check; else the lower one an outcome may report (`lowers_to`); else the
    check's own (for PR-description and evidence checks, already the one their `pr_body:` section gives)."""
    level = policy.severity.get(check.id)
    if level in ("error", "warning"):
        return level  # type: ignore[return-value]
    if outcome is not None and outcome.severity is not None and outcome.severity == check.lowers_to:
        return outcome.severity
    return check.severity


def make_finding(check: Check, outcome: Outcome, server: str, severity: Severity | None = None) -> Finding:
    """The finding a check's outcome becomes, fingerprinted for matching across commits."""
    key = outcome.key if outcome.key is not None else _DIGITS.sub("#", outcome.message)
    return Finding(
        id=check.id,
        severity=severity or check.severity,
        status=outcome.status,
        skip_kind=outcome.skip_kind if outcome.status == "skip" else None,
        title=check.title,
        message=outcome.message,
        fix=check.fix,
        file=outcome.file,
        line=outcome.line,
        locations=outcome.locations,
        fingerprint=make_fingerprint(check.id, server, outcome.file, key),
    )


def run_checks(checks: Iterable[Check], ctx: object, server: str, policy: Policy) -> list[Finding]:
    """Run checks in order under the registry's rules: a check whose prerequisite did not pass is skipped;
    one the rules leave out is skipped as `disabled_by_policy`; severities are the registry's."""
    done: dict[str, Finding] = {}  # what each check found: the checks that wait on it read this
    shown: list[Finding] = []  # what the report says
    for check in checks:
        never = rule_reason(check, policy)
        if never:
            done[check.id] = make_finding(check, skipped(never, kind="disabled_by_policy"), server)
        else:
            outcome = _outcome(check, ctx, done)
            done[check.id] = make_finding(check, outcome, server, severity_of(check, policy, outcome))
        off = off_reason(check, policy)  # `severity: off` still runs the check for those that wait on it
        shown.append(make_finding(check, skipped(off, kind="disabled_by_policy"), server) if off else done[check.id])
    return shown


def apply_rules(check: Check, finding: Finding, policy: Policy) -> Finding:
    """A finding made outside `run_checks` (the sandbox's) under the registry's rules: a copy, never changed."""
    reason = disabled_reason(check, policy)
    if reason is not None:
        return replace(finding, status="skip", skip_kind="disabled_by_policy", message=reason, locations=[])
    return replace(finding, severity=severity_of(check, policy))


def _outcome(check: Check, ctx: object, done: dict[str, Finding]) -> Outcome:
    for need in check.needs:
        prior = done.get(need)
        if prior is not None and prior.status != "pass":
            verb = {"fail": "failed", "error": "could not run"}.get(prior.status, "was skipped")
            kind = prior.skip_kind if prior.status == "skip" else "prerequisite_failed"
            return skipped(f"Not run: waits on {need} ({prior.title}), which {verb}.", kind=kind or "not_applicable")
    if check.run is None:  # judged by the sandbox run, never from a tree
        return errored("This check runs in the Docker sandbox; it was not run here.")
    try:
        return check.run(ctx)
    except SkipCheck as exc:
        return skipped(str(exc), kind=exc.kind)
    except CheckError as exc:
        return errored(str(exc))
    except Exception as exc:  # a bug of ours must not sink the review, nor pass, nor read as "does not apply"
        return errored(
            f"The check could not run: it crashed on this input ({type(exc).__name__}: {str(exc)[:200]}). "
            "This is a gym-review-bot bug; a maintainer must check this by hand."
        )
