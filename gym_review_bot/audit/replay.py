"""How a server's example rollouts were replayed, read from its replay finding (GR203), and NeMo Gym's
"not replayable" mark applied to the checks that replay them."""

from __future__ import annotations

from dataclasses import replace

from gym_review_bot.audit.models import Replay, ReverifyMode
from gym_review_bot.models import Finding, ServerReport

REPLAY_CHECK = "GR203"
REPLAYING_CHECKS = ("GR203", "GR204", "GR206")  # each sends stored rollouts (or probes built on them) to /verify
NOT_REPLAYABLE = (
    "Not replayable: the server declares REVERIFY_MODE = UNSUPPORTED (its verify() reads per-rollout session "
    "state seeded during the original run), so its stored rollouts cannot reproduce their rewards and "
    "`gym eval reverify` refuses it; the audit does not judge them as stale."
)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().split("\n")[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def mark_not_replayable(server: ServerReport) -> ServerReport:
    """A copy whose replaying checks that failed or could not run are skipped as not applicable, saying why."""
    findings = [
        _not_replayable(f) if f.id in REPLAYING_CHECKS and f.status in ("fail", "error") else f for f in server.findings
    ]
    return replace(server, findings=findings)


def _not_replayable(finding: Finding) -> Finding:
    return replace(finding, status="skip", skip_kind="not_applicable", message=NOT_REPLAYABLE, locations=[])


def replay_of(server: ServerReport, reverify: ReverifyMode | None) -> Replay:
    """The replay mode: not replayable (NeMo Gym's mark), not run, could not (a model was called), with a recorded
    judge (some rollouts' judge calls were answered from their recording), or no model; with the sandbox's counts."""
    if reverify == "unsupported":
        return Replay(mode="not_replayable", detail="REVERIFY_MODE = UNSUPPORTED")
    found = next((f for f in server.findings if f.id == REPLAY_CHECK), None)
    if found is None:
        return Replay(mode="not_run", detail="no replay finding")
    if found.status == "skip":
        return Replay(mode="not_run", detail=_first_line(found.message))
    counts = server.replay
    known = {}
    if counts is not None:
        known = {
            "rollouts": counts.rollouts,
            "recorded_judge": counts.recorded_judge,
            "could_not": counts.not_replayable,
        }
    if found.status == "pass" or found.status == "fail":
        mode = "recorded_judge" if counts is not None and counts.recorded_judge else "no_model"
        return Replay(mode=mode, detail=_first_line(found.message), **known)
    return Replay(mode="could_not", detail=_first_line(found.message), **known)
