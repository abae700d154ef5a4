"""The sandbox's checks GR201-GR206, registered as `Check`s like the static ones, and how their findings are made."""

from __future__ import annotations

from gym_review_bot.checks.base import Check, Outcome, errored, make_finding, skipped
from gym_review_bot.models import Finding, SkipKind

MAX_LISTED = 20


# The sandbox cannot build or boot a server whose files cannot be read, or that has no entrypoint or config.
NEEDS = ("GR100", "GR101", "GR103")


def _check(check_id: str, severity: str, title: str, fix: str) -> Check:
    """A check judged by the sandbox run (runner.run_sandbox), not from a source tree."""
    return Check(check_id, severity, title, fix, family="sandbox", phase="sandbox", needs=NEEDS)  # type: ignore[arg-type]


SANDBOX_CHECKS: list[Check] = [
    _check(
        "GR201",
        "error",
        "Image builds",
        "Make `pip install -r requirements.txt` work on a clean Python; pin versions that exist on PyPI.",
    ),
    _check(
        "GR202",
        "error",
        "Server boots and answers GET /",
        "Run `ng_run +config_paths=[<your config>]` locally and fix what it prints; keep imports and start-up light.",
    ),
    _check(
        "GR203",
        "error",
        "Example rollouts reproduce their rewards",
        "Regenerate data/example_rollouts.jsonl with the current verify(), or fix verify().",
    ),
    _check(
        "GR204",
        "error",
        "verify() is deterministic",
        "Remove randomness, wall-clock or call-order dependence from verify(); seed what must be random.",
    ),
    _check(
        "GR205",
        "error",
        "Server tests pass in the sandbox",
        "Run `pytest tests/` in the server directory; tests may not use the network.",
    ),
    _check(
        "GR206",
        "error",
        "Reward-hacking probes",
        "Make verify() compute the reward from the answer itself, not from its format, its absence of errors or "
        "a value the request carries. Refusal-style tasks, where an empty answer is right, set GR206 to `warning` "
        "in .gym-review.yaml.",
    ),
]
BY_ID = {check.id: check for check in SANDBOX_CHECKS}
CHECK_IDS = [check.id for check in SANDBOX_CHECKS]


def sandbox_finding(check_id: str, outcome: Outcome, server: str) -> Finding:
    """The finding of one sandbox check; a failure's message ends with how to fix it (the check's own by default)."""
    check = BY_ID[check_id]
    if outcome.status == "fail" and "How to fix:" not in outcome.message:
        outcome.message = f"{outcome.message}\nHow to fix: {check.fix}"
    return make_finding(check, outcome, server)


def skipped_findings(reason: str, kind: SkipKind, server: str, ids: list[str] = CHECK_IDS) -> list[Finding]:
    """Sandbox checks all skipped with one reason, for when the sandbox does not run."""
    return [sandbox_finding(i, skipped(f"Skipped: {reason}", kind=kind), server) for i in ids]


def error_findings(reason: str, server: str, ids: list[str] = CHECK_IDS) -> list[Finding]:
    """Sandbox checks that should have run and could not (no daemon): `error`, never a pass or a skip."""
    return [sandbox_finding(i, errored(f"Not run: {reason}"), server) for i in ids]
