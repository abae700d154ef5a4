"""Check data/example.jsonl and data/example_rollouts.jsonl (GR106, GR107, GR110, GR111, GR112)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.evidence.locate import example_rows, locate_evidence
from gym_review_bot.models import Evidence, Location
from gym_review_bot.safeload import MAX_ROW_BYTES, iter_jsonl, number_problem

MAX_LISTED = 5
EXAMPLES = "data/example.jsonl"
ROLLOUTS = "data/example_rollouts.jsonl"
# Names people put in response.model when no real policy generated the rollouts (compared after
# lower-casing and turning `_` and spaces into `-`). Matched by name, never by length: o1 and o3 are real.
PLACEHOLDER_MODELS = frozenset(
    {
        "", "stub", "dummy", "test", "test-model", "testmodel", "model", "default", "policy-model", "policymodel",
        "my-model", "your-model", "model-name", "none", "null", "nil", "unknown", "n/a", "na", "todo", "tbd",
        "gpt-x", "llm", "string", "foo", "bar", "baz", "x", "xx", "xxx", "xyz", "abc", "<model>", "<model-name>",
        "fake", "mock", "placeholder", "example", "synthetic", "random", "oracle", "hardcoded", "human",
    }
)  # fmt: skip
# The names NeMo Gym's harness records for its model server (`policy_model` in the configs, `model`): they
# name no model, but say nothing against one either, so the rows' own evidence decides (issue 19).
# Every other placeholder (`synthetic-example`, `stub`) says the rows were made by hand, whatever they hold.
HARNESS_MODEL_NAMES = frozenset({"model", "policy-model", "policymodel"})
PLACEHOLDER_MODEL_PREFIXES = (
    "example-", "synthetic-", "dummy-", "fake-", "mock-", "placeholder-", "stub-", "test-model",
)  # fmt: skip


def _model_name(model: str) -> str:
    return "-".join(model.strip().lower().replace("_", " ").split())


def is_placeholder_model(model: Any) -> bool:
    """Whether response.model names no real model (not a string, blank, or a known placeholder)."""
    if not isinstance(model, str):
        return True
    name = _model_name(model)
    return name in PLACEHOLDER_MODELS or name.startswith(PLACEHOLDER_MODEL_PREFIXES)


def is_harness_model_name(model: Any) -> bool:
    """Whether response.model is the harness's name for its model server, not a claim about the rows."""
    return isinstance(model, str) and _model_name(model) in HARNESS_MODEL_NAMES


@dataclass
class Rollout:
    line: int
    matches: bool | None  # some leading run of its messages is an example's input (None: no examples to read)
    input_digest: bytes  # digest of all of its messages: what a finding about it is keyed by
    reward: float
    model: Any
    generated: str | None = None  # what in the row shows a model generated it (usage counts, reasoning)
    stamped: bool = True  # the response has a creation time (`created_at` a positive number), as a server writes


@dataclass
class JsonlSummary:
    """One streaming pass over a JSON Lines file, keeping only what the checks need."""

    rel: str
    exists: bool = True
    rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    input_keys: set[bytes] = field(default_factory=set)  # examples with a non-empty input
    empty_inputs: int = 0  # example rows whose input is empty (the environment makes the prompt)
    rollouts: list[Rollout] = field(default_factory=list)


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_message_text(part.get("text") if isinstance(part, dict) else part) for part in content)
    return "" if content is None else json.dumps(content, sort_keys=True)


def _messages(params: Any) -> list[list[Any]] | None:
    """A prompt's messages as [role, text] pairs, ignoring the fields a rollout adds."""
    messages = params.get("input") if isinstance(params, dict) else None
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not isinstance(messages, list):
        return None
    return [
        [m.get("role"), _message_text(m.get("content"))] if isinstance(m, dict) else [None, _message_text(m)]
        for m in messages
    ]


def _prefix_digests(messages: list[list[Any]]) -> Iterator[bytes]:
    """Digests of every leading run of messages (the empty one first), chained so each costs one message:
    linear in all, and yielded one at a time (a rollout of a million messages holds one digest)."""
    digest = hashlib.blake2b(b"gym-review-input", digest_size=16).digest()
    yield digest
    for message in messages:
        step = hashlib.blake2b(digest, digest_size=16)
        step.update(json.dumps(message).encode("utf-8", "surrogatepass"))
        digest = step.digest()
        yield digest


