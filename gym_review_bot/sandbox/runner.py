"""run_sandbox: build, boot, replay and test one server in Docker, and say what happened as findings."""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from gym_review_bot.checks.base import Outcome, errored, failed, passed, skipped
from gym_review_bot.models import Finding, Location, ReplayCounts, Timings
from gym_review_bot.sandbox import _recorded_judge, context, docker_api, probes, testrun
from gym_review_bot.sandbox.catalogue import CHECK_IDS, sandbox_finding
from gym_review_bot.sandbox.client import ClientFailed, ReplayClient, start_client
from gym_review_bot.sandbox.image import base_image, build_run_image
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import NO_ROUTE_STATUSES, NOT_A_PR, TOLERANCE, ReplayResult, ServerChange, input_keys
from gym_review_bot.sandbox.requirements import Requirements, read_requirements
from gym_review_bot.sandbox.server_config import ServerConfig, load_server_config
from gym_review_bot.sources import SourceTree

MAX_LISTED = 20
MAX_MISMATCH_LOCATIONS = 50
BOOT_PROBE_TIMEOUT = 2.0
MAX_TEST_OUTPUT_BYTES = 12 * 1024 * 1024  # the tests container's stdout (its log driver keeps 10 MB)


@dataclass
class SandboxResult:
    findings: list[Finding] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    # Where the boot time went (seconds): container start, NeMo Gym's config resolution, its server start.
    boot_detail: dict[str, float] = field(default_factory=dict)
    verify_answered: bool = False  # POST /verify got an HTTP answer other than 404/405
    notes: list[str] = field(default_factory=list)  # problems of the sandbox itself, e.g. clean-up
    replay: ReplayCounts | None = None  # how the example rollouts were replayed (the first replay)


def _fence(text: str) -> str:
    return f"\n```\n{text.strip() or '(no output)'}\n```"


class _Run:
    """The state of one sandbox run: the outcomes so far and the Docker objects to remove."""

    def __init__(
        self,
        tree: SourceTree,
        server_name: str,
        options: SandboxOptions,
        verify_expected: bool = False,
        hidden: Iterable[str] = (),
        change: ServerChange = NOT_A_PR,
    ):
        self.tree = tree
        # Whether the PR touches the server's Python files, prompt files or configs (None: not a PR, or unknown).
        self.judge_inputs_changed = change.judge_inputs
        # A changed server's judge inputs changed, its rollouts did not: a recording of the judge's answers alone
        # (no request, no prompt) may predate the change, and a changed judge prompt would go unseen.
        self.recordings_may_predate = bool(change.judge_inputs) and change.rollouts is False
        self.stale_judge_only = False  # GR203 fails only because the judge was asked what no recording holds
        self.hidden = frozenset(hidden)  # evidence files the pull request names: never in the run image
        self.options = options
        self.verify_expected = verify_expected
        self.server_dir = f"resources_servers/{server_name}"
        self.server_name = server_name
        self.rollouts_path = f"{self.server_dir}/data/example_rollouts.jsonl"
        self.examples_path = f"{self.server_dir}/data/example.jsonl"
        self.outcomes: dict[str, Outcome] = {}
        self.timings = Timings()
        self.scope: docker_api.RunScope | None = None
        self.server: Any = None
        self.client: ReplayClient | None = None
        self.boot_detail: dict[str, float] = {}
        self.verify_answered = False
        self.notes: list[str] = []
        self.replay: ReplayCounts | None = None
        self._lock = threading.Lock()

    def set(self, check_id: str, outcome: Outcome) -> None:
        """The first outcome of a check stands (a later, vaguer one does not replace it)."""
        with self._lock:
            self.outcomes.setdefault(check_id, outcome)

    def skip_rest(self, reason: str) -> None:
        for check_id in CHECK_IDS:
            self.set(check_id, skipped(f"Skipped: {reason}", kind="prerequisite_failed"))

    def error_rest(self, reason: str) -> None:
        for check_id in CHECK_IDS:
            self.set(check_id, errored(f"Not run: {reason}"))

    def result(self) -> SandboxResult:
        self.error_rest("the sandbox stopped before this check")
        findings = [sandbox_finding(i, self.outcomes[i], self.server_name) for i in CHECK_IDS]
        if self.stale_judge_only and self.judge_inputs_changed is False:
            findings = [_stale_before(f) if f.id == "GR203" and f.status == "fail" else f for f in findings]
        return SandboxResult(findings, self.timings, self.boot_detail, self.verify_answered, self.notes, self.replay)

    def limits(self) -> dict[str, Any]:
        o = self.options
        tmpfs = f"rw,exec,nosuid,nodev,mode=1777,size={o.memory}"
        return {
            "user": context.SANDBOX_UID,
            "read_only": True,
            "tmpfs": {"/tmp": tmpfs, "/work": tmpfs},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": o.pids,
            "mem_limit": o.memory,
            "memswap_limit": o.memory,
            "nano_cpus": int(o.cpus * 1e9),
            "init": True,
        }

    def interrupted(self, *containers: Any) -> Outcome | None:
        """`error` when a container of the run was killed (137 without an out-of-memory kill) or removed by
        someone other than the sandbox: an outside actor, never the pull request's failure."""
        assert self.scope is not None
        for container in containers:
            if container is not None and self.scope.interrupted(container):
                return _interrupted(container)
        return None

    def limits_hint(self, what: str = "") -> str:
        o = self.options
        what = what or f"verify() answer within {o.request_timeout:g} s"
        return (
            f"Make {what} and stay within the sandbox's limits "
            f"({o.memory} memory, {o.pids} processes/threads, {o.cpus:g} CPU, no network)."
        )

    def cause(self, container: Any, log: str = "", settle: float = 0) -> str:
        """What killed or stalled a container, when it was a limit; `settle` waits for a dying one."""
        info = docker_api.exit_info(container, with_pids=True)
        deadline = time.monotonic() + settle
        while info.running and time.monotonic() < deadline and (info.pids_current or 0) < self.options.pids - 2:
            time.sleep(0.25)
            info = docker_api.exit_info(container, with_pids=True)
        if info.oom_killed:
            return f"was killed: out of memory (limit --memory {self.options.memory})"
        if (info.pids_current or 0) >= self.options.pids - 2 or any(s in log for s in docker_api.PIDS_SIGNS):
            return f"hit the process/thread limit (--pids {self.options.pids})"
        if not info.running and info.exit_code is not None:
            return f"exited with code {info.exit_code}"
        return ""


