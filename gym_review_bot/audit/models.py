"""The audit report: the JSON contract of `gym-review audit`, `audit-merge`, the dashboard and the publish job.

Schema 1 only adds fields and enum values; it never renames or removes them. A consumer treats an
unknown `verdict` or replay `mode` as not passing. `schema/audit-1.schema.json` is generated from
these models (a test keeps it in step).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gym_review_bot.models import FindingStatus, PolicySource, ServerReport, Timings, Verdict, valid_unicode

Text = Annotated[str, AfterValidator(valid_unicode)]  # text from a server's files: valid Unicode, as in the report

AUDIT_SCHEMA_VERSION = 1
AUDIT_KIND = "gym-review-audit"

# How a server's example rollouts were replayed: every one with no model call; with a recorded judge
# (issue 20); some could not be (they call a model the sandbox does not run); NeMo Gym marks the server
# unsupported for re-verification (REVERIFY_MODE); the replay did not run (no sandbox, no rollouts, ...).
ReplayMode = Literal["no_model", "recorded_judge", "could_not", "not_replayable", "not_run"]
ReverifyMode = Literal["stateless", "unsupported", "unknown"]


class CheckStatus(BaseModel):
    """One check of one server, as the judge classed it."""

    id: str
    family: str | None = None  # the dashboard's column (catalogue.FAMILIES)
    status: FindingStatus
    klass: str  # the judge's class: blocking, not_run, warning, waived, pre_existing, skipped, passed


class Keys(BaseModel):
    """What a server's result depends on; a result is carried over only when every one is unchanged."""

    server_tree: str  # git tree id of resources_servers/<name> as checked out
    nemo_gym_tree: str | None = None  # git tree id of nemo_gym/ (None: the checkout has none)
    base_image: str | None = None  # the sandbox's base image id (sha256:...); None without the sandbox
    packages: str | None = None  # sha256 of the built image's installed packages (name==version, sorted)
    tool_version: str  # the bot's version and a digest of its own source
    policy_blob: str  # .gym-review.yaml's git blob id, or "defaults"
    sandbox: bool  # the result includes the sandbox checks


class Replay(BaseModel):
    """How the server's example rollouts were replayed, in one word and in a sentence."""

    mode: ReplayMode
    detail: Text = ""
    rollouts: int | None = None  # rollouts replayed, when known
    recorded_judge: int | None = None  # of them, answered from a recorded judge (issue 20), when known
    could_not: int | None = None  # of them, not judged (they call a model), when known


class ServerAudit(BaseModel):
    """One server's audit result: run now, or carried over from a previous audit."""

    name: Text
    path: Text
    domains: list[Text] = Field(default_factory=list)  # the `domain:` values of its configs
    verdict: Verdict
    complete: bool = False
    checks: list[CheckStatus] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list)  # ids of the blocking checks
    not_run: list[str] = Field(default_factory=list)  # ids of the checks that could not run
    timings: Timings | None = None  # the sandbox's phases
    wall_s: float | None = None  # the whole review of this server (static checks and sandbox)
    replay: Replay
    reverify_mode: ReverifyMode | None = None  # NeMo Gym's REVERIFY_MODE, as the server declares it
    keys: Keys | None = None  # None: the server has no result (its shard's report is missing)
    carried: bool = False  # the result is a previous audit's, all keys unchanged
    verified_at: str  # UTC, ISO 8601: when this result was computed
    verified_commit: str | None = None  # the commit it was computed on
    failing_since: str | None = None  # UTC date of the first audit that saw it failing, while it fails
    failing_since_commit: str | None = None
    reason: Text | None = None  # why there is no real result (error entries), or why it was re-run
    report: ServerReport | None = None  # the review's findings (None for an entry with no result)


class DeltaEntry(BaseModel):
    name: Text
    checks: list[str] = Field(default_factory=list)  # the failing (or not-run) check ids now, or before for fixed
    since: str | None = None  # still failing: since when (UTC date)
    since_commit: str | None = None


class Delta(BaseModel):
    """What changed since the previous audit, by server verdict."""

    previous_generated_at: str | None = None
    previous_commit: str | None = None
    newly_failing: list[DeltaEntry] = Field(default_factory=list)  # fail now; not fail before (or new)
    fixed: list[DeltaEntry] = Field(default_factory=list)  # fail before; pass now
    still_failing: list[DeltaEntry] = Field(default_factory=list)  # fail before and now
    newly_not_judged: list[DeltaEntry] = Field(default_factory=list)  # error now; pass before (or new)
    added: list[Text] = Field(default_factory=list)  # servers the previous audit did not have
    removed: list[Text] = Field(default_factory=list)  # servers it had that are gone


class Shard(BaseModel):
    index: int  # 1-based
    count: int


class BaseImage(BaseModel):
    ref: str
    id: str | None = None  # the local image id (sha256 of its config): a content digest


class AuditSummary(BaseModel):
    servers: int = 0
    passed: int = 0
    failed: int = 0
    not_judged: int = 0  # verdict error
    incomplete: int = 0  # passed, but part of the checks were not run (e.g. --no-docker)
    carried: int = 0
    run: int = 0


class AuditReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_version: int = Field(default=AUDIT_SCHEMA_VERSION, alias="schema")
    kind: Literal["gym-review-audit"] = AUDIT_KIND
    tool_version: str = ""
    generated_at: str = ""  # UTC, ISO 8601
    repository: str | None = None  # OWNER/NAME on GitHub, for links
    server_url: str = "https://github.com"
    commit: str | None = None  # the audited commit (None: not a git checkout)
    nemo_gym_tree: str | None = None
    base_image: BaseImage | None = None  # None without the sandbox
    policy: PolicySource = Field(default_factory=PolicySource)
    sandbox: bool = False
    shard: Shard | None = None
    planned: list[Text] = Field(default_factory=list)  # the servers this audit (or shard) was to review
    finished: bool = False  # False while running, or when it was stopped: planned servers may be missing
    verdict: Verdict = "error"
    summary: AuditSummary = Field(default_factory=AuditSummary)
    servers: list[ServerAudit] = Field(default_factory=list)
    delta: Delta | None = None  # None without a previous audit
    notes: list[Text] = Field(default_factory=list)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
