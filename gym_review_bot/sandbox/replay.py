"""Replaying example rollouts to a server's /verify through the replay client's container: bounded in time and size."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gym_review_bot.safeload import finite_number, iter_jsonl
from gym_review_bot.sources import SourceTree

MAX_ROLLOUT_LINE_BYTES = 64 * 1024 * 1024
MAX_EXAMPLES_FOR_KEYS = 1000
MAX_ANSWER_BYTES = 1024 * 1024  # one /verify or GET answer
TOLERANCE = 1e-6
NO_ROUTE_STATUSES = (404, 405)  # what a server without POST /verify answers


@dataclass
class Rollout:
    """One line of example_rollouts.jsonl: the /verify body, its stored reward, or why it is unusable."""

    line: int
    body: dict[str, Any] | None = None
    reward: float | None = None
    error: str | None = None


@dataclass(slots=True)
class ReplayResult:
    """What /verify answered for one rollout (or probe), as the replay client reported it."""

    line: int
    stored: float | None
    returned: float | None = None
    error: str | None = None
    aborted: bool = False  # a timeout, a dead connection or the replay's deadline: not an answer
    status: int | None = None  # the HTTP status, when there was an answer
    model_calls: int = 0  # calls to the stand-in model servers while this rollout was verified
    judge_answered: int = 0  # of those, the calls the rollout's recorded judge calls answered
    judge_unmatched: str | None = None  # the first call the recording holds no answer to: how it differs
    layout: str | None = None  # the layout of the rollout's recorded judge calls, when it has some
    deadline: bool = False  # not sent: the replay's overall deadline had passed
    usable: bool = True  # a row that could be sent (a request with a stored reward)
    prompt: str | None = None  # a digest of what the model was asked (its request's input)
    probe: str | None = None  # for a probe: which one ("empty response", "unrelated text")
    leaks: tuple[str, ...] = ()  # paths of the request whose number equals the reward returned

    @property
    def recorded_judge(self) -> bool:
        """verify() called a model and the rollout's recorded judge calls answered every call."""
        return self.model_calls > 0 and self.judge_answered == self.model_calls and self.judge_unmatched is None

    @property
    def judged_here(self) -> bool:
        """Its reward can be judged: verify() called no model, or the recording answered every call."""
        return self.model_calls == 0 or self.recorded_judge

    @property
    def matches(self) -> bool:
        return self.returned is not None and self.stored is not None and abs(self.returned - self.stored) <= TOLERANCE

    @classmethod
    def from_client(cls, item: dict[str, Any], stored: float | None = None) -> ReplayResult:
        """A result from one JSON line of the replay client (our own script; still type-checked).

        `stored`: the reward the bot read for this line; a stored rollouts file's rows carry their own.
        """
        status = item.get("status")
        leaks = item.get("leaks") or ()
        return cls(
            line=int(item["line"]),
            stored=finite_number(item.get("stored")) if "stored" in item else stored,
            returned=finite_number(item.get("returned")),
            error=str(item["error"])[:500] if item.get("error") is not None else None,
            aborted=bool(item.get("aborted")),
            status=status if isinstance(status, int) else None,
            model_calls=int(item.get("model_calls") or 0),
            judge_answered=int(item.get("judge_answered") or 0),
            judge_unmatched=str(item["judge_unmatched"])[:400] if item.get("judge_unmatched") else None,
            layout=str(item["layout"])[:80] if item.get("layout") else None,
            deadline=bool(item.get("deadline")),
            usable=bool(item.get("usable", True)),
            prompt=str(item["prompt"])[:64] if item.get("prompt") else None,
            probe=str(item["probe"])[:40] if item.get("probe") else None,
            leaks=tuple(str(p)[:200] for p in leaks[:20]) if isinstance(leaks, list) else (),
        )


