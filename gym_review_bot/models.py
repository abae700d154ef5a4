"""The review report: the JSON contract every other part of the bot reads and extends.

Schema 1 only adds fields and enum values; it never renames or removes them. A consumer treats an
unknown `status` or `verdict` value as not passing. `schema/report-1.schema.json` is generated from
these models (a test keeps it in step).

The models are plain dataclasses: building and filling them costs nothing at import, so a static review
never loads pydantic. pydantic validates at the boundary only, where a report is read back from JSON
(`read_report`, `read_blast`) or its schema is generated (`schema.py`); `to_json` writes it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Any, Literal

from gym_review_bot.text import hash_text

SCHEMA_VERSION = 1

Severity = Literal["error", "warning"]
# `error`: the check could not do its job (it crashed, a service it needs was unreachable, its budget
# ran out, the repository is damaged). `skip`: it does not apply or was not asked for (see SkipKind).
FindingStatus = Literal["pass", "fail", "skip", "error"]
SkipKind = Literal["not_applicable", "prerequisite_failed", "not_requested", "disabled_by_policy"]
ServerStatus = Literal["added", "changed", "removed", "checked"]
Verdict = Literal["pass", "fail", "error"]
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(value: str) -> str:
    """The report is UTF-8: undecodable bytes of a file name become U+FFFD; any other lone surrogate (JSON
    can spell one) is written out as its escape (`\\ud800`), never dropped."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    return _SURROGATE.sub(
        lambda m: "\ufffd" if m.group() >= "\udc80" and m.group() <= "\udcff" else f"\\u{ord(m.group()):04x}", value
    )


# Text read from a PR (file names, messages quoting files). Every string of a model is passed through
# valid_unicode when the model is made (Model.__post_init__), so the name only documents where it comes from.
Text = str


def _clean(value: Any) -> Any:
    """VALUE with its strings (a list's items, a dict's keys) made valid; the same object when they already are."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, list) and any(isinstance(v, str) and v is not valid_unicode(v) for v in value):
        return [_clean(v) for v in value]
    if isinstance(value, dict) and any(isinstance(k, str) and k is not valid_unicode(k) for k in value):
        return {_clean(k): v for k, v in value.items()}
    return value


@dataclass
class Model:
    """The base of every model: strings are valid Unicode once the model exists (see valid_unicode)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            cleaned = _clean(value)
            if cleaned is not value:
                object.__setattr__(self, f.name, cleaned)


@dataclass(kw_only=True)
class Location(Model):
    """A place in the checkout, relative to the repository root."""

    file: Text
    line: int | None = None
    # What this one problem is, across commits (no line numbers): a finding with several problems is
    # pre-existing only when the base's finding had every one of them.
    key: Text | None = None


def make_fingerprint(check_id: str, server: str, file: str | None, key: str) -> str:
    """A finding's identity across commits: check, server, file and the check's stable key (no line numbers)."""
    raw = "\0".join((check_id, server, file or "", key))
    return hashlib.sha256(hash_text(raw)).hexdigest()[:20]


@dataclass(kw_only=True)
class WaiverInfo(Model):
    """Why a failure does not block: a waiver in the registry's `.gym-review.yaml`, or a maintainer's override."""

    reason: Text
    source: Literal["config", "override"] = "config"  # override: `/gym-review override` (chat-ops)
    expires: date | None = None  # UTC; None: no expiry
    by: str | None = None  # override: the maintainer's login (or the PR's author, for GR118)


@dataclass(kw_only=True)
class PolicySource(Model):
    """Which rules gave the verdict: `.gym-review.yaml` at the merge base (or the checkout), or the defaults."""

    source: Literal["file", "defaults"] = "defaults"
    path: str | None = None
    blob_sha: str | None = None  # the file's git blob id


@dataclass(kw_only=True)
class Finding(Model):
    """The outcome of one check on one server."""

    id: str
    severity: Severity
    status: FindingStatus
    skip_kind: SkipKind | None = None  # set exactly when status is "skip"
    title: str = ""
    message: Text
    fix: str = ""  # the check's own fix hint
    file: Text | None = None
    line: int | None = None
    locations: list[Location] = field(default_factory=list)
    fingerprint: str = ""
    pre_existing: bool = False
    waived: WaiverInfo | None = None  # a failure the registry's config waives: still `fail`, never blocking


@dataclass(kw_only=True)
class Timings(Model):
    """Seconds spent in each sandbox phase; None where a phase did not run."""

    build_s: float | None = None
    boot_s: float | None = None
    replay_s: float | None = None
    tests_s: float | None = None


