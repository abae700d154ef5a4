"""GR501: a PR that changes shared code (`nemo_gym/`, a library under `resources_servers/`) breaks a server it reaches.

Which servers it reaches, the sample of them and how each sampled server compares with the merge base are
worked out in `blast/` (the sandbox at the head and at the base); this check turns that (`Report.blast`)
into the PR's one finding. A check that passes at the merge base and fails here breaks the server; one that
fails at the base too is pre-existing and does not count; a sampled server that could not be judged makes
the finding `error`, never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from gym_review_bot.checks.base import Check, Outcome, errored, failed, passed, skipped
from gym_review_bot.checks.pull import PrContext
from gym_review_bot.models import BlastRadius, RewardChange, SampledServer

BLAST_CHECK = "GR501"
MAX_NAMED = 10  # servers named in the message; the report's `blast` has them all
MAX_LINES = 5  # reward lines per check named in the message
NO_SHARED_CODE = "Not applicable: the PR changes no shared code (nemo_gym/ or a library under resources_servers/)."


@dataclass
class BlastContext(PrContext):
    """A PR check's context with the core change's reach and the sample's results."""

    blast: BlastRadius | None = None  # None: the PR changes no shared code


def number(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def reward_line(change: RewardChange) -> str:
    """`line 3: stored 1, base 1, head 0`, with what /verify returned instead of a reward."""
    note = f" ({change.note})" if change.note else ""
    return (
        f"line {change.line}: stored {number(change.stored)}, base {number(change.base)}, "
        f"head {number(change.head)}{note}"
    )


def _breaks(server: SampledServer) -> str:
    parts = []
    for change in server.breaks:
        text = f"{change.id} ({change.title}) passes at the merge base and fails here"
        if change.id == "GR203" and server.rewards:
            shown = "; ".join(reward_line(r) for r in server.rewards[:MAX_LINES])
            more = f"; {len(server.rewards) - MAX_LINES} more lines" if len(server.rewards) > MAX_LINES else ""
            text += f" ({shown}{more})"
        parts.append(text)
    return f"`{server.name}`: " + ", ".join(parts)


def _named(servers: list[SampledServer], what) -> str:  # type: ignore[no-untyped-def]
    shown = [what(s) for s in servers[:MAX_NAMED]]
    more = f"; and {len(servers) - MAX_NAMED} more" if len(servers) > MAX_NAMED else ""
    return "; ".join(shown) + more


def breaks_outcome(blast: BlastRadius | None) -> Outcome:
    """GR501's outcome from the core change's reach and the sample's results."""
    if blast is None:
        return skipped(NO_SHARED_CODE)
    results = blast.results
    broken = [r for r in results if r.outcome == "breaks"]
    unjudged = [r for r in results if r.outcome == "error"]
    count = len(blast.affected)
    if broken:
        also = (
            f" {len(unjudged)} more could not be judged: {_named(unjudged, lambda s: f'`{s.name}` ({s.reason})')}."
            if unjudged
            else ""
        )
        return failed(
            f"{len(broken)} of {len(results)} sampled servers break: {_named(broken, _breaks)}.{also} "
            f"({count} servers import the changed modules; {len(blast.sampled)} sampled.)",
            key="\n".join(sorted(f"{s.name}:{c.id}" for s in broken for c in s.breaks)),
        )
    if unjudged:
        return errored(
            f"{len(unjudged)} of {len(results)} sampled servers could not be judged, so whether this change "
            f"breaks them is not known: {_named(unjudged, lambda s: f'`{s.name}` ({s.reason})')}.",
            key="\n".join(sorted(s.name for s in unjudged)),
        )
    not_run = [r for r in results if r.outcome == "not_run"]
    if not_run or blast.reason or (blast.sampled and not results):
        why = blast.reason or (not_run[0].reason if not_run else None) or "the sample was not judged here"
        return skipped(f"Not run: {why}", kind="not_requested")
    if not blast.affected:
        return passed(f"No server imports the changed modules ({', '.join(blast.modules[:MAX_NAMED])}).", key="")
    if not results and blast.not_sampled:
        return skipped(
            f"Not run: github.audit_sample is {blast.sample_size}, so none of the {count} servers importing the "
            "change was sampled.",
            kind="not_requested",
        )
    if not results:
        return passed(f"The {count} servers importing the change are the PR's own, reviewed as such.", key="")
    old = [r for r in results if r.outcome == "pre_existing"]
    known = f" ({len(old)} already fail the same checks at the merge base: pre-existing)" if old else ""
    return passed(
        f"None of the {len(results)} sampled servers breaks{known}; {count} servers import the changed modules.",
        key="",
    )


def check_breaks(ctx: BlastContext) -> Outcome:
    return breaks_outcome(ctx.blast)


CHECKS = [
    Check(
        BLAST_CHECK,
        "warning",
        "This change breaks a server",
        "Keep the servers it reaches working: fix the change, or update each named server with it (its code, or "
        "its example rollouts when their rewards are meant to change).",
        family="core",
        run=check_breaks,
        scope="pr",
    ),
]
