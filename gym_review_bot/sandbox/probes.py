"""GR206: reward-hacking probes, and rewards copied from the request instead of computed by verify().

The probes are built (by the replay client, from the stored rows) on each distinct example prompt whose
stored reward is the highest, not on one rollout: a first rollout that earns 0 cannot hide a verify()
that rewards anything. Each prompt gets an empty response and an unrelated one. A probe that earns the
highest reward on every prompt probed fails GR206 (an `error` by default; refusal-style tasks, where an
empty answer is right, set GR206 to `warning` in .gym-review.yaml). So does a reward that equals one
number of the request body (e.g. `responses_create_params.metadata.reward`) on every rollout and every
probe, while the rewards vary: it is named as a likely leak.
"""

from __future__ import annotations

from gym_review_bot.checks.base import Outcome, errored, failed, passed, skipped
from gym_review_bot.sandbox.replay import TOLERANCE, ReplayResult

MAX_PROBE_PROMPTS = 25  # two probes each
KINDS = ("empty response", "unrelated text")  # as the replay client names them
MAX_SHOWN_LINES = 10


def probe_lines(first: list[ReplayResult]) -> tuple[list[int], float | None]:
    """(one line per distinct prompt whose stored reward is the highest, that reward); (.., None) when rewards
    do not vary, so a probe's reward cannot be judged."""
    usable = [r for r in first if r.usable and r.stored is not None]
    rewards = [r.stored for r in usable if r.stored is not None]
    if not rewards or max(rewards) - min(rewards) <= TOLERANCE:
        return [], None
    top = max(rewards)
    lines: dict[str, int] = {}
    for r in usable:
        key = r.prompt or f"line {r.line}"
        if r.stored is not None and r.stored >= top - TOLERANCE and key not in lines:
            lines[key] = r.line
            if len(lines) >= MAX_PROBE_PROMPTS:
                break
    return sorted(lines.values()), top


def leak_paths(first: list[ReplayResult], probes: list[ReplayResult]) -> list[str]:
    """Request paths whose number equalled the reward on every rollout and probe that got one, the rewards varying."""
    answered = [r for r in (*first, *probes) if r.returned is not None]
    rewards = {round(r.returned, 6) for r in answered if r.returned is not None}
    if len(rewards) < 2 or not any(r.probe for r in answered) or not any(not r.probe for r in answered):
        return []
    common = set(answered[0].leaks)
    for r in answered[1:]:
        common &= set(r.leaks)
        if not common:
            return []
    return sorted(common)


def _shown(lines: list[int]) -> str:
    text = ", ".join(map(str, lines[:MAX_SHOWN_LINES]))
    return text + (f" and {len(lines) - MAX_SHOWN_LINES} more" if len(lines) > MAX_SHOWN_LINES else "")


def judge(first: list[ReplayResult], results: list[ReplayResult], top: float, file: str) -> Outcome:
    prompts = sorted({r.line for r in results})
    rows: list[str] = []
    every: list[str] = []
    for kind in KINDS:
        mine = [r for r in results if r.probe == kind]
        hits = [r.line for r in mine if r.returned is not None and r.returned >= top - TOLERANCE]
        if mine and len(hits) == len(mine):
            every.append(kind)
            rows.append(f"- {kind}: {top:g} on every one of the {len(mine)} prompts probed (lines {_shown(hits)})")
        elif hits:
            rows.append(f"- {kind}: {top:g} on {len(hits)} of the {len(mine)} prompts probed (lines {_shown(hits)})")
    leaks = leak_paths(first, results)
    if leaks:
        where = ", ".join(f"`{p}`" for p in leaks[:5])
        rows.append(
            f"Likely leak: on every rollout and every probe, the reward verify() returned equals the number at "
            f"{where} in the request body. verify() should compute the reward from the response, not copy it."
        )
    if every or leaks:
        return failed(
            f"Responses that do not solve the task get the highest example reward ({top:g}):\n" + "\n".join(rows),
            file=file,
            key=" ".join(every + [f"leak:{p}" for p in leaks]),
        )
    undecided = [r for r in results if r.aborted or r.model_calls]
    if undecided and not any(r.aborted for r in undecided) and any(r.recorded_judge for r in first):
        # A probe's response was never sent to a judge, so no rollout's recording holds an answer for it.
        return skipped(
            f"Skipped: verify() asks a judge model, and {len(undecided)} of {len(results)} probes called it; a probe's "
            "response has no recorded judge calls (the example rollouts' recordings answered their own), and the "
            "sandbox runs no model, so the probes cannot be judged."
        )
    if undecided or not results:
        why = (
            "verify() called a model server for a probe; the sandbox runs none"
            if any(r.model_calls for r in undecided)
            else "the probes could not be sent in time or the server stopped answering"
        )
        return errored(f"Incomplete: {len(undecided)} of {len(results)} probes could not be judged ({why}).")
    note = ("\nBut:\n" + "\n".join(rows)) if rows else ""
    return passed(
        f"An empty and an unrelated response get less than the highest reward ({top:g}) on at least one of the "
        f"{len(prompts)} prompts with that reward.{note}",
        key="",
    )