@dataclass(kw_only=True)
class ReplayCounts(Model):
    """How the sandbox's first replay of a server's example rollouts went, rollout by rollout."""

    rollouts: int = 0  # non-blank lines of the rollouts file
    no_model: int = 0  # verify() called no model
    recorded_judge: int = 0  # verify() called a judge and the rollout's recorded judge calls answered every call
    judge_prompt_changed: int = 0  # verify() asked the judge something the rollout's recording does not hold
    not_replayable: int = 0  # not judged: a model call with no recording to answer it, a bad row, no answer
    layouts: list[str] = field(default_factory=list)  # the recording layouts the rollouts used


@dataclass(kw_only=True)
class HistogramBin(Model):
    """One bar: values in [low, high) (the last bar includes high; low == high for a single value)."""

    label: str
    low: float
    high: float
    count: int


@dataclass(kw_only=True)
class ToolCallMetrics(Model):
    calls_per_rollout: float | None = None
    failed_call_share: float | None = None  # failed tool calls / all tool calls
    reward_correlation: float | None = None  # Pearson over rollouts; null when either side has no variance


@dataclass(kw_only=True)
class CurvePoint(Model):
    step: float
    value: float


@dataclass(kw_only=True)
class Evidence(Model):
    """A server's reward profile as the bot computed it (or, when self_reported, as the PR body states it)."""

    source: Text  # the file it came from, or "PR body"
    kind: Literal["reward_profiling", "rollouts", "pr_body"]
    self_reported: bool = False  # numbers from the PR body only: not verified
    rollouts: int | None = None
    prompts: int | None = None
    responses_per_prompt: int | None = None  # the fewest any prompt has
    responses_per_prompt_max: int | None = None
    models: list[Text] = field(default_factory=list)  # most rows first
    model_rows: dict[Text, int] = field(default_factory=dict)  # rows (or profiling groups) naming each model
    other_model_rows: int = 0  # rows naming a model past the first 20 names
    duplicate_rows: int | None = None  # rows repeating a response already counted for the same prompt
    reward_mean: float | None = None
    reward_std: float | None = None
    pass_rate: float | None = None  # share of responses with reward >= 1
    reward_histogram: list[HistogramBin] = field(default_factory=list)
    pass_rate_histogram: list[HistogramBin] = field(default_factory=list)  # prompts by their pass rate
    zero_variance_share: float | None = None  # prompts whose responses all got the same reward
    tool_calling: bool = False
    tool_calls: ToolCallMetrics | None = None
    training_curve: list[CurvePoint] = field(default_factory=list)  # when its points are attached (CSV/JSON)
    training_curve_source: Text | None = None
    notes: list[Text] = field(default_factory=list)


@dataclass(kw_only=True)
class ServerReport(Model):
    name: Text
    path: Text
    status: ServerStatus
    findings: list[Finding] = field(default_factory=list)
    sandbox_ran: bool = False  # the Docker sandbox built and ran this server (whatever it found)
    timings: Timings | None = None
    replay: ReplayCounts | None = None  # how the example rollouts were replayed, when the sandbox replayed them
    evidence: Evidence | None = None  # added servers only


@dataclass(kw_only=True)
class Summary(Model):
    """Counts over all servers, so a reader need not add them up."""

    servers: int = 0
    passed: int = 0
    errors: int = 0
    warnings: int = 0
    skipped: int = 0
    not_run: int = 0  # findings in `error`: checks that could not do their job
    pre_existing: int = 0
    waived: int = 0  # failures a `.gym-review.yaml` waiver covers


@dataclass(kw_only=True)
class NotReviewed(Model):
    """A path under resources_servers/ the PR touches that is not a server the review checks, and why."""

    path: Text  # resources_servers/<name>
    # library: a directory with neither app.py nor configs/; file: a plain file (e.g. .gitignore); symlink,
    # submodule: one the PR removes (one the head has where a server belongs is reviewed, and fails GR100)
    kind: Literal["library", "file", "symlink", "submodule"]


@dataclass(kw_only=True)
class PrReport(Model):
    """Checks of the PR itself (its description), not of one server."""

    findings: list[Finding] = field(default_factory=list)


# A sampled server of a core change (blast/): a check passes at the merge base and fails here (breaks); it fails
# there too (pre_existing); nothing new fails (passes); it could not be judged (error); the sample was not run here.
BlastOutcome = Literal["breaks", "pre_existing", "passes", "error", "not_run"]


