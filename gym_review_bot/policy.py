"""A registry's own rules: `.gym-review.yaml`, read from the merge base, and how it changes the findings.

Every key is optional; without a file the rules are the contribution guide's, as before. Unknown
keys and bad values stop the review (exit 2) with the key path and what is allowed: a typo must not
silently turn a rule off. Later bot versions add keys and sections; `version: 1` stays while they only add.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gym_review_bot.discover import UsageError
from gym_review_bot.github.settings import GithubSettings
from gym_review_bot.models import Finding, PolicySource, WaiverInfo
from gym_review_bot.pr_body_settings import PrBodySettings
from gym_review_bot.safeload import UnsafeInput, load_yaml
from gym_review_bot.sources import SourceTree

POLICY_FILE = ".gym-review.yaml"
MAX_POLICY_BYTES = 256 * 1024
# Unreadable files or a server without app.py or config must never reach the sandbox.
SEVERITY_FLOOR = ("GR100", "GR101", "GR103")


def _yaml_off(value: object) -> object:
    """YAML 1.1 reads a bare `off` as false: `GR114: off` means the word."""
    return "off" if value is False else value


SeverityOverride = Annotated[Literal["error", "warning", "off"], BeforeValidator(_yaml_off)]


def _re2(pattern: str) -> str:
    """Config regular expressions run on PR text: RE2 only (linear time, no backtracking)."""
    import re2  # loaded only for a config that has expressions

    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise ValueError(f"{pattern!r} is not a valid RE2 regular expression ({exc})") from exc
    return pattern


HeaderLine = Annotated[str, AfterValidator(_re2)]


class _Strict(BaseModel):
    # defer_build: the validators are built only when there is a file to validate.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class RowCount(_Strict):
    """How many rows a data file needs: at least `rows`, or exactly with `exact: true`."""

    rows: int = Field(default=5, ge=1, le=1_000_000)
    exact: bool = False

    def accepts(self, count: int) -> bool:
        return count == self.rows if self.exact else count >= self.rows

    def wanted(self) -> str:
        """`at least 5` or `exactly 5`, for messages."""
        return f"{'exactly' if self.exact else 'at least'} {self.rows}"


class Toggle(_Strict):
    enabled: bool = False


class CopyrightHeader(Toggle):
    files: list[str] = Field(default_factory=lambda: ["*.py"])
    # Any one entry passes; each entry is a list of regular expressions for consecutive lines.
    headers: list[Annotated[list[HeaderLine], Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_headers(self) -> CopyrightHeader:
        if self.enabled and not self.headers:
            raise ValueError("copyright_header is enabled but lists no `headers`")
        return self

    def compiled(self) -> list[list[Any]]:
        import re2

        return [[re2.compile(p) for p in entry] for entry in self.headers]


class Rules(_Strict):
    copyright_header: CopyrightHeader = Field(default_factory=CopyrightHeader.model_construct)
    example_metrics: Toggle = Field(default_factory=Toggle.model_construct)
    conflict_artifacts: Toggle = Field(default_factory=Toggle.model_construct)
    verified_flag: Toggle = Field(default_factory=Toggle.model_construct)
    dco: Toggle = Field(default_factory=Toggle.model_construct)
    committed_datasets: Toggle = Field(default_factory=Toggle.model_construct)


class Waiver(_Strict):
    check: str = Field(pattern=r"^GR\d{3}$")
    reason: str = Field(min_length=1)
    server: str | None = None  # None: every server
    expires: date | None = Field(default=None, strict=False)  # a UTC date; the waiver holds through that day
    fingerprint: str | None = None  # None: every failure of the check

    def covers(self, finding: Finding, server: str) -> bool:
        return (
            finding.id == self.check
            and (self.server is None or self.server == server)
            and (self.fingerprint is None or self.fingerprint == finding.fingerprint)
        )

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today


class Sandbox(_Strict):
    # host[:port], added to pip's default index; a plain name, never a URL (the sandbox builds the rules)
    package_hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?$")]] = Field(
        default_factory=list
    )


class Policy(_Strict):
    version: Literal[1] = 1
    examples: RowCount = Field(default_factory=RowCount.model_construct)
    rollouts: RowCount = Field(default_factory=RowCount.model_construct)
    rules: Rules = Field(default_factory=Rules.model_construct)
    severity: dict[str, SeverityOverride] = Field(default_factory=dict)
    waivers: list[Waiver] = Field(default_factory=list)
    sandbox: Sandbox = Field(default_factory=Sandbox.model_construct)
    github: GithubSettings = Field(default_factory=GithubSettings)
    pr_body: PrBodySettings = Field(default_factory=PrBodySettings)

    @field_validator("severity")
    @classmethod
    def _floor(cls, severity: dict[str, SeverityOverride]) -> dict[str, SeverityOverride]:
        for check_id, level in severity.items():
            if check_id in SEVERITY_FLOOR and level != "error":
                raise ValueError(
                    f"{check_id} cannot be set to {level!r}: {', '.join(SEVERITY_FLOOR)} stay `error` "
                    "(unreadable files must never reach the sandbox)"
                )
        return severity


def default_policy() -> Policy:
    """The guide's rules, without building the validators (no file: nothing to validate)."""
    return Policy.model_construct()


