"""The one interface every static check implements, and the runner that applies them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gym_review_bot.models import Finding, FindingStatus, Location, Severity


@dataclass
class Outcome:
    """What a check found; the runner adds id, severity and title."""

    status: FindingStatus
    message: str
    file: str | None = None
    line: int | None = None
    locations: list[Location] = field(default_factory=list)
    severity: Severity | None = None  # overrides the check's own, e.g. "cannot tell" as a warning


class SkipCheck(Exception):
    """Raised inside a check that cannot run; the message is the reason."""


def passed(message: str, file: str | None = None) -> Outcome:
    return Outcome("pass", message, file=file)


def failed(
    message: str,
    file: str | None = None,
    line: int | None = None,
    locations: Iterable[Location] = (),
    severity: Severity | None = None,
) -> Outcome:
    locs = list(locations)
    if file and not locs:
        locs = [Location(file=file, line=line)]
    return Outcome("fail", message, file=file, line=line, locations=locs, severity=severity)


def skipped(reason: str, file: str | None = None) -> Outcome:
    return Outcome("skip", reason, file=file)


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity
    title: str
    fix: str  # how to fix, for the README catalogue
    run: Callable[..., Outcome]
    needs: tuple[str, ...] = ()  # checks whose failure makes this one skip


def run_checks(checks: Iterable[Check], ctx: object) -> list[Finding]:
    """Run checks in order; a check whose prerequisite failed or skipped is skipped."""
    findings: dict[str, Finding] = {}
    for check in checks:
        outcome = _outcome(check, ctx, findings)
        findings[check.id] = Finding(
            id=check.id,
            severity=outcome.severity or check.severity,
            status=outcome.status,
            title=check.title,
            message=outcome.message,
            file=outcome.file,
            line=outcome.line,
            locations=outcome.locations,
        )
    return list(findings.values())


def _outcome(check: Check, ctx: object, done: dict[str, Finding]) -> Outcome:
    for need in check.needs:
        prior = done.get(need)
        if prior is not None and prior.status != "pass":
            verb = "failed" if prior.status == "fail" else "was skipped"
            return skipped(f"Not run: waits on {need} ({prior.title}), which {verb}.")
    try:
        return check.run(ctx)
    except SkipCheck as exc:
        return skipped(str(exc))
    except Exception as exc:  # a bug of ours must not sink the whole review, nor pass silently
        return skipped(
            f"Not run: the check crashed on this input ({type(exc).__name__}: {str(exc)[:200]}). "
            "This is a gym-review-bot bug; a maintainer should check this by hand."
        )
