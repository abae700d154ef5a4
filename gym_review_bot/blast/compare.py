"""One sampled server here and at the merge base: which checks the change breaks, which failed before it.

Checks are compared by id. One that fails here and passes at the base (or did not apply there) breaks the
server; one that fails at the base too (or was skipped there because its prerequisite failed) is pre-existing;
one that could not run, here or at the base where it fails here, leaves the server not judged (`error`): never
a pass. For the replay (GR203) the lines whose reward moved are named with the stored reward and what the base
and the head returned.
"""

from __future__ import annotations

import re

from gym_review_bot.discover import SERVERS_DIR
from gym_review_bot.models import BlastOutcome, CheckChange, Finding, RewardChange, SampledServer, ServerReport
from gym_review_bot.sandbox.replay import read_rollouts
from gym_review_bot.sources import SourceTree

REPLAY_CHECK = "GR203"
# The sandbox's GR203 listing (sandbox/runner.py `_describe`): a reward returned, or what came back instead.
_LINE = re.compile(r"^- line (\d+): (?:stored reward \S+, /verify returned (\S+)|(.+))$", re.MULTILINE)


def first_line(text: str, limit: int = 300) -> str:
    line = text.strip().split("\n")[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def replayed(message: str) -> dict[int, tuple[float | None, str | None]]:
    """What /verify returned per listed rollout line of a GR203 failure: (reward, None) or (None, what instead)."""
    out: dict[int, tuple[float | None, str | None]] = {}
    for match in _LINE.finditer(message):
        returned = match.group(2)
        try:
            out[int(match.group(1))] = (float(returned), None) if returned else (None, match.group(3).strip())
        except ValueError:
            out[int(match.group(1))] = (None, returned)
    return out


def stored_rewards(tree: SourceTree, name: str) -> dict[int, float | None]:
    path = f"{SERVERS_DIR}/{name}/data/example_rollouts.jsonl"
    return {r.line: r.reward for r in read_rollouts(tree, path)} if tree.get(path) else {}


def reward_changes(head: Finding, base: Finding | None, tree: SourceTree, name: str) -> list[RewardChange]:
    """The replayed lines whose reward differs between the base and the head (the head's GR203 lists them)."""
    here = replayed(head.message)
    before = replayed(base.message) if base is not None and base.status == "fail" else {}
    base_reproduced = base is not None and base.status == "pass"  # every line returned its stored reward
    stored = stored_rewards(tree, name)
    changes = []
    for line in sorted(here):
        reward, note = here[line]
        kept = stored.get(line)
        then = kept if base_reproduced else before.get(line, (None, None))[0]
        changes.append(RewardChange(line=line, stored=kept, base=then, head=reward, note=note and first_line(note, 80)))
    return changes


def _pre_existing(base: Finding) -> bool:
    return base.status == "fail" or (base.status == "skip" and base.skip_kind == "prerequisite_failed")


def _unknown_at_base(base: Finding | None) -> bool:
    """The base cannot say whether the check passed: it could not run, or was not asked for (not run there)."""
    return base is None or base.status == "error" or base.skip_kind in ("not_requested", "disabled_by_policy")


def compare(
    name: str,
    modules: list[str],
    head: ServerReport,
    base: ServerReport | None,
    tree: SourceTree,
) -> SampledServer:
    """The server's row: `base` is None when nothing fails here (the base was not needed)."""
    at_base = {f.id: f for f in base.findings} if base else {}
    breaks, pre, unknown = [], [], []
    for finding in head.findings:
        if finding.status == "error":
            unknown.append(finding.id)
        elif finding.status == "fail":
            before = at_base.get(finding.id)
            if _unknown_at_base(before):
                unknown.append(finding.id)
            elif _pre_existing(before):  # type: ignore[arg-type]
                pre.append(finding.id)
            else:
                assert before is not None
                breaks.append(
                    CheckChange(
                        id=finding.id,
                        title=finding.title,
                        base=before.status,
                        head=finding.status,
                        message=first_line(finding.message),
                    )
                )
    outcome: BlastOutcome = "breaks" if breaks else "error" if unknown else "pre_existing" if pre else "passes"
    row = SampledServer(name=name, modules=modules, outcome=outcome, breaks=breaks, pre_existing=pre)
    row.not_judged = unknown
    if unknown:
        first = next(f for f in head.findings if f.id == unknown[0])
        if first.status == "error":
            row.reason = f"{', '.join(unknown)} could not run: {first_line(first.message, 200)}"
        else:
            row.reason = f"{', '.join(unknown)} fails here, and the merge base's run could not tell whether it passed"
    if any(c.id == REPLAY_CHECK for c in breaks):
        replay = next(f for f in head.findings if f.id == REPLAY_CHECK)
        row.rewards = reward_changes(replay, at_base.get(REPLAY_CHECK), tree, name)
    return row