def build(run: _Run, reqs: Requirements, config: ServerConfig) -> str | None:
    assert run.scope is not None
    if reqs.invalid:  # never installed, and an image without them is not the one the PR declares
        first = reqs.invalid[0]
        where = f"first: {first.file} line {first.line}; see GR108"
        message = f"Not built: {len(reqs.invalid)} requirement line(s) cannot be read safely ({where})."
        run.set("GR201", failed(message, file=first.file, line=first.line, key="invalid requirement lines"))
        return None
    start = time.monotonic()
    built = build_run_image(run.scope, run.tree, run.server_dir, reqs, config.yaml_text, run.options, run.hidden)
    run.timings.build_s = round(time.monotonic() - start, 2)
    if built.tag is None:
        log = _fence(built.log_tail) if built.log_tail else ""
        if built.ours:
            run.set("GR201", errored(f"Not judged: {built.error}{log}", key="not the PR's fault"))
        else:
            run.set("GR201", failed(f"The image did not build: {built.error}{log}", file=reqs.source, key=built.error))
        return None
    hit = "dependency cache reused" if built.cache_hit else "dependencies installed and cached"
    run.set("GR201", passed(f"The image builds ({hit}; {run.timings.build_s:.1f} s).", key=""))
    return built.tag


def start_replay_client(run: _Run, config: ServerConfig) -> ReplayClient:
    """The client container (stand-in model servers on loopback): started before the server joins it."""
    assert run.scope is not None
    container = start_client(run.scope, base_image(run.tree, run.options), run.limits(), config.standin_ports)
    o = run.options
    run.client = ReplayClient(container, o.request_timeout, o.replay_timeout, models=bool(config.dependencies))
    return run.client


