"""The sandbox's checks GR201-GR207: ids, severities, titles, fix hints, and how findings are made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gym_review_bot.models import Finding, Location, Severity, SkipKind

if TYPE_CHECKING:
    from gym_review_bot.sandbox.requirements import Requirements

MAX_LISTED = 20

# (id, severity, what it checks, how to fix)
CHECK_CATALOGUE: list[tuple[str, str, str, str]] = [
    (
        "GR201",
        "error",
        "The server's image builds: a virtualenv with its requirements.txt / pyproject.toml dependencies.",
        "Make `pip install -r requirements.txt` work on a clean Python; pin versions that exist on PyPI.",
    ),
    (
        "GR202",
        "error",
        "The server boots the way NeMo Gym starts it (`python app.py` with its resolved config) and "
        "answers `GET /` within the boot timeout.",
        "Run `ng_run +config_paths=[<your config>]` locally and fix what it prints; keep imports and start-up light.",
    ),
    (
        "GR203",
        "error",
        "Every example rollout replayed to `/verify` returns its stored reward (tolerance 1e-6).",
        "Regenerate data/example_rollouts.jsonl with the current verify(), or fix verify().",
    ),
    (
        "GR204",
        "error",
        "A second replay returns the same rewards: verify() is deterministic.",
        "Remove randomness, wall-clock or call-order dependence from verify(); seed what must be random.",
    ),
    (
        "GR205",
        "error",
        "The server's tests (`pytest tests/`) pass inside the sandbox, within the test timeout.",
        "Run `pytest tests/` in the server directory; tests may not use the network.",
    ),
    (
        "GR206",
        "warning",
        "Reward-hacking probes: an empty response and an unrelated one must not get the highest reward "
        "the example rollouts reach.",
        "Make verify() check the answer itself, not only its format or its absence of errors.",
    ),
    (
        "GR207",
        "warning",
        "Requirements that change the package index (--index-url, --extra-index-url, --find-links) or "
        "install from a URL or VCS; they are not honoured unless --allow-url-deps is given.",
        "Depend on released packages from PyPI, pinned by version.",
    ),
]

_BY_ID = {row[0]: row for row in CHECK_CATALOGUE}
TITLES = {
    "GR201": "Image builds",
    "GR202": "Server boots and answers GET /",
    "GR203": "Example rollouts reproduce their rewards",
    "GR204": "verify() is deterministic",
    "GR205": "Server tests pass in the sandbox",
    "GR206": "Reward-hacking probes",
    "GR207": "Dependencies come from the package index",
}
CHECK_IDS = [row[0] for row in CHECK_CATALOGUE]


def make_finding(
    check_id: str,
    status: str,
    message: str,
    file: str | None = None,
    line: int | None = None,
    locations: list[Location] | None = None,
    fix: str | None = None,
    skip_kind: SkipKind | None = None,
) -> Finding:
    """A finding of one sandbox check; a failure's message gets a fix hint (the check's own by default).

    The fingerprint is left to the pipeline, which knows the server (see review.fingerprint_sandbox).
    """
    severity: Severity = _BY_ID[check_id][1]  # type: ignore[assignment]
    hint = fix or _BY_ID[check_id][3]
    if status == "fail" and hint not in message:
        message = f"{message}\nHow to fix: {hint}"
    return Finding(
        id=check_id,
        severity=severity,
        status=status,  # type: ignore[arg-type]
        skip_kind=(skip_kind or "not_applicable") if status == "skip" else None,
        title=TITLES[check_id],
        message=message,
        fix=_BY_ID[check_id][3],
        file=file,
        line=line,
        locations=locations or ([Location(file=file, line=line)] if file else []),
    )


def skipped_findings(reason: str, kind: SkipKind, ids: list[str] = CHECK_IDS) -> list[Finding]:
    """Sandbox checks all skipped with one reason, for when the sandbox does not run."""
    return [make_finding(check_id, "skip", f"Skipped: {reason}", skip_kind=kind) for check_id in ids]


def error_findings(reason: str, ids: list[str] = CHECK_IDS) -> list[Finding]:
    """Sandbox checks that should have run and could not (no daemon): `error`, never a pass or a skip."""
    return [make_finding(check_id, "error", f"Not run: {reason}") for check_id in ids]


def requirements_finding(reqs: Requirements, allowed: bool) -> Finding:
    """GR207, a static check: it reads the requirement files and needs no daemon."""
    if not reqs.url_dependencies:
        return make_finding("GR207", "pass", "Every requirement comes from the package index.")
    verdict = "honoured because --allow-url-deps was given" if allowed else "not installed in the sandbox build"
    listed = "\n".join(f"- {u.file}:{u.line}: `{u.text}` {u.reason}" for u in reqs.url_dependencies[:MAX_LISTED])
    first = reqs.url_dependencies[0]
    return make_finding(
        "GR207",
        "fail",
        f"{len(reqs.url_dependencies)} requirement line(s) leave PyPI ({verdict}):\n{listed}",
        file=first.file,
        line=first.line,
        locations=[Location(file=u.file, line=u.line) for u in reqs.url_dependencies],
    )
