"""The one interface every check implements, and the runner that applies them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gym_review_bot.models import Finding, FindingStatus, Location, Severity, SkipKind, make_fingerprint

_DIGITS = re.compile(r"\d+")


@dataclass
class Outcome:
    """What a check found; the runner adds id, severity, title, fix and fingerprint."""

    status: FindingStatus
    message: str
    file: str | None = None
    line: int | None = None
    locations: list[Location] = field(default_factory=list)
    severity: Severity | None = None  # overrides the check's own, e.g. "cannot tell" as a warning
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


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    title: str
    fix: str  # how to fix, for the finding and the README catalogue
    run: Callable[..., Outcome]
    needs: tuple[str, ...] = ()  # checks whose failure makes this one skip


def make_finding(check: Check, outcome: Outcome, server: str) -> Finding:
    """The finding a check's outcome becomes, fingerprinted for matching across commits."""
    key = outcome.key if outcome.key is not None else _DIGITS.sub("#", outcome.message)
    return Finding(
        id=check.id,
        severity=outcome.severity or check.severity,
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


def run_checks(checks: Iterable[Check], ctx: object, server: str) -> list[Finding]:
    """Run checks in order; a check whose prerequisite did not pass is skipped."""
    findings: dict[str, Finding] = {}
    for check in checks:
        findings[check.id] = make_finding(check, _outcome(check, ctx, findings), server)
    return list(findings.values())


def _outcome(check: Check, ctx: object, done: dict[str, Finding]) -> Outcome:
    for need in check.needs:
        prior = done.get(need)
        if prior is not None and prior.status != "pass":
            verb = {"fail": "failed", "error": "could not run"}.get(prior.status, "was skipped")
            kind = prior.skip_kind if prior.status == "skip" else "prerequisite_failed"
            return skipped(f"Not run: waits on {need} ({prior.title}), which {verb}.", kind=kind or "not_applicable")
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