def boot(run: _Run, image: str, config: ServerConfig, client: ReplayClient) -> bool:
    """Start the server in the client's network namespace and poll GET / with backoff; False with GR202 failed."""
    assert run.scope is not None
    start, wall_start = time.monotonic(), time.time()
    cmd = ["python", context.LAUNCHER, "serve", run.server_dir, context.SERVER_CONFIG, config.key, config.entrypoint]
    server = run.scope.container(image, cmd, "server", f"container:{client.container.id}", run.limits())
    run.server = server
    delay, deadline = 0.1, start + run.options.boot_timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        status, error = client.get("/", min(BOOT_PROBE_TIMEOUT, left))
        if status == 200 and error is None:  # an answer over the cap is no answer
            run.timings.boot_s = round(time.monotonic() - start, 2)
            run.boot_detail = _boot_detail(docker_api.logs_tail(server, 400), wall_start, time.time())
            run.set("GR202", passed(f"The server answers GET / after {run.timings.boot_s:.1f} s.", key=""))
            return True
        if not docker_api.exit_info(server).running:
            break
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 2.0)
    run.timings.boot_s = round(time.monotonic() - start, 2)
    _boot_failed(run, server, config)
    return False


def _boot_failed(run: _Run, server: Any, config: ServerConfig) -> None:
    """GR202 for a server that exited, hit a limit or timed out before answering."""
    assert run.scope is not None
    outside = run.interrupted(server, run.client.container if run.client else None)
    if outside:
        run.set("GR202", outside)
        return
    log = docker_api.logs_tail(server)
    cause = run.cause(server, log)
    run.scope.kill(server)
    if cause:
        what, key = f"The server {cause} before answering GET /", cause
    else:
        what, key = f"The server did not answer GET / within {run.options.boot_timeout:g} s: timed out", "timed out"
    needs = (
        f" (the model servers it names, {', '.join(config.dependencies)}, were stand-ins)"
        if config.dependencies
        else ""
    )
    run.set(
        "GR202",
        failed(
            f"{what} (--boot-timeout {run.options.boot_timeout:g}){needs}. Last log lines:{_fence(log)}"
            + ("" if "exited" in cause else f"\nHow to fix: {run.limits_hint(_boot_goal(run))}"),
            file=config.file,
            key=key,
        ),
    )


def _boot_goal(run: _Run) -> str:
    return f"the server start and answer GET / within {run.options.boot_timeout:g} s"


def _boot_detail(log: str, wall_start: float, wall_end: float) -> dict[str, float]:
    marks = {m.group(2): float(m.group(1)) for m in re.finditer(r"gym-review: t=([\d.]+) event=([\w-]+)", log)}
    if "launcher-start" not in marks or "config-resolved" not in marks:
        return {}
    return {
        "container_start_s": round(marks["launcher-start"] - wall_start, 2),
        "nemo_gym_config_s": round(marks["config-resolved"] - marks["launcher-start"], 2),
        "nemo_gym_server_start_s": round(wall_end - marks["config-resolved"], 2),
    }


def _listing(results: list[ReplayResult], describe: Any) -> str:
    lines = [describe(r) for r in results[:MAX_LISTED]]
    more = len(results) - MAX_LISTED
    return "\n".join(lines) + (f"\n- ... and {more} more" if more > 0 else "")


def _lines(results: list[ReplayResult]) -> str:
    shown = ", ".join(str(r.line) for r in results[:MAX_LISTED])
    return shown + (f" and {len(results) - MAX_LISTED} more" if len(results) > MAX_LISTED else "")


def _ranges(results: list[ReplayResult]) -> str:
    """Line numbers as runs ("3-9, 12"): the rollouts a deadline cut short are usually one long run."""
    runs: list[list[int]] = []
    for n in sorted(r.line for r in results):
        if runs and n <= runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    shown = [f"{a}-{b}" if b > a else str(a) for a, b in runs[:MAX_LISTED]]
    return ", ".join(shown) + (f" and {len(runs) - MAX_LISTED} more runs" if len(runs) > MAX_LISTED else "")


def _describe(r: ReplayResult) -> str:
    if r.error:
        return f"- line {r.line}: {r.error}"
    return f"- line {r.line}: stored reward {r.stored:g}, /verify returned {r.returned:g}"


def _stale_before(finding: Finding) -> Finding:
    """A judge prompt that changed before this PR: the PR touches none of the server's code, prompts or configs."""
    note = (
        " (Pre-existing: this pull request changes none of the server's Python files, prompt files or configs, so "
        "the rollouts were already stale for its verify().)"
    )
    return replace(finding, pre_existing=True, message=finding.message + note)