def _last(digests: Iterator[bytes]) -> bytes:
    last = b""
    for last in digests:  # noqa: B007 -- the loop keeps the last one
        pass
    return last


def input_key(params: Any) -> bytes | None:
    """A digest of a prompt's messages; None when it has none (`input: []` matches no rollout)."""
    messages = _messages(params)
    return _last(_prefix_digests(messages)) if messages else None


def _example_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "is not a JSON object"
    params = value.get("responses_create_params")
    if not isinstance(params, dict) or "input" not in params:
        return "has no `responses_create_params.input`"
    if not isinstance(params["input"], str | list):
        return f"has a `responses_create_params.input` that is a {_json_type(params['input'])}, not a string or a list"
    return None


def _json_type(value: Any) -> str:
    names = {dict: "JSON object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _rollout_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "is not a JSON object"
    params = value.get("responses_create_params")
    if not isinstance(params, dict):
        return "has no `responses_create_params` object"
    if "input" in params and not isinstance(params["input"], str | list):
        return f"has a `responses_create_params.input` that is a {_json_type(params['input'])}, not a string or a list"
    response = value.get("response")
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        return "has no `response` with an `output` list (is it an input row, not a rollout?)"
    if "reward" not in value:
        return "has no `reward`"
    problem = number_problem(value["reward"])
    if problem:
        return f"has reward {_shown(value['reward'])}, which {problem}"
    return None


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _positive_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def generation_evidence(response: dict[str, Any]) -> str | None:
    """What in a rollout's response shows that a model generated it, whatever response.model says.

    Token usage (input and output counts, as the model server reports them) or a non-empty reasoning item.
    It counts only against the harness's own server names (HARNESS_MODEL_NAMES): `synthetic-example` with
    usage of 100/20 in every row is still hand-written.
    Tool outputs alone are not evidence: the server's tools write them, and hand-written rollouts carry
    them too (a canned `function_call_output`). NeMo Gym's harness records its model server's name
    (`policy_model`, `model`), so the name alone cannot tell."""
    usage = response.get("usage")
    if (
        isinstance(usage, dict)
        and _positive_count(usage.get("input_tokens"))
        and _positive_count(usage.get("output_tokens"))
    ):
        return "token usage"
    for item in response.get("output") or ():
        if isinstance(item, dict) and item.get("type") == "reasoning" and (item.get("summary") or item.get("content")):
            return "reasoning"
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text):,} characters)"


def summarize(ctx: ServerContext, rel: str) -> JsonlSummary:
    """Stream a JSONL file once; memoized per server."""

    def compute() -> JsonlSummary:
        entry = ctx.find(rel)
        summary = JsonlSummary(rel)
        if entry is None:
            summary.exists = False
            return summary
        validate = _rollout_problem if rel == ROLLOUTS else _example_problem
        keys = _example_keys(ctx) if rel == ROLLOUTS else None
        with ctx.tree.stream(entry) as fh:
            for row in iter_jsonl(fh, max_line_bytes=min(ctx.max_file_bytes, MAX_ROW_BYTES)):
                summary.rows += 1
                problem = row.error or validate(row.value)
                if problem:
                    summary.bad.append((row.line, problem))
                    continue
                params = row.value["responses_create_params"]
                if rel == ROLLOUTS:
                    response = row.value["response"]
                    reward = float(row.value["reward"])
                    matches, digest = _match(_messages(params) or [], keys)
                    evidence = generation_evidence(response)
                    stamped = _positive_number(response.get("created_at"))
                    model = response.get("model")
                    summary.rollouts.append(Rollout(row.line, matches, digest, reward, model, evidence, stamped))
                elif key := input_key(params):
                    summary.input_keys.add(key)
                else:
                    summary.empty_inputs += 1
        return summary

    return ctx.memo(f"jsonl:{rel}", compute)


def _example_keys(ctx: ServerContext) -> set[bytes] | None:
    """The example inputs' digests, read before the rollouts so each rollout is matched as it streams by."""
    try:
        return summarize(ctx, EXAMPLES).input_keys
    except (SkipCheck, CheckError):  # GR100 or a damaged object: GR106 says so, and GR110 waits on it
        return None


