"""Rollout files with a known reward distribution, for the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

FILLER = "The answer follows from the working above. "


def rollout_row(
    task: int,
    index: int,
    reward: float,
    model: str = "Qwen/Qwen3-4B",
    tool_calls: int = 0,
    failed_calls: int = 0,
    pad_to: int = 0,
    task_index: bool = True,
) -> dict[str, Any]:
    """One rollout as NeMo Gym writes it; without `task_index` the `_ng_*` indices are left out."""
    output: list[dict[str, Any]] = []
    for n in range(tool_calls):
        call_id = f"call_{task}_{index}_{n}"
        output.append(
            {
                "type": "function_call",
                "name": "lookup",
                "arguments": '{"q": 1}',
                "call_id": call_id,
                "status": "completed",
            }
        )
        result = '{"error": "no such key"}' if n < failed_calls else '{"value": 42}'
        output.append({"type": "function_call_output", "call_id": call_id, "output": result})
    text = f"Answer {index} for prompt {task}: 42."  # each response its own: copies are not responses
    output.append(
        {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
    )
    params: dict[str, Any] = {"input": [{"role": "user", "content": f"Question number {task}?"}]}
    if tool_calls or failed_calls:
        params["tools"] = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    row: dict[str, Any] = {
        "responses_create_params": params,
        "response": {"model": model, "output": output},
        "reward": reward,
    }
    if task_index:
        row["_ng_task_index"], row["_ng_rollout_index"] = task, index
    if pad_to:
        size = len(orjson.dumps(row))
        if size < pad_to:
            filler = (FILLER * (1 + (pad_to - size) // len(FILLER)))[: pad_to - size - 40]
            output[-1]["content"][0]["text"] += " " + filler
    return row


def rollouts(
    prompts: int,
    per_prompt: int,
    passes: Callable[[int], int],
    model: str = "Qwen/Qwen3-4B",
    tool_calls: Callable[[int, int], tuple[int, int]] | None = None,
    pad_to: int = 0,
    task_index: bool = True,
) -> Iterator[dict[str, Any]]:
    """Prompt i gets passes(i) responses with reward 1 and the rest 0; tool_calls(i, j) = (calls, failed)."""
    for task in range(prompts):
        wins = passes(task)
        for j in range(per_prompt):
            calls, failed = tool_calls(task, j) if tool_calls else (0, 0)
            yield rollout_row(task, j, 1.0 if j < wins else 0.0, model, calls, failed, pad_to, task_index)


def jsonl(rows: Iterator[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)