@dataclass(frozen=True)
class ServerChange:
    """What a pull request changes of a server, as far as its recorded judge calls go (None: not a PR, unknown).

    `judge_inputs`: its Python files, prompt files or configs (what decides a judge call; a prompt file is any
    file with `prompt` in its path below the server). `rollouts`: its data/example_rollouts.jsonl."""

    judge_inputs: bool | None = None
    rollouts: bool | None = None


NOT_A_PR = ServerChange()  # a review of a checkout, or a server the merge base does not have


def server_change(base: SourceTree, head: SourceTree, server_dir: str) -> ServerChange:
    """Both answers from one walk of the server in each tree, files compared by content id (else size)."""
    rollouts = f"{server_dir}/data/example_rollouts.jsonl"

    def files(tree: SourceTree) -> tuple[dict[str, tuple[str, str | None, int]], tuple[str, str | None, int] | None]:
        inputs, stored = {}, None
        for e in tree.walk(server_dir):
            if e.path == rollouts:
                stored = (e.kind, e.oid, e.size)
            if (
                e.path.endswith((".py", ".yaml", ".yml", ".json", ".j2", ".jinja"))
                and not e.path.startswith(f"{server_dir}/data/")
                or "prompt" in e.path[len(server_dir) :].lower()
            ):
                inputs[e.path] = (e.kind, e.oid, e.size)
        return inputs, stored

    (base_inputs, base_rollouts), (head_inputs, head_rollouts) = files(base), files(head)
    return ServerChange(judge_inputs=base_inputs != head_inputs, rollouts=base_rollouts != head_rollouts)


def strip_nulls(value: Any) -> Any:
    """Drop keys whose value is null, recursively: stored rollouts carry nulls today's schema rejects."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def input_keys(tree: SourceTree, examples_path: str) -> set[str] | None:
    """The top-level keys of the example inputs, or None when there are none to go by."""
    entry = tree.get(examples_path)
    if entry is None or entry.kind != "file":
        return None
    keys: set[str] = set()
    with tree.stream(entry) as fh:
        for n, item in enumerate(iter_jsonl(fh, MAX_ROLLOUT_LINE_BYTES)):
            if isinstance(item.value, dict):
                keys.update(item.value)
            if n >= MAX_EXAMPLES_FOR_KEYS:
                break
    return keys | {"responses_create_params", "response"} if keys else None


def read_rollouts(tree: SourceTree, path: str, keys: set[str] | None = None) -> Iterator[Rollout]:
    """The rollouts of a file; with `keys`, each body keeps only those (what the agent sent to /verify)."""
    entry = tree.get(path)
    if entry is None or entry.kind != "file":
        return
    with tree.stream(entry) as fh:
        for item in iter_jsonl(fh, MAX_ROLLOUT_LINE_BYTES):
            yield _rollout(item.line, item.value, item.error, keys)


def _rollout(line: int, value: Any, error: str | None, keys: set[str] | None = None) -> Rollout:
    if error:
        return Rollout(line, error=error)
    if not isinstance(value, dict) or "response" not in value or "responses_create_params" not in value:
        return Rollout(line, error="is not a rollout (needs `responses_create_params` and `response`)")
    raw = value.get("reward")
    reward = finite_number(raw)
    # A rollout is the verify response: the request plus what verify() added. The agent sent the
    # example's fields and the response; the added fields (reward, scores) are not sent back.
    body = strip_nulls({k: v for k, v in value.items() if k != "reward" and (keys is None or k in keys)})
    if reward is None:
        return Rollout(line, body=body, error=f"has no stored `reward` that is a finite float (found {_short(raw)})")
    return Rollout(line, body=body, reward=reward)


def _short(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def items_file(rollouts: list[Rollout]) -> bytes:
    """The replay client's input: one JSON line per rollout to send, `{"line", "body"}`."""
    lines = [json.dumps({"line": r.line, "body": r.body}, separators=(",", ":")) for r in rollouts]
    return ("\n".join(lines) + "\n").encode() if lines else b""
