"""The schema of `.gym-review.yaml`: a registry's own rules, read from the merge base (see config.load).

Every key is optional; without a file the rules are the contribution guide's. Later bot versions add
keys and sections; `version: 1` stays while they only add. This layer imports neither the checks nor
the GitHub adapter: the check catalogue validates the check ids a file names (catalogue.validate).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from gym_review_bot.config.github import GithubSettings
from gym_review_bot.config.pr_body import PrBodySettings
from gym_review_bot.config.strict import Strict
from gym_review_bot.waiver import Waiver

POLICY_FILE = ".gym-review.yaml"


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


class RowCount(Strict):
    """How many rows a data file needs: at least `rows`, or exactly with `exact: true`."""

    rows: int = Field(default=5, ge=1, le=1_000_000)
    exact: bool = False

    def accepts(self, count: int) -> bool:
        return count == self.rows if self.exact else count >= self.rows

    def wanted(self) -> str:
        """`at least 5` or `exactly 5`, for messages."""
        return f"{'exactly' if self.exact else 'at least'} {self.rows}"


class Toggle(Strict):
    enabled: bool = False


class CopyrightHeader(Toggle):
    files: list[str] = Field(default_factory=lambda: ["*.py"])
    # Any one entry passes; each entry is a list of regular expressions for consecutive lines.
    headers: list[Annotated[list[HeaderLine], Field(min_length=1)]] = Field(default_factory=list)
    # An entry may start on any of the first `within_lines` lines (after a `#!` line): a vendored file keeps
    # its upstream notice first and carries the registry's header below it. 1: the header opens the file.
    within_lines: int = Field(default=1, ge=1, le=200)

    @model_validator(mode="after")
    def _needs_headers(self) -> CopyrightHeader:
        if self.enabled and not self.headers:
            raise ValueError("copyright_header is enabled but lists no `headers`")
        return self

    def compiled(self) -> list[list[Any]]:
        import re2

        return [[re2.compile(p) for p in entry] for entry in self.headers]


class Rules(Strict):
    copyright_header: CopyrightHeader = Field(default_factory=CopyrightHeader.model_construct)
    example_metrics: Toggle = Field(default_factory=Toggle.model_construct)
    conflict_artifacts: Toggle = Field(default_factory=Toggle.model_construct)
    verified_flag: Toggle = Field(default_factory=Toggle.model_construct)
    dco: Toggle = Field(default_factory=Toggle.model_construct)
    committed_datasets: Toggle = Field(default_factory=Toggle.model_construct)


class WaiverEntry(Strict):
    """A `waivers:` entry: a failure the registry accepts, with a reason (and an expiry date)."""

    check: str = Field(pattern=r"^GR\d{3}$")
    reason: str = Field(min_length=1)
    server: str | None = None  # None: every server
    expires: date | None = Field(default=None, strict=False)  # a UTC date; the waiver holds through that day
    fingerprint: str | None = None  # None: every failure of the check

    def to_waiver(self) -> Waiver:
        return Waiver(self.check, self.reason, "config", self.fingerprint, self.server, self.expires)


class Sandbox(Strict):
    # host[:port], added to pip's default index; a plain name, never a URL (the sandbox builds the rules)
    package_hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?$")]] = Field(
        default_factory=list
    )


class Policy(Strict):
    version: Literal[1] = 1
    examples: RowCount = Field(default_factory=RowCount.model_construct)
    rollouts: RowCount = Field(default_factory=RowCount.model_construct)
    rules: Rules = Field(default_factory=Rules.model_construct)
    severity: dict[str, SeverityOverride] = Field(default_factory=dict)
    waivers: list[WaiverEntry] = Field(default_factory=list)
    sandbox: Sandbox = Field(default_factory=Sandbox.model_construct)
    github: GithubSettings = Field(default_factory=GithubSettings.model_construct)
    pr_body: PrBodySettings = Field(default_factory=PrBodySettings.model_construct)

    def config_waivers(self) -> list[Waiver]:
        """The waivers of this file, in the judge's one Waiver type (expired ones included: the judge dates them)."""
        return [entry.to_waiver() for entry in self.waivers]


def default_policy() -> Policy:
    """The guide's rules, without building the validators (no file: nothing to validate)."""
    return Policy.model_construct()