def _match(messages: list[list[Any]], keys: set[bytes] | None) -> tuple[bool | None, bytes]:
    """(whether some non-empty leading run of the messages is an example's input, the digest of them all)."""
    found: bool | None = None if keys is None else False
    digest = b""
    for n, digest in enumerate(_prefix_digests(messages)):
        if n and keys is not None and digest in keys:  # never the empty run: `input: []` matches nothing
            found = True
    return found, digest


def _check_rows(ctx: ServerContext, rel: str, what: str, needs: str) -> Outcome:
    file = ctx.full(rel)
    rule = ctx.policy.examples if rel == EXAMPLES else ctx.policy.rollouts  # the registry's row count
    s = summarize(ctx, rel)
    if not s.exists:
        return failed(
            f"{file} is missing. Add {rule.wanted()} {what}, one JSON object a line.", file=file, key="missing"
        )
    if s.bad:
        line, why = s.bad[0]
        more = f" ({len(s.bad) - 1} more bad lines)" if len(s.bad) > 1 else ""
        return failed(
            f"{file} line {line} {why}{more}. Every non-blank line must be a JSON object with {needs}.",
            file=file,
            line=line,
            locations=[Location(file=file, line=n) for n, _ in s.bad[:MAX_LISTED]],
            key="bad rows: " + "\n".join(sorted({why for _, why in s.bad})),
        )
    if not rule.accepts(s.rows):
        key = "too few rows" if s.rows < rule.rows else "too many rows"
        return failed(f"{file} has {s.rows} row(s); this registry asks for {rule.wanted()} {what}.", file=file, key=key)
    return passed(f"{file} has {s.rows} well-formed rows; this registry asks for {rule.wanted()}.", file=file)


def check_examples(ctx: ServerContext) -> Outcome:
    return _check_rows(ctx, EXAMPLES, "example inputs", "`responses_create_params.input`")


def check_rollouts(ctx: ServerContext) -> Outcome:
    return _check_rows(
        ctx,
        ROLLOUTS,
        "rollouts generated from data/example.jsonl (e.g. with ng_collect_rollouts)",
        "`responses_create_params`, a `response` with an `output` list and a finite numeric `reward`",
    )


def _failed_rollouts(ctx: ServerContext, bad: list[Rollout], what: str, key: str) -> Outcome:
    """A failure naming the rollouts (by line) that `what` describes; `key` says what is wrong, lines aside."""
    file = ctx.full(ROLLOUTS)
    lines = ", ".join(str(r.line) for r in bad[:MAX_LISTED])
    return failed(
        f"{file}: {len(bad)} rollout(s) (line {lines}) {what}",
        file=file,
        line=bad[0].line,
        locations=[Location(file=file, line=r.line) for r in bad[:MAX_LISTED]],
        key=key,
    )


def check_rollouts_match_examples(ctx: ServerContext) -> Outcome:
    examples = summarize(ctx, EXAMPLES)
    if examples.exists and examples.empty_inputs and not examples.input_keys:
        # Agent servers whose environment makes the prompt: each rollout's input starts with the empty one.
        # Only when *every* example is empty: one `input: []` among real ones excuses no stray rollout.
        return passed(
            f"Every row of {ctx.full(EXAMPLES)} has an empty input (the environment makes the prompt): every "
            "rollout's input starts with it, and there is nothing more to match.",
            file=ctx.full(ROLLOUTS),
            key="examples without input",
        )
    if not examples.exists or not examples.input_keys:
        raise SkipCheck(
            f"Not run: {ctx.full(EXAMPLES)} has no usable rows to compare with (see GR106).", "prerequisite_failed"
        )
    file = ctx.full(ROLLOUTS)
    strays = [r for r in summarize(ctx, ROLLOUTS).rollouts if r.matches is False]
    if strays:
        return _failed_rollouts(
            ctx,
            strays,
            f"have an input that is not in {ctx.full(EXAMPLES)}. Regenerate the rollouts from the example data.",
            key="stray inputs: " + " ".join(sorted({r.input_digest.hex() for r in strays})),
        )
    return passed(f"Every rollout's input matches a row of {ctx.full(EXAMPLES)}.", file=file)


def reward_profile(ctx: ServerContext) -> Evidence | None:
    """The server's reward profile (NeMo Gym's profiling output, or a rollouts file), chosen by the evidence
    checks' one rule: the example rollouts, and any file no bigger than them, are examples, not a profile."""

    def find() -> Evidence | None:
        if ctx.root_problem():  # a symlink or a submodule where the server belongs: GR100 says so
            raise SkipCheck(f"Not run: waits on GR100: {ctx.path} {ctx.root_problem()}.", "prerequisite_failed")
        return locate_evidence(ctx.tree, ctx.path, None, ctx.max_file_bytes, example_rows(ctx.policy)).evidence

    return ctx.memo("reward_profile", find)


