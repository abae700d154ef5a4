"""Check an added server's reward-profiling and training evidence (GR401-GR408, GR411-GR413).

The numbers come from NeMo Gym's profiling output or a rollouts file in the PR (computed here), else
from the PR description (self-reported: the finding says they were not verified).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed, run_checks, skipped
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.config import Policy, PrBodySettings, default_policy
from gym_review_bot.evidence.body import ParsedBody
from gym_review_bot.evidence.claims import (
    BodyClaims,
    canonical_model,
    is_reference_model,
    read_claims,
    scope_for_server,
)
from gym_review_bot.evidence.curve import MAX_CURVE_BYTES, read_curve
from gym_review_bot.evidence.locate import Located, example_rows, locate_evidence
from gym_review_bot.evidence.rollouts import iter_rollout_lines
from gym_review_bot.models import Evidence, Finding

if TYPE_CHECKING:
    from gym_review_bot.sandbox.evidence_replay import ReplayLine  # loads the HTTP client: only when GR408 replays

MIN_PROMPTS = 500
RESPONSES_PER_PROMPT = 16
MAX_ZERO_VARIANCE = 0.9
COUNT_TOLERANCE = 0
RATE_TOLERANCE = 0.01
MIN_MODEL_SHARE = 0.5  # the profile's model names at least half of the rows that name one
CURVE_SUFFIXES = (".png", ".svg", ".csv", ".json")
CURVE_WORDS = ("train", "curve", "accuracy", "reward", "grpo")
NOT_VERIFIED = " (self-reported in the PR description; not verified)"


@dataclass
class EvidenceContext:
    server: ServerContext
    located: Located
    claims: BodyClaims | None  # None: no description, or it does not speak for this server
    body_given: bool
    scope_note: str | None = None  # why the description's statements do not count for this server
    policy: Policy = field(default_factory=default_policy)
    sandbox: str = "not_requested"  # review.SandboxMode
    # GR408: replays sampled rollouts against the server (None: the sandbox offers none), or why it cannot
    replay: Callable[[str], list[ReplayLine]] | None = None
    replay_skip: str | None = None

    @property
    def evidence(self) -> Evidence | None:
        return self.located.evidence


def _no_evidence(ctx: EvidenceContext) -> Outcome:
    where = "; ".join(ctx.located.problems)
    if not ctx.body_given and not where:
        raise SkipCheck(
            "No PR description was given (--pr-body) and the PR holds no profiling output or rollouts file.",
            "not_requested",
        )
    scope = f" {ctx.scope_note}" if ctx.scope_note else ""
    found = f" Found but not usable: {where}." if where else ""
    examples = ctx.located.examples
    taken = (
        f" Taken as examples, not a profile: {'; '.join(examples)} (name the file in the description to use it)."
        if examples
        else ""
    )
    return failed(
        "No reward profile: no NeMo Gym profiling output (`*_reward_profiling.jsonl`), no rollouts file "
        f"(`*rollouts*.jsonl` besides the examples) and no numbers in the PR description.{found}{taken}{scope}",
        key="no-evidence",
    )


def _need(ctx: EvidenceContext) -> Evidence:
    if ctx.evidence is None:
        raise _Early(_no_evidence(ctx))
    return ctx.evidence


class _Early(Exception):
    def __init__(self, outcome: Outcome):
        self.outcome = outcome


def _src(ev: Evidence) -> str:
    return NOT_VERIFIED if ev.self_reported else f" (computed from {ev.source})"


def _prompts(ctx: EvidenceContext) -> Outcome:
    ev = _need(ctx)
    if ev.prompts is None:
        return failed(f"The reward profile does not say how many prompts it covers{_src(ev)}.", key="unknown")
    if ev.prompts < MIN_PROMPTS:
        return failed(f"{ev.prompts:,} prompts profiled; at least {MIN_PROMPTS} are needed{_src(ev)}.", key="few")
    return passed(f"{ev.prompts:,} prompts profiled{_src(ev)}.", key="ok")


def _responses(ctx: EvidenceContext) -> Outcome:
    ev = _need(ctx)
    n, most = ev.responses_per_prompt, ev.responses_per_prompt_max
    if n is None:
        return failed(f"The reward profile does not say how many responses each prompt got{_src(ev)}.", key="unknown")
    if n < RESPONSES_PER_PROMPT:
        spread = f"{n}" if most in (None, n) else f"{n} to {most}"
        return failed(
            f"{spread} responses per prompt; {RESPONSES_PER_PROMPT} per prompt are needed{_src(ev)}.", key="few"
        )
    return passed(f"{n} responses per prompt{_src(ev)}.", key="ok")


def _model(ctx: EvidenceContext) -> Outcome:
    ev = ctx.evidence
    if ev is not None and not ev.self_reported and (ev.model_rows or ev.other_model_rows):
        return _model_of_rows(ctx, ev)  # the file names its models: the description cannot outvote it
    models = list(ev.models if ev else [])
    stated = ctx.claims.models if ctx.claims else []
    reference = [m for m in [*models, *stated] if is_reference_model(m)]
    if reference:
        where = "the rollouts" if reference[0] in models and ev and not ev.self_reported else "the description"
        return passed(f"Profiled with {reference[0]} (named in {where}).", key="reference")
    equivalent = ctx.claims.equivalent_models if ctx.claims else []
    if equivalent:
        return passed(f"Profiled with {equivalent[0]}, stated as equivalent to Qwen3-4B / Qwen3-30B-A3B.", key="equiv")
    if ev is None and not stated:
        return _no_evidence(ctx)
    named = ", ".join(dict.fromkeys([*models, *stated])) or "none"
    scope = f" {ctx.scope_note}" if ctx.scope_note else ""
    return failed(
        "The profiling model is not Qwen3-4B or Qwen3-30B-A3B, nor stated as equivalent "
        f"(models named: {named}).{scope}",
        key="model:" + named[:200],
    )


def _model_of_rows(ctx: EvidenceContext, ev: Evidence) -> Outcome:
    """The model that generated most of the profiled rows, by share: one Qwen row in 8,000 is not a Qwen profile."""
    by_model: dict[str, int] = {}
    for name, rows in ev.model_rows.items():
        by_model[canonical_model(name)] = by_model.get(canonical_model(name), 0) + rows
    total = sum(by_model.values()) + ev.other_model_rows
    top, rows = max(by_model.items(), key=lambda kv: kv[1]) if by_model else ("", 0)
    share = rows / total if total else 0.0
    shown = ", ".join(f"{m} {n:,} ({n / total:.1%})" for m, n in list(ev.model_rows.items())[:5])
    counted = f"rows by model in {ev.source}: {shown}"
    if share < MIN_MODEL_SHARE:
        return failed(
            f"No model generated most of the profiled rows ({counted}); profile with one model, Qwen3-4B or "
            "Qwen3-30B-A3B.",
            key="model-mixed",
        )
    if is_reference_model(top):
        return passed(f"Profiled with {top} ({counted}).", key="reference")
    equivalent = ctx.claims.equivalent_models if ctx.claims else []
    if any(canonical_model(e) == top for e in equivalent):
        said = f"Profiled with {top}, stated as equivalent to Qwen3-4B / Qwen3-30B-A3B ({counted})."
        return passed(said, key="equiv")
    scope = f" {ctx.scope_note}" if ctx.scope_note else ""
    return failed(
        f"The profiled rows were generated by {top}, not Qwen3-4B or Qwen3-30B-A3B, and the description does not "
        f"state it as equivalent ({counted}; what the description says of other models does not count).{scope}",
        key="model:" + top[:200],
    )


def _distribution(ctx: EvidenceContext) -> Outcome:
    ev = _need(ctx)
    if ev.reward_histogram:
        return passed(f"Reward distribution over {sum(b.count for b in ev.reward_histogram):,} values{_src(ev)}.")
    if ev.reward_mean is not None or ev.pass_rate is not None:
        return passed(f"The description states the reward (mean or pass rate){NOT_VERIFIED}.", key="stated")
    return failed("No reward distribution: neither a histogram nor a mean reward or pass rate.", key="none")


def _offers_tools(ctx: EvidenceContext) -> bool:
    if ctx.evidence is not None and ctx.evidence.tool_calling:
        return True
    try:
        entry = ctx.server.find("data/example.jsonl")
    except SkipCheck:
        return False
    if entry is None:
        return False
    with ctx.server.tree.stream(entry) as fh:  # every row, streamed: a tool offered on row 60 counts too
        for item in iter_rollout_lines(fh):
            params = item.row.get("responses_create_params") if item.row else None
            if isinstance(params, dict) and params.get("tools"):
                return True
    return False


def _tool_metrics(ctx: EvidenceContext) -> Outcome:
    if not _offers_tools(ctx):
        return skipped("Not tool-calling: no `tools` in the examples or rollouts.")
    ev = ctx.evidence
    if ev is not None and ev.tool_calls is not None:
        t = ev.tool_calls
        corr = "none (no variance)" if t.reward_correlation is None else f"{t.reward_correlation:+.2f}"
        return passed(
            f"Tool calls per rollout {t.calls_per_rollout:.2f}, failed share {t.failed_call_share:.1%}, "
            f"correlation with reward {corr} (computed from {ev.source}).",
            key="computed",
        )
    if ctx.claims is not None and ctx.claims.tool_metrics_stated:
        return passed(f"The description states tool-call metrics and their correlation with reward{NOT_VERIFIED}.")
    if ev is None and not ctx.claims:
        return _no_evidence(ctx)
    return failed(
        "A tool-calling environment, but no tool-call metrics (calls per rollout, failing calls) nor their "
        "correlation with reward: attach the rollouts, or state them in the description.",
        key="missing",
    )


def _variance(ctx: EvidenceContext) -> Outcome:
    ev = _need(ctx)
    share = ev.zero_variance_share
    if share is None:
        return skipped("The zero-variance share needs per-prompt rewards (profiling output or rollouts).")
    if share > MAX_ZERO_VARIANCE:
        return failed(
            f"{share:.0%} of prompts got the same reward on every response: they give GRPO no signal.",
            key="high",
        )
    return passed(f"{share:.0%} of prompts have no reward variance.", key="ok")


def _agreement(ctx: EvidenceContext) -> Outcome:
    ev, claims = ctx.evidence, ctx.claims
    if ev is None or ev.self_reported:
        return skipped("No attached profiling or rollouts to compare the numbers with.")
    if claims is None:
        return skipped(ctx.scope_note or "No PR description to compare with.", "not_applicable")
    checks = [
        ("prompts", claims.prompts, ev.prompts, COUNT_TOLERANCE),
        ("responses per prompt", claims.responses_per_prompt, ev.responses_per_prompt, COUNT_TOLERANCE),
        ("mean reward", claims.reward_mean, ev.reward_mean, RATE_TOLERANCE),
        ("pass rate", claims.pass_rate, ev.pass_rate, RATE_TOLERANCE),
    ]
    stated = [(name, s, c, tol) for name, s, c, tol in checks if s is not None and c is not None]
    if not stated:
        return skipped("The description states none of: prompts, responses per prompt, mean reward, pass rate.")
    wrong = [f"{name}: stated {s:g}, the file gives {c:.4g}" for name, s, c, tol in stated if abs(s - c) > tol + 1e-9]
    if wrong:
        return failed(f"The description disagrees with {ev.source}: " + "; ".join(wrong) + ".", key="|".join(wrong))
    return passed(f"The description's {', '.join(n for n, *_ in stated)} match {ev.source}.", key="ok")


def _replay(ctx: EvidenceContext) -> Outcome:
    ev = _need(ctx)
    if ctx.located.rollouts_file is None and ctx.sandbox != "run":
        raise SkipCheck(
            f"Nothing to replay: the evidence is {ev.source}, which holds no rollouts, and the sandbox did not run.",
            "not_requested" if ctx.sandbox == "not_requested" else "not_applicable",
        )
    if ctx.located.rollouts_file is None:
        return failed(
            f"Nothing to replay: the evidence is {ev.source}, which holds no rollouts. Attach the rollouts file so "
            "the bot can reproduce a sample of its rewards.",
            severity="warning",
            key="nothing",
        )
    if ctx.sandbox == "unavailable":
        raise CheckError("The sandbox should have run and could not; the sampled rollouts were not replayed.")
    if ctx.sandbox != "run":
        raise SkipCheck("The sandbox did not run; the sampled rollouts were not replayed.", "not_requested")
    if ctx.replay_skip:
        raise SkipCheck(ctx.replay_skip, "prerequisite_failed")
    if ctx.replay is None:
        raise CheckError(
            "Not implemented in this version: the sandbox does not yet replay attached rollouts; "
            "a maintainer must check by hand that the rewards reproduce."
        )
    results = ctx.replay(ctx.located.rollouts_file)
    return judge_replay(results, ctx.located.rollouts_file)


def judge_replay(results: list[ReplayLine], file: str) -> Outcome:
    """GR408's verdict on replayed lines: any reward that does not reproduce fails, naming the lines."""
    if not results:
        raise CheckError(f"No line of {file} could be replayed.")
    wrong = [r for r in results if r.status == "mismatch"]
    unanswered = [r for r in results if r.status == "error"]
    if wrong:
        lines = ", ".join(f"line {r.line} (stored {r.stored:g}, got {r.returned:g})" for r in wrong[:10])
        return failed(
            f"{len(wrong)} of {len(results)} sampled rollouts do not reproduce their reward: {lines}.",
            file=file,
            key="mismatch",
        )
    if len(unanswered) == len(results):
        raise CheckError(f"No sampled rollout got an answer from /verify ({unanswered[0].detail}).")
    note = f"; {len(unanswered)} could not be replayed" if unanswered else ""
    return passed(f"{len(results) - len(unanswered)} sampled rollouts reproduce their rewards{note}.", file=file)