@dataclass(kw_only=True)
class RewardChange(Model):
    """An example rollout whose replayed reward the change moved: as stored, at the merge base, and here."""

    line: int
    stored: float | None = None
    base: float | None = None
    head: float | None = None  # None: /verify returned no reward (`note` says what it returned)
    note: Text | None = None


@dataclass(kw_only=True)
class CheckChange(Model):
    """A check of a sampled server that passes at the merge base and fails here."""

    id: str
    title: str = ""
    base: FindingStatus
    head: FindingStatus
    message: Text = ""  # the head's message, its first line


@dataclass(kw_only=True)
class SampledServer(Model):
    """One sampled server of a core change, reviewed here and compared with the merge base."""

    name: Text
    modules: list[Text] = field(default_factory=list)  # the changed modules it imports
    outcome: BlastOutcome
    breaks: list[CheckChange] = field(default_factory=list)
    pre_existing: list[str] = field(default_factory=list)  # ids failing here that fail at the merge base too
    not_judged: list[str] = field(default_factory=list)  # ids that could not run (here, or at the base)
    rewards: list[RewardChange] = field(default_factory=list)
    base_from: Literal["audit", "run", "none"] = "none"  # the base's result: the last audit, a run, not needed
    reason: Text | None = None  # why it could not be judged, or was not run
    seconds: float | None = None


@dataclass(kw_only=True)
class AffectedServer(Model):
    """A server whose Python imports a module the PR changes, directly or through others."""

    name: Text
    modules: list[Text] = field(default_factory=list)
    # its example rollouts need no model (or carry a recorded judge); None: not looked at (the sample was full)
    replayable: bool | None = None
    cut_short: bool = False  # its import walk hit the bound: it may import more


@dataclass(kw_only=True)
class BlastRadius(Model):
    """A core change's reach: the changed shared modules, the servers importing them, the sample judged."""

    modules: list[Text] = field(default_factory=list)  # changed files of nemo_gym/ or a shared library
    affected: list[AffectedServer] = field(default_factory=list)  # in sample order
    sample_size: int = 0  # github.audit_sample
    sampled: list[Text] = field(default_factory=list)
    not_sampled: list[Text] = field(default_factory=list)
    in_pr: list[Text] = field(default_factory=list)  # affected servers the PR itself changes: reviewed as such
    results: list[SampledServer] = field(default_factory=list)  # the sampled servers judged in this report
    reason: Text | None = None  # why the sample was not judged here (not requested, other jobs judge it)


@dataclass(kw_only=True)
class Report(Model):
    schema: int = SCHEMA_VERSION
    tool_version: str = ""
    generated_at: str = ""  # UTC, ISO 8601
    head_sha: str | None = None
    base_sha: str | None = None
    # verdict, complete and summary are the judge's (judge.py), recorded when the report is written.
    verdict: Verdict = "pass"
    # False when a check could not run (`error`), was not requested, or the sandbox did not run
    # for an added or changed server. A merge gate wants `verdict == "pass" and complete`.
    complete: bool = True
    summary: Summary = field(default_factory=Summary)
    servers: list[ServerReport] = field(default_factory=list)
    pr: PrReport | None = None  # the PR's own checks (description GR3xx, commits GR120); absent outside PR reviews
    not_reviewed: list[NotReviewed] = field(default_factory=list)  # touched paths under resources_servers/, not servers
    blast: BlastRadius | None = None  # a PR changing shared code: the servers it reaches, the sample (GR501)
    notes: list[Text] = field(default_factory=list)
    policy: PolicySource = field(default_factory=PolicySource)

    def to_json(self) -> str:
        return json.dumps(plain(self), indent=2, ensure_ascii=False)


def plain(value: Any) -> Any:
    """A model (any dataclass) as JSON values, fields in their declared order: dates as ISO 8601, a path as its
    text, a non-finite number as null. The one JSON writer of the dataclasses."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return value


@functools.cache
def adapter(model: type) -> Any:
    """pydantic's validator of a dataclass (a model, a config section, the sandbox options), built on first use:
    only reading or writing JSON at a boundary needs it."""
    from pydantic import TypeAdapter

    return TypeAdapter(model)


def read_report(data: str | bytes | dict[str, Any]) -> Report:
    """A report from its JSON text (or parsed JSON), validated; pydantic.ValidationError when it is not one."""
    if isinstance(data, dict):
        return adapter(Report).validate_python(data)
    return adapter(Report).validate_json(data)