def _blind_words(blind: list[ReplayResult]) -> str:
    """Why rollouts answered from a recording of the judge's answers alone cannot be judged in this PR."""
    layouts = ", ".join(f"`{name}`" for name in sorted({r.layout or "" for r in blind}))
    return (
        f"{len(blind)} example rollouts (lines {_lines(blind)}) hold only the judge's answers ({layouts}), not what "
        "it was asked, and this pull request changes the server's Python files, prompt files or configs but not "
        "its rollouts: a changed judge prompt would go unseen, so their reward cannot be judged. Regenerate "
        "data/example_rollouts.jsonl with the current verify() (or record the judge's requests, "
        "`judge_evaluations`)."
    )


def _prompt_changed(r: ReplayResult) -> str:
    return (
        f"- line {r.line}: the judge prompt changed since these rollouts were recorded: verify() asked the judge "
        f"something this rollout's recording does not hold ({r.judge_unmatched})"
    )


def replay_counts(first: list[ReplayResult]) -> ReplayCounts:
    """How each rollout of the first replay was replayed: with no model, from a recorded judge, or not."""
    replayed = [r for r in first if r.usable and not r.aborted and r.status is not None]
    no_model = sum(1 for r in replayed if r.model_calls == 0)
    recorded = sum(1 for r in replayed if r.recorded_judge)
    changed = sum(1 for r in replayed if r.judge_unmatched is not None)
    layouts = sorted({r.layout for r in first if r.layout})
    return ReplayCounts(
        rollouts=len(first),
        no_model=no_model,
        recorded_judge=recorded,
        judge_prompt_changed=changed,
        not_replayable=len(first) - no_model - recorded - changed,
        layouts=layouts,
    )


def reproduction(run: _Run, first: list[ReplayResult], cause: str, out_of_time: bool = False) -> None:
    """GR203: each rollout's reward, returned again. A rollout that called a model is judged only when its recorded
    judge calls answered every call; one whose judge was asked something the recording does not hold fails.

    `out_of_time`: the replay's deadline had passed when the client finished. Then the rollouts it cut short (sent
    too late, or in flight when it passed) are counted under the deadline, not listed as rewards that differ."""
    path = run.rollouts_path
    changed = [r for r in first if r.judge_unmatched is not None]
    called = [r for r in first if r.model_calls > 0 and not r.recorded_judge and r.judge_unmatched is None]
    bad = [r for r in first if not r.matches and r.judged_here and r.judge_unmatched is None]
    late: list[ReplayResult] = []
    if out_of_time or any(r.deadline for r in first):
        late = [r for r in bad if r.aborted]
        bad = [r for r in bad if not r.aborted]
    blind = [
        r
        for r in first
        if run.recordings_may_predate
        and r.recorded_judge
        and r.matches
        and r.layout in _recorded_judge.PROMPT_BLIND_LAYOUTS
    ]
    recorded = sum(1 for r in first if r.recorded_judge and r.matches)
    if not first:
        run.set("GR203", skipped(f"Skipped: {path} has no rollouts to replay."))
    elif bad or changed or late:
        why = f"\nThe server {cause}." if cause and not late else ""
        also = (
            f"\n{len(called)} more called a model with no recorded judge calls to answer it and could not be judged "
            f"(lines {_lines(called)})."
            if called
            else ""
        ) + (f"\n{_blind_words(blind)}" if blind else "")
        stalled = cause or any(r.aborted for r in bad)
        fix = run.limits_hint() if stalled else None
        limit = run.options.replay_timeout
        if late:
            fix = f"Make the replay of every example rollout, twice, finish within --replay-timeout ({limit:g} s)."
        if changed and not bad and not late:
            fix = (
                "Regenerate data/example_rollouts.jsonl with the current verify() and judge prompt (the recorded "
                "judge calls are stale), or restore the judge prompt they were recorded with."
            )
        parts = []
        if late:
            parts.append(
                f"The replay passed --replay-timeout ({limit:g} s) before it was done: {len(late)} of {len(first)} "
                f"example rollouts were cut short or not sent (lines {_ranges(late)}), so their reward was not "
                "checked."
            )
        if bad:
            parts.append(
                f"{len(bad)} of {len(first)} example rollouts do not reproduce their stored reward "
                f"(tolerance {TOLERANCE:g}):\n{_listing(bad, _describe)}"
            )
        if changed:
            parts.append(
                f"{len(changed)} of {len(first)} example rollouts: the judge prompt changed since these rollouts "
                f"were recorded:\n{_listing(changed, _prompt_changed)}"
            )
        failing = sorted(bad + changed, key=lambda r: r.line) or late
        run.stale_judge_only = not bad and not late
        run.set(
            "GR203",
            failed(
                "\n".join(parts) + why + also + (f"\nHow to fix: {fix}" if fix else ""),
                file=path,
                line=failing[0].line,
                locations=[Location(file=path, line=r.line) for r in failing[:MAX_MISMATCH_LOCATIONS]],
                # The same stale rollouts on another commit: line numbers and stored rewards, not what the server said.
                key=" ".join(
                    [f"{r.line}:{r.stored!r}" for r in bad]
                    + [f"{r.line}:judge-prompt" for r in changed]
                    + (["replay-timeout"] if late else [])
                ),
            ),
        )
    elif blind and not called:
        run.set(
            "GR203",
            errored(
                f"Incomplete: {_blind_words(blind)} The other rollouts reproduce their stored reward.",
                file=path,
                line=blind[0].line,
                key=" ".join(str(r.line) for r in blind),
            ),
        )
    elif called:
        layouts = ", ".join(f"`{name}`" for name in _recorded_judge.LAYOUT_NAMES)
        run.set(
            "GR203",
            errored(
                f"Incomplete: {len(called)} of {len(first)} example rollouts called a model server during verify() "
                f"(lines {_lines(called)}) and hold no recorded judge calls that answer it; the sandbox runs no "
                f"model, so their reward cannot be judged. Recorded judge calls are read from these rollout "
                f"fields: {layouts}. The other rollouts reproduce their stored reward."
                + (f" {_blind_words(blind)}" if blind else ""),
                file=path,
                line=called[0].line,
                key=" ".join(str(r.line) for r in called),
            ),
        )
    else:
        how = f" ({recorded} with their recorded judge calls answering verify()'s judge)" if recorded else ""
        run.set("GR203", passed(f"All {len(first)} example rollouts reproduce their stored reward{how}.", key=""))


