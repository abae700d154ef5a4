"""Stream a rollouts JSONL file into its reward profile, one line in memory at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from gym_review_bot.evidence.stats import (
    PASS_REWARD,
    PromptGroup,
    ToolTally,
    histogram,
    mean,
    pass_rate_histogram,
    std,
)
from gym_review_bot.models import Evidence
from gym_review_bot.safeload import MAX_ROW_BYTES, finite_number, iter_jsonl

ROLLOUT_INDEX = "_ng_rollout_index"
MAX_LINE_BYTES = MAX_ROW_BYTES  # a longer row is a bad line: parsing it would take ~15 times its size
MAX_MODELS = 20
MAX_BAD_LINES_NAMED = 10
_FAILED_PREFIXES = ("error", "exception", "traceback", "failed")


@dataclass
class RolloutLine:
    """One line of a rollouts file: the parsed row, or why it is not one."""

    line: int
    row: dict[str, Any] | None = None
    error: str | None = None


def iter_rollout_lines(stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RolloutLine]:
    """Lines as rows, read by the one JSON Lines reader (safeload.iter_jsonl); one line in memory at a time."""
    for item in iter_jsonl(stream, max_line_bytes):
        if item.error is not None:
            yield RolloutLine(item.line, error=item.error)
        elif not isinstance(item.value, dict):
            yield RolloutLine(item.line, error="is not a JSON object")
        else:
            yield RolloutLine(item.line, row=item.value)


def _digest(value: Any) -> bytes:
    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        data = repr(value).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


def prompt_key(row: dict[str, Any]) -> bytes:
    """A digest of the prompt's content (its input): what a prompt is. NeMo Gym's `_ng_task_index` is not
    read: 500 task indexes over one prompt text are one prompt."""
    params = row.get("responses_create_params")
    return _digest(params.get("input") if isinstance(params, dict) else None)


def response_key(row: dict[str, Any]) -> bytes:
    """A digest of what the model produced (the response's output): the same row copied is one response."""
    response = row.get("response")
    return _digest(response.get("output") if isinstance(response, dict) else response)


def _tool_failed(item: dict[str, Any]) -> bool:
    if item.get("type") == "function_call":
        return item.get("status") in ("incomplete", "failed")
    output = item.get("output")
    if not isinstance(output, str):
        return False
    head = output[:200].lstrip().lower()
    return head.startswith(_FAILED_PREFIXES) or head.startswith('{"error"') or head.startswith("{'error'")


def tool_use(row: dict[str, Any]) -> tuple[bool, int, int]:
    """(offers tools, tool calls made, failed tool calls) of one rollout."""
    params = row.get("responses_create_params")
    offers = isinstance(params, dict) and bool(params.get("tools"))
    response = row.get("response")
    output = response.get("output") if isinstance(response, dict) else None
    calls = failed = 0
    if isinstance(output, list):
        for item in output:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "function_call":
                calls += 1
            if kind in ("function_call", "function_call_output") and _tool_failed(item):
                failed += 1
    return offers or calls > 0, calls, failed


def model_of(row: dict[str, Any]) -> str | None:
    response = row.get("response")
    model = response.get("model") if isinstance(response, dict) else None
    if not isinstance(model, str) or not model.strip():
        params = row.get("responses_create_params")
        model = params.get("model") if isinstance(params, dict) else None
    return model.strip()[:200] if isinstance(model, str) and model.strip() else None


@dataclass
class RolloutProfile:
    """The running tally of a rollouts file: per prompt (by content), its distinct responses' rewards."""

    groups: dict[bytes, PromptGroup] = field(default_factory=dict)
    seen: set[bytes] = field(default_factory=set)  # (prompt, response) digests already counted
    models: dict[str, int] = field(default_factory=dict)
    other_model_rows: int = 0  # rows naming a model past the first MAX_MODELS names
    tools: ToolTally = field(default_factory=ToolTally)
    tool_calling: bool = False
    rows: int = 0
    duplicates: int = 0
    bad_lines: list[str] = field(default_factory=list)
    bad_count: int = 0

    def add(self, item: RolloutLine) -> None:
        row = item.row
        reward = finite_number(row.get("reward")) if row is not None else None
        if row is None or reward is None or "response" not in row:
            self.bad_count += 1
            if len(self.bad_lines) < MAX_BAD_LINES_NAMED:
                why = item.error or ("has no numeric `reward`" if row and "response" in row else "is not a rollout")
                self.bad_lines.append(f"line {item.line} {why}")
            return
        key = prompt_key(row)
        pair = hashlib.blake2b(key + response_key(row), digest_size=16).digest()
        if pair in self.seen:  # the same response to the same prompt again: a copy, not a sample
            self.duplicates += 1
            return
        self.seen.add(pair)
        self.rows += 1
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = PromptGroup()
        group.rewards.append(reward)
        model = model_of(row)
        if model and (model in self.models or len(self.models) < MAX_MODELS):
            self.models[model] = self.models.get(model, 0) + 1
        elif model:
            self.other_model_rows += 1
        offers, calls, failed = tool_use(row)
        self.tool_calling = self.tool_calling or offers
        self.tools.calls.append(calls)
        self.tools.rewards.append(reward)
        self.tools.failed += failed

    def counted(self) -> str:
        """What was counted, and how, in words for the report."""
        named = sum(self.models.values()) + self.other_model_rows
        shares = ", ".join(
            f"{m} {n:,} ({n / named:.1%})" for m, n in sorted(self.models.items(), key=lambda kv: -kv[1])[:5]
        )
        others = f", {self.other_model_rows:,} rows naming other models" if self.other_model_rows else ""
        return (
            f"Counted {len(self.groups):,} prompts by their content (the prompt's messages; task indexes are not "
            f"read) and {self.rows:,} distinct responses"
            + (f" ({self.duplicates:,} repeated rows not counted)" if self.duplicates else "")
            + (f"; rows by model: {shares}{others}." if named else "; no row names its model.")
        )

    def evidence(self, source: str) -> Evidence:
        rewards = [r for g in self.groups.values() for r in g.rewards]
        sizes = [len(g.rewards) for g in self.groups.values()]
        notes = []
        if self.bad_count:
            notes.append(f"{self.bad_count} line(s) were not usable rollouts: " + "; ".join(self.bad_lines))
        notes.append(self.counted())
        return Evidence(
            source=source,
            kind="rollouts",
            rollouts=self.rows,
            prompts=len(self.groups),
            responses_per_prompt=min(sizes) if sizes else None,
            responses_per_prompt_max=max(sizes) if sizes else None,
            models=sorted(self.models, key=lambda m: -self.models[m]),
            model_rows=dict(sorted(self.models.items(), key=lambda kv: -kv[1])),
            other_model_rows=self.other_model_rows,
            duplicate_rows=self.duplicates,
            reward_mean=mean(rewards),
            reward_std=std(rewards),
            pass_rate=(sum(1 for r in rewards if r >= PASS_REWARD) / len(rewards)) if rewards else None,
            reward_histogram=histogram(rewards),
            pass_rate_histogram=pass_rate_histogram(g.pass_rate for g in self.groups.values()),
            zero_variance_share=(sum(1 for g in self.groups.values() if g.zero_variance) / len(self.groups))
            if self.groups
            else None,
            tool_calling=self.tool_calling,
            tool_calls=self.tools.metrics() if self.tool_calling else None,
            notes=notes,
        )


def profile_rollouts(stream: IO[bytes], source: str, max_line_bytes: int = MAX_LINE_BYTES) -> Evidence:
    """The reward profile of a rollouts JSONL stream."""
    profile = RolloutProfile()
    for item in iter_rollout_lines(stream, max_line_bytes):
        profile.add(item)
    return profile.evidence(source)
