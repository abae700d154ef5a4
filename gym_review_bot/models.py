"""The review report: the JSON contract every other part of the bot reads and extends.

Schema 1. Later work may add fields; it never renames or removes them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Severity = Literal["error", "warning"]
FindingStatus = Literal["pass", "fail", "skip"]
ServerStatus = Literal["added", "changed", "removed", "checked"]
Verdict = Literal["pass", "fail"]


def _valid_unicode(value: str) -> str:
    """File names from a PR may be any bytes; the report is UTF-8, so undecodable bytes become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


Text = Annotated[str, AfterValidator(_valid_unicode)]


class Location(BaseModel):
    """A place in the checkout, relative to the repository root."""

    file: Text
    line: int | None = None


class Finding(BaseModel):
    """The outcome of one check on one server."""

    id: str
    severity: Severity
    status: FindingStatus
    title: str = ""
    message: Text
    file: Text | None = None
    line: int | None = None
    locations: list[Location] = Field(default_factory=list)
    pre_existing: bool = False

    @property
    def blocks_merge(self) -> bool:
        return self.status == "fail" and self.severity == "error" and not self.pre_existing


class Timings(BaseModel):
    """Seconds spent in each sandbox phase; None where a phase did not run."""

    build_s: float | None = None
    boot_s: float | None = None
    replay_s: float | None = None
    tests_s: float | None = None


class ServerReport(BaseModel):
    name: Text
    path: Text
    status: ServerStatus
    findings: list[Finding] = Field(default_factory=list)
    timings: Timings | None = None

    @property
    def failed(self) -> bool:
        return any(f.blocks_merge for f in self.findings)


class Summary(BaseModel):
    """Counts over all servers, so a reader need not add them up."""

    servers: int = 0
    passed: int = 0
    errors: int = 0
    warnings: int = 0
    skipped: int = 0
    pre_existing: int = 0


class Report(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_version: int = Field(default=SCHEMA_VERSION, alias="schema")
    head_sha: str | None = None
    base_sha: str | None = None
    verdict: Verdict = "pass"
    summary: Summary = Field(default_factory=Summary)
    servers: list[ServerReport] = Field(default_factory=list)
    notes: list[Text] = Field(default_factory=list)

    def finalize(self) -> Report:
        """Compute verdict and summary from the findings."""
        s = Summary(servers=len(self.servers))
        for server in self.servers:
            for f in server.findings:
                if f.status == "pass":
                    s.passed += 1
                elif f.status == "skip":
                    s.skipped += 1
                elif f.pre_existing:
                    s.pre_existing += 1
                elif f.severity == "error":
                    s.errors += 1
                else:
                    s.warnings += 1
        self.summary = s
        self.verdict = "fail" if s.errors else "pass"
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