def determinism(run: _Run, first: list[ReplayResult], second: list[ReplayResult] | None) -> None:
    """GR204: the second replay's rewards equal the first's."""
    path = run.rollouts_path
    if second is None:
        why = "there are no rollouts" if not first else "the first replay did not complete"
        run.set("GR204", skipped(f"Skipped: {why}, so there is nothing to compare.", kind="prerequisite_failed"))
        return
    by_line = {r.line: r for r in second}
    differ = [
        (r, by_line[r.line])
        for r in first
        if r.returned is not None
        and r.judged_here
        and r.line in by_line
        and not _same(r.returned, by_line[r.line].returned)
    ]
    if differ:
        listed = "\n".join(
            f"- line {a.line}: first replay {a.returned:g}, second "
            + (f"{b.returned:g}" if b.returned is not None else f"failed ({b.error})")
            for a, b in differ[:MAX_LISTED]
        )
        run.set(
            "GR204",
            failed(
                f"{len(differ)} rollouts got a different reward on a second replay:\n{listed}",
                file=path,
                line=differ[0][0].line,
                locations=[Location(file=path, line=a.line) for a, _ in differ[:MAX_MISMATCH_LOCATIONS]],
                key=" ".join(str(a.line) for a, _ in differ),
            ),
        )
    else:
        run.set("GR204", passed("A second replay returned the same rewards.", key=""))


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TOLERANCE


def replay(run: _Run, client: ReplayClient, config: ServerConfig) -> None:
    """GR203, GR204 and GR206 against the running server, through the replay client."""
    entry = run.tree.get(run.rollouts_path)
    if entry is None or entry.kind != "file":
        for check_id in ("GR203", "GR204", "GR206"):
            run.set(check_id, skipped(f"Skipped: {run.rollouts_path} does not exist."))
        return
    start = time.monotonic()
    client.start_deadline()
    try:
        client.load_rollouts(run.tree, entry, input_keys(run.tree, run.examples_path))
        first = client.replay_file(run.options.concurrency)
        out_of_time = client.time_left() <= 0  # now, before any wait of ours below uses up what is left
        sent = [r for r in first if r.usable]
        run.verify_answered = any(r.status is not None and r.status not in NO_ROUTE_STATUSES for r in sent)
        if sent and not run.verify_expected and all(r.status in NO_ROUTE_STATUSES for r in sent):
            reason = (
                f"the server answered POST /verify with HTTP {sent[0].status}: it has no /verify (e.g. a "
                "Gymnasium-style environment rewards through /step), so rollouts cannot be replayed."
            )
            for check_id in ("GR203", "GR204", "GR206"):
                run.set(check_id, skipped(f"Skipped: {reason}"))
            return
        stopped = any(r.aborted for r in first)
        stalled = any(r.aborted and not r.deadline for r in first)  # a timeout or a dropped connection
        troubled = stopped or any(not r.matches for r in first)
        # A dropped connection or a stall is usually a dying or swamped server: give Docker a moment to tell why.
        cause = run.cause(run.server, settle=5 if stalled else 0) if troubled else ""
        outside = run.interrupted(run.server, client.container) if troubled else None
        if outside:
            for check_id in ("GR203", "GR204", "GR206"):
                run.set(check_id, outside)
            return
        second = None if stopped or not sent else client.replay_file(run.options.concurrency)
        run.replay = replay_counts(first)
        reproduction(run, first, cause, out_of_time)
        determinism(run, first, second)
        if stopped or (second is not None and any(r.aborted for r in second)):
            run.set(
                "GR206", skipped("Skipped: the server stopped answering during the replay.", kind="prerequisite_failed")
            )
        else:
            probe(run, client, first)
    finally:
        run.timings.replay_s = round(time.monotonic() - start, 2)