def _grpo(ctx: EvidenceContext) -> Outcome:
    claims = _need_claims(ctx)
    if not claims.grpo_lines:
        return failed("The description does not state GRPO training (no line mentions GRPO).", key="none")
    if not claims.grpo_models:
        return failed(f"GRPO training is stated (“{claims.grpo_lines[0][:80]}”) without the model.", key="model")
    return passed(f"GRPO training on {claims.grpo_models[0]} stated.", key="ok")


def _curve_files(ctx: EvidenceContext) -> list[str]:
    out = []
    for entry in ctx.server.tree.walk(ctx.server.path):
        name = entry.path.rsplit("/", 1)[-1].lower()
        if entry.kind == "file" and name.endswith(CURVE_SUFFIXES) and any(w in name for w in CURVE_WORDS):
            out.append(entry.path)
    return out


def _training_curve(ctx: EvidenceContext) -> Outcome:
    files = _curve_files(ctx)
    if files:
        return passed(f"A training curve is in the PR: {files[0]}.", key="file")
    claims = _need_claims(ctx)
    if claims.training_links:
        link = claims.training_links[0]
        kind = "image" if link.image else "link"
        return passed(f"A training curve {kind} is in the description ({link.href[:100]}).", key=kind)
    return failed(
        "No training accuracy curve: no image in the description's training section, no W&B / MLflow / "
        "TensorBoard link, and no PNG/SVG/CSV/JSON curve under the server.",
        key="none",
    )


