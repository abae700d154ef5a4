"""Every check the bot runs, in one list: static, sandbox, PR description, evidence and a registry's own rules.

The list validates the check ids a `.gym-review.yaml` names, gives the comment its columns and the
terminal its table, says which checks a report must hold for a server, and is what the README's
catalogue is tested against. A check is added in its family's module, to that module's `CHECKS`.
"""

from __future__ import annotations

from collections.abc import Iterable

from gym_review_bot.checks import (
    app,
    blast,
    commits,
    data,
    evidence,
    files,
    pr_body,
    readme,
    registry,
    requirements,
    unit_tests,
)
from gym_review_bot.checks import config as server_configs
from gym_review_bot.checks.base import Check, disabled_reason, severity_of
from gym_review_bot.config import POLICY_FILE, Policy, default_policy
from gym_review_bot.errors import UsageError
from gym_review_bot.models import Finding, ServerStatus, Severity
from gym_review_bot.sandbox.catalogue import SANDBOX_CHECKS

FAMILIES = ("files", "code", "config", "data", "licence", "sandbox", "evidence")  # the comment's columns
PR_FAMILIES = ("description", "commits", "core")  # the PR's own checks: its description, its commits, its reach
_FIXED: list[Check] = [
    *files.CHECKS,
    *app.CHECKS,
    *server_configs.CHECKS,
    *unit_tests.CHECKS,
    *data.CHECKS,
    *requirements.CHECKS,
    *readme.CHECKS,
    *registry.CHECKS,
    *SANDBOX_CHECKS,
    *commits.CHECKS,
    *blast.CHECKS,
]
_ORDER = {"static": 0, "sandbox": 1}


class Catalogue:
    """The checks under one registry's rules (its own PR-description parts, its severities); validates them."""

    def __init__(self, policy: Policy | None = None):
        self.policy = policy or default_policy()
        settings = self.policy.pr_body
        checks = [*_FIXED, *evidence.evidence_checks(settings), *pr_body.pr_body_checks(settings)]
        self.checks: list[Check] = sorted(checks, key=lambda c: c.id)
        self.by_id: dict[str, Check] = {c.id: c for c in self.checks}
        _validate(self.policy, self.by_id)

    def get(self, check_id: str) -> Check | None:
        return self.by_id.get(check_id)

    def family(self, check_id: str) -> str | None:
        check = self.by_id.get(check_id)
        return check.family if check else None

    def static_server_checks(self) -> list[Check]:
        """Run on each server's tree, in id order (a check that waits on another has a higher id)."""
        return [c for c in self.checks if c.scope == "server" and c.phase == "static" and c.family != "evidence"]

    def evidence_checks(self) -> list[Check]:
        return [c for c in self.checks if c.family == "evidence"]

    def sandbox_checks(self) -> list[Check]:
        return [c for c in self.checks if c.phase == "sandbox"]

    def pr_checks(self) -> list[Check]:
        """Checks of the PR itself (its description, its commits): one finding each per PR."""
        return [c for c in self.checks if c.scope == "pr"]

    def expected_for(self, status: ServerStatus) -> list[str]:
        """The ids a PR report must hold, once each, for a server of this status (none for a removed one)."""
        return [c.id for c in self.checks if c.scope == "server" and status in c.servers]

    def severity(self, check_id: str) -> Severity | None:
        """The severity this registry gives a check (None: unknown id)."""
        check = self.by_id.get(check_id)
        return severity_of(check, self.policy) if check else None

    def allowed_severities(self, check_id: str) -> set[str]:
        """What a finding of this check may say its severity is: the registry's, or the check's `lowers_to`."""
        check = self.by_id.get(check_id)
        if check is None:
            return set()
        allowed = {severity_of(check, self.policy)}
        if check.lowers_to and check.id not in self.policy.severity:
            allowed.add(check.lowers_to)
        return allowed

    def disabled(self, check_id: str) -> str | None:
        """Why this registry leaves the check out (`disabled_by_policy`), or None."""
        check = self.by_id.get(check_id)
        return disabled_reason(check, self.policy) if check else None

    def order(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings in catalogue order: static checks by id, then the sandbox's, unknown ids last."""
        rank = {c.id: (_ORDER[c.phase] if c.family != "evidence" else 2, c.id) for c in self.checks}
        return sorted(findings, key=lambda f: rank.get(f.id, (3, f.id)))


def _validate(policy: Policy, known: dict[str, Check]) -> None:
    """Every check id the file names exists, and no severity goes below a check's floor (UsageError)."""
    allowed = ", ".join(sorted(known))
    named = [("pr_body.disabled", i) for i in policy.pr_body.disabled]
    named += [("pr_body.evidence_severity", i) for i in policy.pr_body.evidence_severity]
    named += [(f"waivers.{n}.check", w.check) for n, w in enumerate(policy.waivers)]
    for where, check_id in named:
        if check_id not in known:
            raise UsageError(f"{POLICY_FILE}: {where}: unknown check id {check_id}; allowed: {allowed}")
    for check_id, level in policy.severity.items():
        check = known.get(check_id)
        if check is None:
            raise UsageError(f"{POLICY_FILE}: severity.{check_id}: unknown check id; allowed: {allowed}")
        if check.floor == "error" and level != "error":
            floors = ", ".join(c.id for c in known.values() if c.floor == "error")
            raise UsageError(
                f"{POLICY_FILE}: severity: {check_id} cannot be set to {level!r}: {floors} stay `error` "
                "(unreadable files must never reach the sandbox)"
            )