@dataclass
class LoadedPolicy:
    """The rules in force and where they came from (for the report)."""

    policy: Policy = field(default_factory=default_policy)
    source: PolicySource = field(default_factory=PolicySource)


def load_policy(tree: SourceTree) -> LoadedPolicy:
    """The policy of a checkout state (the merge base in PR mode); UsageError when it is invalid."""
    entry = tree.get(POLICY_FILE)
    if entry is None:
        return LoadedPolicy()
    if entry.kind != "file":
        raise UsageError(f"{POLICY_FILE}: is a {entry.kind}, not a file; commit the file itself")
    if entry.size > MAX_POLICY_BYTES:
        raise UsageError(f"{POLICY_FILE}: is {entry.size:,} bytes, over the {MAX_POLICY_BYTES:,}-byte cap")
    raw = tree.read(entry, MAX_POLICY_BYTES + 1)
    policy = parse_policy(raw)
    blob_sha = entry.oid or hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()  # git's blob id
    return LoadedPolicy(policy, PolicySource(source="file", path=POLICY_FILE, blob_sha=blob_sha))


def parse_policy(raw: bytes) -> Policy:
    """Validate the file's bytes; UsageError naming the key and what is allowed."""
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{POLICY_FILE}: not valid UTF-8 (byte {exc.start})") from exc
    except (UnsafeInput, yaml.YAMLError) as exc:
        raise UsageError(f"{POLICY_FILE}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{POLICY_FILE}: the top level must be a mapping of keys (version, examples, rules, ...)")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{POLICY_FILE}: {_describe(exc)}") from exc
    _known_checks(policy)
    return policy


def _describe(exc: ValidationError) -> str:
    """The first error as `key.path: what is wrong; allowed: ...`, on one line."""
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    path = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        return f"{path}: unknown key; allowed here: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"{path}: required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def _fields_at(loc: list[str]) -> list[str]:
    """The keys the model allows at a path (list indexes and dict keys pass through)."""
    model: Any = Policy
    for part in loc:
        info = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if info is None:
            continue  # an index into a list of models
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields) if model is not None else []


def _known_checks(policy: Policy) -> None:
    from gym_review_bot.checks import STATIC_CHECKS  # the checks import this module: load them late
    from gym_review_bot.checks.evidence import CHECKS as EVIDENCE_CHECKS
    from gym_review_bot.checks.pr_body import pr_body_checks
    from gym_review_bot.sandbox.catalogue import CHECK_IDS

    known = {c.id for c in STATIC_CHECKS} | set(CHECK_IDS) | {c.id for c in EVIDENCE_CHECKS}
    known |= {c.id for c in pr_body_checks(policy.pr_body)}  # GR301-GR305 and the registry's own parts
    named = [("pr_body.disabled", i) for i in policy.pr_body.disabled]
    named += [("pr_body.evidence_severity", i) for i in policy.pr_body.evidence_severity]
    for where, check_id in named:
        if check_id not in known:
            raise UsageError(f"{POLICY_FILE}: {where}: unknown check id {check_id}; allowed: {_id_range(known)}")
    for check_id in policy.severity:
        if check_id not in known:
            raise UsageError(f"{POLICY_FILE}: severity.{check_id}: unknown check id; allowed: {_id_range(known)}")
    for i, waiver in enumerate(policy.waivers):
        if waiver.check not in known:
            raise UsageError(
                f"{POLICY_FILE}: waivers.{i}.check: unknown check id {waiver.check}; allowed: {_id_range(known)}"
            )


def _id_range(ids: set[str]) -> str:
    return ", ".join(sorted(ids))


def policy_notes(policy: Policy, today: date) -> list[str]:
    """Report notes about the policy itself: waivers that no longer hold."""
    return [
        f"{POLICY_FILE}: the waiver of {w.check}{' on ' + w.server if w.server else ''} expired on "
        f"{w.expires.isoformat()} and is ignored ({w.reason})."
        for w in policy.waivers
        if w.expired(today) and w.expires is not None
    ]


def apply_policy(findings: list[Finding], server: str, policy: Policy, today: date) -> None:
    """Severity overrides, `off` checks, then waivers, in place; a waived failure stays `fail` but does not block."""
    for finding in findings:
        level = policy.severity.get(finding.id)
        if level == "off":
            finding.status = "skip"
            finding.skip_kind = "disabled_by_policy"
            finding.message = f"Turned off by {POLICY_FILE} (severity: {finding.id}: off)."
            finding.locations = []
            continue
        if level is not None:
            finding.severity = level
        if finding.status != "fail":
            continue
        waiver = next((w for w in policy.waivers if w.covers(finding, server) and not w.expired(today)), None)
        if waiver is not None:
            finding.waived = WaiverInfo(reason=waiver.reason, source="config", expires=waiver.expires)
            until = f" until {waiver.expires.isoformat()}" if waiver.expires else ""
            finding.message += f" (Waived by {POLICY_FILE}{until}: {waiver.reason}; does not block.)"
