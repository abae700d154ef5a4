"""The schema of `.gym-review.yaml`: a registry's own rules, read from the merge base (see config.load).

Every key is optional; without a file the rules are the contribution guide's. Later bot versions add
keys and sections; `version: 1` stays while they only add. This layer imports neither the checks nor
the GitHub adapter: the check catalogue validates the check ids a file names (catalogue.validate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from gym_review_bot.config.github import GithubSettings
from gym_review_bot.config.pr_body import PrBodySettings
from gym_review_bot.config.strict import Rule, Strict
from gym_review_bot.waiver import Waiver

POLICY_FILE = ".gym-review.yaml"


def _yaml_off(value: object) -> object:
    """YAML 1.1 reads a bare `off` as false: `GR114: off` means the word."""
    return "off" if value is False else value


SeverityOverride = Annotated[Literal["error", "warning", "off"], Rule(before=_yaml_off)]


def _re2(pattern: str) -> str:
    """Config regular expressions run on PR text: RE2 only (linear time, no backtracking)."""
    import re2  # loaded only for a config that has expressions

    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise ValueError(f"{pattern!r} is not a valid RE2 regular expression ({exc})") from exc
    return pattern


HeaderLine = Annotated[str, Rule(after=_re2)]


@dataclass(frozen=True, kw_only=True)
class RowCount(Strict):
    """How many rows a data file needs: at least `rows`, or exactly with `exact: true`."""

    rows: Annotated[int, Rule(ge=1, le=1_000_000)] = 5
    exact: bool = False

    def accepts(self, count: int) -> bool:
        return count == self.rows if self.exact else count >= self.rows

    def wanted(self) -> str:
        """`at least 5` or `exactly 5`, for messages."""
        return f"{'exactly' if self.exact else 'at least'} {self.rows}"


@dataclass(frozen=True, kw_only=True)
class Toggle(Strict):
    enabled: bool = False


@dataclass(frozen=True, kw_only=True)
class CopyrightHeader(Toggle):
    files: list[str] = field(default_factory=lambda: ["*.py"])
    # Any one entry passes; each entry is a list of regular expressions for consecutive lines.
    headers: list[Annotated[list[HeaderLine], Rule(min_length=1)]] = field(default_factory=list)
    # An entry may start on any of the first `within_lines` lines (after a `#!` line): a vendored file keeps
    # its upstream notice first and carries the registry's header below it. 1: the header opens the file.
    within_lines: Annotated[int, Rule(ge=1, le=200)] = 1

    def __post_init__(self) -> None:
        # also run when a file is read, once pydantic has checked the fields: it reports the ValueError at
        # `rules.copyright_header`
        if self.enabled and not self.headers:
            raise ValueError("copyright_header is enabled but lists no `headers`")

    def compiled(self) -> list[list[Any]]:
        import re2

        return [[re2.compile(p) for p in entry] for entry in self.headers]


@dataclass(frozen=True, kw_only=True)
class Rules(Strict):
    copyright_header: CopyrightHeader = field(default_factory=CopyrightHeader)
    example_metrics: Toggle = field(default_factory=Toggle)
    conflict_artifacts: Toggle = field(default_factory=Toggle)
    verified_flag: Toggle = field(default_factory=Toggle)
    dco: Toggle = field(default_factory=Toggle)
    committed_datasets: Toggle = field(default_factory=Toggle)


@dataclass(frozen=True, kw_only=True)
class WaiverEntry(Strict):
    """A `waivers:` entry: a failure the registry accepts, with a reason (and an expiry date)."""

    check: Annotated[str, Rule(pattern=r"^GR\d{3}$")]
    reason: Annotated[str, Rule(min_length=1)]
    server: str | None = None  # None: every server
    expires: Annotated[date | None, Rule(strict=False)] = None  # a UTC date; the waiver holds through that day
    fingerprint: str | None = None  # None: every failure of the check

    def to_waiver(self) -> Waiver:
        return Waiver(self.check, self.reason, "config", self.fingerprint, self.server, self.expires)


@dataclass(frozen=True, kw_only=True)
class Sandbox(Strict):
    # host[:port], added to pip's default index; a plain name, never a URL (the sandbox builds the rules)
    package_hosts: list[Annotated[str, Rule(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?$")]] = field(
        default_factory=list
    )


@dataclass(frozen=True, kw_only=True)
class Policy(Strict):
    version: Literal[1] = 1
    examples: RowCount = field(default_factory=RowCount)
    rollouts: RowCount = field(default_factory=RowCount)
    rules: Rules = field(default_factory=Rules)
    severity: dict[str, SeverityOverride] = field(default_factory=dict)
    waivers: list[WaiverEntry] = field(default_factory=list)
    sandbox: Sandbox = field(default_factory=Sandbox)
    github: GithubSettings = field(default_factory=GithubSettings)
    pr_body: PrBodySettings = field(default_factory=PrBodySettings)

    def config_waivers(self) -> list[Waiver]:
        """The waivers of this file, in the judge's one Waiver type (expired ones included: the judge dates them)."""
        return [entry.to_waiver() for entry in self.waivers]


def default_policy() -> Policy:
    """The guide's rules (no file: nothing to validate, and pydantic is not imported)."""
    return Policy()