def check_rewards_vary(ctx: ServerContext) -> Outcome:
    profile = reward_profile(ctx)
    if profile is None:
        raise SkipCheck(
            f"Not applicable: no reward profile (the {example_rows(ctx.policy)} example rollouts are not a sample)."
        )
    bars = [b for b in profile.reward_histogram if b.count]
    same = len(bars) == 1 and bars[0].low == bars[0].high and profile.zero_variance_share in (None, 1.0)
    if same:
        return failed(
            f"Every reward in the reward profile {profile.source} is {bars[0].label} ({bars[0].count:,} values): "
            "it shows no learning signal. Profile prompts that some responses solve and some do not.",
            file=profile.source,
            key=f"all rewards {bars[0].label}",
        )
    if not bars:
        raise SkipCheck(f"Not applicable: the reward profile {profile.source} holds no rewards.")
    return passed(f"Rewards vary across the reward profile {profile.source} ({len(bars)} distinct bars).")


def check_real_model(ctx: ServerContext) -> Outcome:
    file = ctx.full(ROLLOUTS)
    rollouts = summarize(ctx, ROLLOUTS).rollouts
    named = [r for r in rollouts if is_placeholder_model(r.model)]
    fake = [r for r in named if r.generated is None or not is_harness_model_name(r.model)]
    # Whatever the name: a response with no token usage, no reasoning and no creation time was written by hand
    # (#1682 `claude-sonnet-4-6` with ids resp_example_<city> and created_at 0; #2564 `scripted-relief`).
    unmade = [r for r in rollouts if r.generated is None and not r.stamped]
    for bad, kind, why in (
        (
            fake,
            "placeholder models",
            "name no real model in response.model ({names}). A model server's name (`model`, `policy_model`) is "
            "accepted only on rows whose token usage or reasoning shows a model generated them.",
        ),
        (
            unmade,
            "unmade responses",
            "show nothing a model server writes (no token usage, no reasoning, `created_at` 0 or absent), whatever "
            "response.model says ({names}).",
        ),
    ):
        if bad:
            names = sorted({_shown(r.model) for r in bad})
            what = why.format(names=", ".join(names[:3])) + " Generate rollouts with a real policy model."
            return _failed_rollouts(ctx, bad, what, key=f"{kind}: " + "\n".join(names))
    if named:
        names = sorted({_shown(r.model) for r in named})
        shown = sorted({r.generated for r in named if r.generated})
        return passed(
            f"response.model names no model ({', '.join(names[:3])}: the harness's model server name), but every "
            f"such rollout shows a model generated it ({' or '.join(shown)}).",
            file=file,
        )
    models = sorted({r.model for r in rollouts})
    return passed(f"Rollouts were generated by {', '.join(models[:3])}.", file=file)


CHECKS = [
    Check(
        "GR106",
        "error",
        "data/example.jsonl holds the example inputs",
        "Put the example inputs in data/example.jsonl (as many rows as the registry asks: 5 by default), each "
        '`{"responses_create_params": {"input": ...}}`.',
        family="data",
        run=check_examples,
    ),
    Check(
        "GR107",
        "error",
        "data/example_rollouts.jsonl holds real rollouts",
        "Generate the rollouts from data/example.jsonl (ng_collect_rollouts; as many as the registry asks: 5 by "
        "default) and commit them unedited.",
        family="data",
        run=check_rollouts,
    ),
    Check(
        "GR110",
        "warning",
        "Rollouts come from the example inputs",
        "Regenerate data/example_rollouts.jsonl from the rows of data/example.jsonl.",
        family="data",
        run=check_rollouts_match_examples,
        needs=("GR107",),
    ),
    Check(
        "GR111",
        "warning",
        "The reward profile's rewards are not all the same",
        "Profile prompts that earn different rewards, so the verifier's signal shows.",
        family="data",
        run=check_rewards_vary,
    ),
    Check(
        "GR112",
        "warning",
        "Rollouts name a real model",
        "Generate rollouts with a real policy model; response.model must name it.",
        family="data",
        run=check_real_model,
        needs=("GR107",),
    ),
]