def _benchmark_curve(ctx: EvidenceContext) -> Outcome:
    claims = _need_claims(ctx)
    named = [b for b in claims.benchmarks if b not in ("benchmark", "benchmarks")] or claims.benchmarks
    if not named:
        return skipped("The description names no test benchmark.")
    if claims.benchmark_links:
        return passed(f"A benchmark curve for {named[0]} is in the description.", key="link")
    files = [f for f in _curve_files(ctx) if any(w in f.lower() for w in ("test", "bench", "eval", *named))]
    if files:
        return passed(f"A benchmark curve is in the PR: {files[0]}.", key="file")
    return failed(
        f"The description names a benchmark ({named[0]}) but shows no test accuracy curve for it.", key="none"
    )


def _need_claims(ctx: EvidenceContext) -> BodyClaims:
    if ctx.claims is not None:
        return ctx.claims
    if not ctx.body_given:
        raise SkipCheck("No PR description was given (--pr-body); training evidence was not checked.", "not_requested")
    raise _Early(failed(ctx.scope_note or "The PR description is empty.", key="unscoped"))


def _early(fn: Callable[[EvidenceContext], Outcome]) -> Callable[[EvidenceContext], Outcome]:
    def run(ctx: EvidenceContext) -> Outcome:
        try:
            return fn(ctx)
        except _Early as early:
            return early.outcome

    return run