def probe(run: _Run, client: ReplayClient, first: list[ReplayResult]) -> None:
    """GR206: probes on each distinct prompt whose stored reward is the highest, judged by sandbox/probes.py."""
    lines, top = probes.probe_lines(first)
    if top is None:
        run.set(
            "GR206",
            skipped(
                "Skipped: the example rollouts' rewards do not vary, so a probe's reward "
                "cannot be judged. Include rollouts that fail as well as ones that succeed."
            ),
        )
        return
    if client.time_left() <= 0:
        limit = run.options.replay_timeout
        run.set("GR206", errored(f"Not run: the replay used up --replay-timeout ({limit:g} s) before the probes."))
        return
    results = client.probe_file(lines, run.options.concurrency)
    run.set("GR206", probes.judge(first, results, top, f"{run.server_dir}/app.py"))


def run_tests(run: _Run, image: str) -> None:
    """GR205: pytest tests/ in its own container with no network, judged by the launcher's final report."""
    assert run.scope is not None
    where = f"{run.server_dir}/tests"
    if not run.tree.is_dir(where):
        run.set("GR205", failed(f"{where}/ does not exist, so there are no tests to run.", file=run.server_dir))
        return
    start = time.monotonic()
    cmd = ["python", context.LAUNCHER, "test", run.server_dir]
    tests = run.scope.container(image, cmd, "tests", "none", run.limits())
    try:
        code = docker_api.wait(tests, run.options.test_timeout)
    except docker_api.Vanished:
        run.set("GR205", _interrupted(tests))
        return
    run.timings.tests_s = round(time.monotonic() - start, 2)
    if code is None:
        log = docker_api.logs_tail(tests, lines=400)
        run.scope.kill(tests)
        run.set(
            "GR205",
            failed(
                f"The tests did not finish within {run.options.test_timeout:g} s "
                f"(--test-timeout); timed out. Last lines:{_fence(_tail(testrun.without_report(log), 30))}\n"
                f"How to fix: Make `pytest tests/` finish within {run.options.test_timeout:g} s, without network "
                "access.",
                file=where,
                key="timed out",
            ),
        )
        return
    stdout = docker_api.stdout_bytes(tests, MAX_TEST_OUTPUT_BYTES)
    if testrun.read_sealed(stdout) is None and run.interrupted(tests):  # the launcher's own end is no kill
        run.set("GR205", run.interrupted(tests))  # type: ignore[arg-type]
        return
    log = docker_api.logs_tail(tests, lines=200)
    cause = run.cause(tests, log) if code != 0 else ""
    run.set("GR205", testrun.judge(run.server_dir, code, stdout, cause, log))


