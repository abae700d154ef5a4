"""Read NeMo Gym's own reward-profiling output (`<stem>_reward_profiling.jsonl`, `<stem>_agent_metrics.json`)."""

from __future__ import annotations

from typing import IO, Any

from gym_review_bot.evidence.rollouts import (
    MAX_BAD_LINES_NAMED,
    MAX_LINE_BYTES,
    MAX_MODELS,
    iter_rollout_lines,
    prompt_key,
)
from gym_review_bot.evidence.stats import EPS, PASS_REWARD, histogram, mean, pass_rate_histogram, std
from gym_review_bot.models import Evidence
from gym_review_bot.safeload import finite_number, parse_json_line

PROFILE_SUFFIX = "_reward_profiling.jsonl"
AGENT_SUFFIX = "_agent_metrics.json"
MAX_AGENT_METRICS_BYTES = 16 * 1024 * 1024


def _rollout_rewards(group: dict[str, Any]) -> list[float] | None:
    infos = group.get("rollout_infos")
    if not isinstance(infos, list):
        return None
    rewards = [finite_number(i.get("reward")) for i in infos if isinstance(i, dict)]
    return [r for r in rewards if r is not None] or None


def _model(group: dict[str, Any]) -> str | None:
    sample = group.get("sample")
    params = sample.get("responses_create_params") if isinstance(sample, dict) else None
    model = params.get("model") if isinstance(params, dict) else None
    return model.strip()[:200] if isinstance(model, str) and model.strip() else None


def _offers_tools(group: dict[str, Any]) -> bool:
    sample = group.get("sample")
    params = sample.get("responses_create_params") if isinstance(sample, dict) else None
    return isinstance(params, dict) and bool(params.get("tools"))


def profile_from_profiling(stream: IO[bytes], source: str, max_line_bytes: int = MAX_LINE_BYTES) -> Evidence:
    """Per-prompt groups as `reward_profile` wrote them; rewards per rollout where it kept them."""
    rewards: list[float] = []
    prompt_means: list[float] = []
    rates: list[float] = []
    sizes: list[int] = []
    zero_variance = prompts = bad = 0
    per_rollout = True
    tool_calling = False
    bad_lines: list[str] = []
    seen: set[bytes] = set()  # prompts by their content: a group repeated is one prompt
    model_rows: dict[str, int] = {}
    other_models = repeated = 0
    for item in iter_rollout_lines(stream, max_line_bytes):
        group = item.row
        group_mean = finite_number(group.get("mean/reward")) if group else None
        if group is None or group_mean is None:
            bad += 1
            if len(bad_lines) < MAX_BAD_LINES_NAMED:
                bad_lines.append(f"line {item.line} {item.error or 'has no numeric `mean/reward`'}")
            continue
        sample = group.get("sample")
        key = prompt_key(sample if isinstance(sample, dict) else {})
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        prompts += 1
        prompt_means.append(group_mean)
        tool_calling = tool_calling or _offers_tools(group)
        model = _model(group)
        if model and (model in model_rows or len(model_rows) < MAX_MODELS):
            model_rows[model] = model_rows.get(model, 0) + 1
        elif model:
            other_models += 1
        group_rewards = _rollout_rewards(group)
        count = group.get("num_rollouts")
        if group_rewards is not None:
            rewards.extend(group_rewards)
            sizes.append(len(group_rewards))
            rates.append(sum(1 for r in group_rewards if r >= PASS_REWARD) / len(group_rewards))
            zero_variance += max(group_rewards) - min(group_rewards) <= EPS
            continue
        per_rollout = False
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            sizes.append(count)
        spread = finite_number(group.get("std/reward"))
        zero_variance += spread is not None and spread <= EPS
        rates.append(min(1.0, max(0.0, group_mean)))
    notes = [
        f"Counted {prompts:,} prompts by their content (the sample's messages)"
        + (f"; {repeated:,} groups repeating a prompt already counted were not counted" if repeated else "")
        + "."
    ]
    if bad:
        notes.append(f"{bad} line(s) were not reward-profiling groups: " + "; ".join(bad_lines))
    if not per_rollout:
        notes.append(
            "This profiling output does not keep each rollout's reward (older NeMo Gym): the reward histogram "
            "and pass rates are of per-prompt mean rewards."
        )
    values = rewards if per_rollout else prompt_means
    return Evidence(
        source=source,
        kind="reward_profiling",
        rollouts=len(rewards) if per_rollout else (sum(sizes) if len(sizes) == prompts else None),
        prompts=prompts,
        responses_per_prompt=min(sizes) if sizes and len(sizes) == prompts else None,
        responses_per_prompt_max=max(sizes) if sizes and len(sizes) == prompts else None,
        models=sorted(model_rows, key=lambda m: -model_rows[m]),
        model_rows=dict(sorted(model_rows.items(), key=lambda kv: -kv[1])),
        other_model_rows=other_models,
        duplicate_rows=repeated,
        reward_mean=mean(values),
        reward_std=std(rewards) if per_rollout else None,
        pass_rate=(sum(1 for r in rewards if r >= PASS_REWARD) / len(rewards)) if per_rollout and rewards else None,
        reward_histogram=histogram(values),
        pass_rate_histogram=pass_rate_histogram(rates),
        zero_variance_share=zero_variance / prompts if prompts else None,
        tool_calling=tool_calling,
        notes=notes,
    )


def merge_agent_metrics(evidence: Evidence, raw: bytes) -> None:
    """Fill in the overall mean and std from `<stem>_agent_metrics.json` where the groups could not give them."""
    if len(raw) > MAX_AGENT_METRICS_BYTES:
        evidence.notes.append("The agent metrics file is too large to read; ignored.")
        return
    try:
        value = parse_json_line(raw)
    except ValueError:  # TooDeep too
        evidence.notes.append("The agent metrics file is not valid JSON; ignored.")
        return
    agents = [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []
    if len(agents) != 1 or evidence.reward_std is not None:
        return  # several agents, or the groups kept every rollout's reward: those numbers are exact
    # the groups' means weigh every prompt alike; the agent's are over rollouts
    evidence.reward_std = finite_number(agents[0].get("std/reward"))
    agent_mean = finite_number(agents[0].get("mean/reward"))
    evidence.reward_mean = agent_mean if agent_mean is not None else evidence.reward_mean