CHECKS = [
    Check(
        "GR401",
        "error",
        "At least 500 prompts profiled",
        "Profile at least 500 prompts (a subset is fine).",
        family="evidence",
        run=_early(_prompts),
        servers=("added",),
    ),
    Check(
        "GR402",
        "error",
        "16 responses per prompt",
        "Generate 16 responses for every profiled prompt.",
        family="evidence",
        run=_early(_responses),
        servers=("added",),
    ),
    Check(
        "GR403",
        "error",
        "The profiling model is named",
        "Profile with Qwen3-4B or Qwen3-30B-A3B, or name your model and say it is equivalent.",
        family="evidence",
        run=_early(_model),
        servers=("added",),
    ),
    Check(
        "GR404",
        "error",
        "A reward distribution is reported",
        "Commit NeMo Gym's reward-profiling output or the rollouts, or give the distribution in the description.",
        family="evidence",
        run=_early(_distribution),
        servers=("added",),
    ),
    Check(
        "GR405",
        "error",
        "Tool-calling: tool-call metrics and their correlation",
        "Attach the rollouts (the bot computes them) or state tool calls per rollout, failing calls and "
        "their correlation with reward.",
        family="evidence",
        run=_early(_tool_metrics),
        servers=("added",),
    ),
    Check(
        "GR406",
        "warning",
        "Prompts give GRPO a signal",
        "Drop or rebalance prompts every response solves (or fails): they have no reward variance.",
        family="evidence",
        run=_early(_variance),
        servers=("added",),
    ),
    Check(
        "GR407",
        "warning",
        "The description's numbers match the attached evidence",
        "Correct the numbers in the description, or attach the rollouts they came from.",
        family="evidence",
        run=_early(_agreement),
        servers=("added",),
    ),
    Check(
        "GR408",
        "error",
        "The attached rollouts reproduce their rewards",
        "Attach unedited rollouts from the current verify(); regenerate them if verify() changed.",
        family="evidence",
        run=_early(_replay),
        servers=("added",),
        lowers_to="warning",  # nothing to replay: a warning, not a block
    ),
    Check(
        "GR411",
        "error",
        "GRPO training is stated, with the model",
        "Say in the description that you trained with GRPO, and on which model (e.g. Qwen3-4B).",
        family="evidence",
        run=_early(_grpo),
        servers=("added",),
    ),
    Check(
        "GR412",
        "error",
        "A training accuracy curve is attached",
        "Add the training accuracy curve: an image, a W&B/MLflow/TensorBoard link, or its points as CSV/JSON.",
        family="evidence",
        run=_early(_training_curve),
        servers=("added",),
    ),
    Check(
        "GR413",
        "warning",
        "A test benchmark curve is attached",
        "Add the test benchmark's accuracy curve beside the training curve.",
        family="evidence",
        run=_early(_benchmark_curve),
        servers=("added",),
    ),
]