def _tail(log: str, n: int) -> str:
    return "\n".join(log.splitlines()[-n:])


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a run like Ctrl-C does, so its containers are removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Let cleanup finish: Ctrl-C during it is delivered afterwards."""
    main = threading.current_thread() is threading.main_thread()
    sigs = {signal.SIGINT, signal.SIGTERM}
    if main:
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


def run_sandbox(
    tree: SourceTree,
    server_name: str,
    options: SandboxOptions,
    verify_expected: bool = False,
    hidden_files: Iterable[str] = (),
    change: ServerChange = NOT_A_PR,
) -> SandboxResult:
    """Build, boot, replay and test one server; every outcome becomes a finding, nothing of the run stays.

    `verify_expected`: the static checks found a verify() (GR102), so a 404/405 from /verify fails GR203.
    `hidden_files`: repository paths of evidence the pull request names, left out of the run image (stored
    rollouts and reward-profiling files are left out by name anyway).
    `change`: what the PR changes of the server. When its judge inputs are untouched (False), rollouts whose judge
    was asked what their recording does not hold are a pre-existing GR203; when they changed and the rollouts did
    not, rollouts whose recording holds only the judge's answers cannot be judged (`error`).
    """
    run = _Run(tree, server_name, options, verify_expected, hidden_files, change)
    reqs = read_requirements(tree, run.server_dir, options.allow_url_deps)
    reason = docker_api.unavailable_reason()
    if reason:
        run.error_rest(f"no Docker daemon reachable ({reason})")
        return run.result()
    with _signals_as_interrupt():
        phase = "GR201"
        try:
            run.scope = docker_api.RunScope(docker_api.client())
            config = load_server_config(tree, server_name)
            image = build(run, reqs, config)
            if image is None:
                run.skip_rest("the image did not build (GR201)")
                return run.result()
            tests = threading.Thread(target=_guarded, args=(run, "GR205", run_tests, run, image), daemon=True)
            tests.start()  # the tests run while the server boots: they need no server
            phase = "GR202"
            booted = False
            if config.error:
                run.set("GR202", failed(f"The server cannot be started: {config.error}.", file=config.file))
            else:
                client = start_replay_client(run, config)
                booted = boot(run, image, config, client)
                if booted:
                    phase = "GR203"
                    replay(run, client, config)
            tests.join()  # before any skip_rest: the tests do not wait on the boot, nor may their finding
            if not booted:
                run.skip_rest("the server did not boot (GR202)")
        except Exception as exc:  # noqa: BLE001 - a run never raises for what a PR does; our faults are `error`
            run.set(phase, _our_fault(exc, run))
            run.error_rest(f"the sandbox failed during {phase} ({type(exc).__name__})")
        finally:
            with _signals_blocked():
                problems = run.scope.close() if run.scope else []
            if problems:
                note = f"Sandbox clean-up of {server_name} left something behind: " + "; ".join(problems)
                run.notes.append(note)
                print(f"gym-review-bot: {note}", file=sys.stderr)
    return run.result()


def _interrupted(container: Any) -> Outcome:
    name = getattr(container, "name", "") or "a container"
    return errored(
        f"Not judged: {docker_api.INTERRUPTED} (the sandbox's container {name} was killed without running out "
        "of memory, or removed, by someone else).",
        key="interrupted",
    )


def _our_fault(exc: Exception, run: _Run | None = None) -> Outcome:
    """An exception of the sandbox machinery: `error` (the review is incomplete), never a failure of the PR.

    When a container of the run was killed or removed from outside meanwhile, that is what it says.
    """
    if run is not None and run.scope is not None:
        for container in list(run.scope.containers):
            outside = run.interrupted(container)
            if outside:
                outside.message += f" ({type(exc).__name__}: {str(exc)[:300]})"
                return outside
    what = "the replay client failed" if isinstance(exc, ClientFailed) else "the sandbox failed"
    return errored(
        f"Not judged: {what} during this check: {type(exc).__name__}: {str(exc)[:500]}", key=type(exc).__name__
    )


def _guarded(run: _Run, check_id: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        run.set(check_id, _our_fault(exc, run))


@contextmanager
def serving(
    tree: SourceTree, server_name: str, options: SandboxOptions, hidden_files: Iterable[str] = ()
) -> Iterator[ReplayClient]:
    """Build and boot a server in the sandbox and yield its replay client; removed afterwards (GR408, benchmarks)."""
    run = _Run(tree, server_name, options, hidden=hidden_files)
    run.scope = docker_api.RunScope(docker_api.client())
    try:
        config = load_server_config(tree, server_name)
        image = build(run, read_requirements(tree, run.server_dir, options.allow_url_deps), config)
        if image is None:
            raise RuntimeError(run.outcomes["GR201"].message)
        client = start_replay_client(run, config)
        if not boot(run, image, config, client):
            raise RuntimeError(run.outcomes["GR202"].message)
        yield client
    finally:
        with _signals_blocked():
            run.scope.close()