def evidence_checks(settings: PrBodySettings) -> list[Check]:
    """The evidence checks, with the severities the registry's `pr_body.evidence_severity` gives."""
    return [replace(c, severity=settings.evidence_severity.get(c.id, c.severity)) for c in CHECKS]


def check_evidence(ctx: EvidenceContext) -> list[Finding]:
    return run_checks(evidence_checks(ctx.policy.pr_body), ctx, ctx.server.name, ctx.policy)


def review_evidence(
    server: ServerContext,
    body: ParsedBody | None,
    added: list[str],
    policy: Policy,
    max_evidence_bytes: int,
    sandbox: str,
    replay: Callable[[str], list[ReplayLine]] | None = None,
    replay_skip: str | None = None,
) -> tuple[Evidence | None, list[Finding]]:
    """An added server's evidence and its findings; the description speaks for it only if it names it (or is alone)."""
    claims, note = None, None
    if body is not None:
        sections = scope_for_server(body, server.name, several=len(added) > 1)
        if sections is None:
            note = (
                f"The PR adds {len(added)} servers and its description does not name {server.name} (a heading "
                "with the server's name); its statements count for none of them."
            )
        else:
            claims = read_claims(sections)
    located = locate_evidence(server.tree, server.path, claims, max_evidence_bytes, example_rows(policy))
    ctx = EvidenceContext(server, located, claims, body is not None, note, policy, sandbox, replay, replay_skip)
    findings = check_evidence(ctx)
    if located.evidence is not None:
        _attach_curve(ctx, located.evidence)
    return located.evidence, findings


def _attach_curve(ctx: EvidenceContext, evidence: Evidence) -> None:
    """The training curve's points, from the first CSV/JSON curve file in the PR (for the PNG)."""
    for path in _curve_files(ctx):
        entry = ctx.server.tree.get(path)
        if path.lower().endswith((".csv", ".json")) and entry is not None and entry.size <= MAX_CURVE_BYTES:
            points = read_curve(ctx.server.tree.read(entry), path)
            if points:
                evidence.training_curve, evidence.training_curve_source = points, path
                return
