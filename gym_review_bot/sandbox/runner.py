"""run_sandbox: build, boot, replay and test one server in Docker, and say what happened as findings."""

from __future__ import annotations

import posixpath
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from gym_review_bot.models import Finding, Location, Timings
from gym_review_bot.sandbox import context, docker_api
from gym_review_bot.sandbox.catalogue import CHECK_IDS, make_finding, requirements_finding
from gym_review_bot.sandbox.image import build_run_image
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import (
    TOLERANCE,
    Outcome,
    Rollout,
    VerifyClient,
    input_keys,
    probe_bodies,
    read_rollouts,
)
from gym_review_bot.sandbox.requirements import Requirements, read_requirements
from gym_review_bot.sandbox.server_config import SERVER_PORT, ServerConfig, load_server_config
from gym_review_bot.sources import SourceTree

MAX_LISTED = 20
# What a process prints when fork() or thread creation hits the pids limit.
PIDS_SIGNS = (
    "can't start new thread",
    "fork: retry: Resource temporarily unavailable",
    "BlockingIOError: [Errno 11] Resource temporarily unavailable",
    "pthread_create failed: Resource temporarily unavailable",
)


@dataclass
class SandboxResult:
    findings: list[Finding] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    # Where the boot time went (seconds): container start, NeMo Gym's config resolution, its server start.
    boot_detail: dict[str, float] = field(default_factory=dict)


def _fence(text: str) -> str:
    return f"\n```\n{text.strip() or '(no output)'}\n```"


class _Run:
    """The state of one sandbox run: the findings so far and the Docker objects to remove."""

    def __init__(self, tree: SourceTree, server_name: str, options: SandboxOptions):
        self.tree = tree
        self.options = options
        self.server_dir = f"resources_servers/{server_name}"
        self.server_name = server_name
        self.rollouts_path = f"{self.server_dir}/data/example_rollouts.jsonl"
        self.examples_path = f"{self.server_dir}/data/example.jsonl"
        self.findings: dict[str, Finding] = {}
        self.timings = Timings()
        self.scope: docker_api.RunScope | None = None
        self.net: Any = None
        self.server: Any = None
        self.boot_detail: dict[str, float] = {}

    def set(self, check_id: str, status: str, message: str, **where: Any) -> None:
        self.findings.setdefault(check_id, make_finding(check_id, status, message, **where))

    def skip_rest(self, reason: str) -> None:
        for check_id in CHECK_IDS:
            self.set(check_id, "skip", f"Skipped: {reason}", skip_kind="prerequisite_failed")

    def error_rest(self, reason: str) -> None:
        for check_id in CHECK_IDS:
            self.set(check_id, "error", f"Not run: {reason}")

    def result(self) -> SandboxResult:
        self.error_rest("the sandbox stopped before this check")
        return SandboxResult([self.findings[i] for i in CHECK_IDS], self.timings, self.boot_detail)

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

    def rollouts(self) -> Iterator[Rollout]:
        return read_rollouts(self.tree, self.rollouts_path, input_keys(self.tree, self.examples_path))

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
        while info.running and time.monotonic() < deadline:
            time.sleep(0.25)
            info = docker_api.exit_info(container, with_pids=True)
        if info.oom_killed:
            return f"was killed: out of memory (limit --memory {self.options.memory})"
        if (info.pids_current or 0) >= self.options.pids - 2 or any(s in log for s in PIDS_SIGNS):
            return f"hit the process/thread limit (--pids {self.options.pids})"
        if not info.running and info.exit_code is not None:
            return f"exited with code {info.exit_code}"
        return ""


def build(run: _Run, reqs: Requirements, config: ServerConfig) -> str | None:
    assert run.scope is not None
    start = time.monotonic()
    built = build_run_image(run.scope, run.tree, run.server_dir, reqs, config.yaml_text, run.options)
    run.timings.build_s = round(time.monotonic() - start, 2)
    if built.tag is None:
        log = _fence(built.log_tail) if built.log_tail else ""
        run.set("GR201", "fail", f"The image did not build: {built.error}{log}", file=reqs.source, line=None)
        return None
    hit = "dependency cache reused" if built.cache_hit else "dependencies installed and cached"
    run.set("GR201", "pass", f"The image builds ({hit}; {run.timings.build_s:.1f} s).")
    return built.tag


def boot(run: _Run, image: str, config: ServerConfig) -> str | None:
    """Start the server and poll GET / with backoff; the base URL, or None with GR202 failed."""
    assert run.scope is not None
    start, wall_start = time.monotonic(), time.time()
    cmd = ["python", context.LAUNCHER, "serve", run.server_dir, context.SERVER_CONFIG, config.key, config.entrypoint]
    server = run.scope.container(image, cmd, "server", run.net, run.limits())
    run.server = server
    url = f"http://{docker_api.container_ip(server, run.net)}:{SERVER_PORT}"
    delay, deadline = 0.1, start + run.options.boot_timeout
    with requests.Session() as http:
        http.trust_env = False
        while time.monotonic() < deadline:
            try:
                if http.get(url + "/", timeout=2).status_code == 200:
                    run.timings.boot_s = round(time.monotonic() - start, 2)
                    run.boot_detail = _boot_detail(docker_api.logs_tail(server, 400), wall_start, time.time())
                    run.set("GR202", "pass", f"The server answers GET / after {run.timings.boot_s:.1f} s.")
                    return url
            except requests.RequestException:
                pass
            if not docker_api.exit_info(server).running:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    run.timings.boot_s = round(time.monotonic() - start, 2)
    _boot_failed(run, server, config)
    return None


def _boot_failed(run: _Run, server: Any, config: ServerConfig) -> None:
    """GR202 for a server that exited, hit a limit or timed out before answering."""
    log = docker_api.logs_tail(server)
    cause = run.cause(server, log)
    docker_api.kill(server)
    if cause:
        what = f"The server {cause} before answering GET /"
    else:
        what = f"The server did not answer GET / within {run.options.boot_timeout:g} s: timed out"
    if config.dependencies and "killed" not in cause and "limit" not in cause:
        # Such servers may wait for (or fail without) the model they call: not the PR's fault here.
        needs = ", ".join(config.dependencies)
        run.set(
            "GR202",
            "skip",
            f"Skipped: {what[0].lower()}{what[1:]}; it calls {needs}, which the sandbox does not run, so a "
            f"start-up that needs it cannot be judged. Last log lines:{_fence(log)}",
            file=config.file,
        )
        return
    run.set(
        "GR202",
        "fail",
        f"{what} (--boot-timeout {run.options.boot_timeout:g}). Last log lines:{_fence(log)}",
        file=config.file,
        fix=None
        if "exited" in cause
        else run.limits_hint(f"the server start and answer GET / within {run.options.boot_timeout:g} s"),
    )


def _boot_detail(log: str, wall_start: float, wall_end: float) -> dict[str, float]:
    marks = {m.group(2): float(m.group(1)) for m in re.finditer(r"gym-review: t=([\d.]+) event=([\w-]+)", log)}
    if "launcher-start" not in marks or "config-resolved" not in marks:
        return {}
    return {
        "container_start_s": round(marks["launcher-start"] - wall_start, 2),
        "nemo_gym_config_s": round(marks["config-resolved"] - marks["launcher-start"], 2),
        "nemo_gym_server_start_s": round(wall_end - marks["config-resolved"], 2),
    }


def _listing(outcomes: list[Outcome], describe: Any) -> str:
    lines = [describe(o) for o in outcomes[:MAX_LISTED]]
    more = len(outcomes) - MAX_LISTED
    return "\n".join(lines) + (f"\n- ... and {more} more" if more > 0 else "")


def replay_findings(run: _Run, first: list[Outcome], second: list[Outcome] | None, cause: str) -> None:
    _reproduction(run, first, cause)
    _determinism(run, first, second)


def _reproduction(run: _Run, first: list[Outcome], cause: str) -> None:
    """GR203: each rollout's reward, returned again."""
    path = run.rollouts_path
    bad = [o for o in first if not o.matches]
    if not first:
        run.set("GR203", "skip", f"Skipped: {path} has no rollouts to replay.")
    elif bad:

        def describe(o: Outcome) -> str:
            if o.error:
                return f"- line {o.line}: {o.error}"
            return f"- line {o.line}: stored reward {o.stored:g}, /verify returned {o.returned:g}"

        why = f"\nThe server {cause}." if cause else ""
        stalled = cause or any(o.aborted for o in bad)
        run.set(
            "GR203",
            "fail",
            f"{len(bad)} of {len(first)} example rollouts do not reproduce their stored reward "
            f"(tolerance {TOLERANCE:g}):\n{_listing(bad, describe)}{why}",
            file=path,
            line=bad[0].line,
            locations=[Location(file=path, line=o.line) for o in bad[:MAX_MISMATCH_LOCATIONS]],
            fix=run.limits_hint() if stalled else None,
        )
    else:
        run.set("GR203", "pass", f"All {len(first)} example rollouts reproduce their stored reward.")


def _determinism(run: _Run, first: list[Outcome], second: list[Outcome] | None) -> None:
    """GR204: the second replay's rewards equal the first's."""
    path = run.rollouts_path
    if second is None:
        why = "there are no rollouts" if not first else "the first replay did not complete"
        run.set("GR204", "skip", f"Skipped: {why}, so there is nothing to compare.")
        return
    by_line = {o.line: o for o in second}
    differ = [
        (o, by_line[o.line])
        for o in first
        if o.returned is not None and o.line in by_line and not _same(o.returned, by_line[o.line].returned)
    ]
    if differ:
        listed = "\n".join(
            f"- line {a.line}: first replay {a.returned:g}, second "
            + (f"{b.returned:g}" if b.returned is not None else f"failed ({b.error})")
            for a, b in differ[:MAX_LISTED]
        )
        run.set(
            "GR204",
            "fail",
            f"{len(differ)} rollouts got a different reward on a second replay:\n{listed}",
            file=path,
            line=differ[0][0].line,
            locations=[Location(file=path, line=a.line) for a, _ in differ[:MAX_MISMATCH_LOCATIONS]],
        )
    else:
        run.set("GR204", "pass", "A second replay returned the same rewards.")


MAX_MISMATCH_LOCATIONS = 50


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TOLERANCE


def replay(run: _Run, url: str, config: ServerConfig) -> None:
    """GR203, GR204 and GR206 against the running server."""
    why_not = _why_not_replayable(run, url, config)
    if why_not:
        for check_id in ("GR203", "GR204", "GR206"):
            run.set(check_id, "skip", f"Skipped: {why_not}", file=config.file if config.dependencies else None)
        return
    start = time.monotonic()
    client = VerifyClient(url, run.options.concurrency, run.options.request_timeout)
    try:
        first = client.replay(run.rollouts())
        stopped = any(o.aborted for o in first)
        dropped = any(o.aborted and "connection failed" in (o.error or "") for o in first)
        troubled = stopped or any(not o.matches for o in first)
        # A dropped connection is usually a dying server: give Docker a moment to record why.
        cause = run.cause(run.server, settle=5 if dropped else 0) if troubled else ""
        second = None if stopped or not first else client.replay(run.rollouts())
        replay_findings(run, first, second, cause)
        if stopped:
            run.set("GR206", "skip", "Skipped: the server stopped answering during the replay.")
        else:
            probe(run, client)
    finally:
        client.close()
        run.timings.replay_s = round(time.monotonic() - start, 2)


def _why_not_replayable(run: _Run, url: str, config: ServerConfig) -> str | None:
    if config.dependencies:
        needs = ", ".join(config.dependencies)
        return (
            f"verify() calls another server ({needs}), which the sandbox does not run; "
            "the rollouts cannot be replayed without it."
        )
    if run.tree.get(run.rollouts_path) is None:
        return f"{run.rollouts_path} does not exist."
    if not _has_verify(url, run.options.request_timeout):
        return (
            "the server has no POST /verify (its OpenAPI schema lists none; e.g. a Gymnasium-style "
            "environment rewards through /step), so rollouts cannot be replayed."
        )
    return None


def _has_verify(url: str, timeout: float) -> bool:
    """False only when the server's OpenAPI schema is readable and has no /verify."""
    try:
        with requests.Session() as http:
            http.trust_env = False
            paths = http.get(url + "/openapi.json", timeout=timeout).json().get("paths")
    except (requests.RequestException, ValueError, AttributeError):
        return True
    return not isinstance(paths, dict) or "/verify" in paths


def probe(run: _Run, client: VerifyClient) -> None:
    rollouts = [r for r in run.rollouts() if r.body and r.reward is not None]
    rewards = [r.reward for r in rollouts if r.reward is not None]
    if not rollouts or max(rewards) - min(rewards) <= TOLERANCE:
        run.set(
            "GR206",
            "skip",
            "Skipped: the example rollouts' rewards do not vary, so a probe's reward "
            "cannot be judged. Include rollouts that fail as well as ones that succeed.",
        )
        return
    top = max(rewards)
    hacked = []
    for name, body in probe_bodies(rollouts[0].body or {}).items():
        reward, _, _ = client.verify(body)
        if reward is not None and reward >= top - TOLERANCE:
            hacked.append(f"- {name}: reward {reward:g}")
    if hacked:
        listed = "\n".join(hacked)
        run.set(
            "GR206",
            "fail",
            f"Responses that do not solve the task get the highest example reward ({top:g}):\n{listed}",
            file=f"{run.server_dir}/app.py",
        )
    else:
        run.set("GR206", "pass", f"An empty and an unrelated response get less than the highest reward ({top:g}).")


def run_tests(run: _Run, image: str) -> None:
    """GR205: pytest tests/ in its own sandboxed container, with a timeout."""
    assert run.scope is not None
    if not run.tree.is_dir(f"{run.server_dir}/tests"):
        run.set(
            "GR205",
            "fail",
            f"{run.server_dir}/tests/ does not exist, so there are no tests to run.",
            file=run.server_dir,
        )
        return
    start = time.monotonic()
    cmd = ["python", context.LAUNCHER, "test", run.server_dir]
    tests = run.scope.container(image, cmd, "tests", run.net, run.limits())
    code = docker_api.wait(tests, run.options.test_timeout)
    run.timings.tests_s = round(time.monotonic() - start, 2)
    log = docker_api.logs_tail(tests, lines=200)
    cause = run.cause(tests, log) if code != 0 else ""
    docker_api.kill(tests)
    where = {"file": f"{run.server_dir}/tests"}
    if code is None:
        run.set(
            "GR205",
            "fail",
            f"The tests did not finish within {run.options.test_timeout:g} s "
            f"(--test-timeout); timed out. Last lines:{_fence(_tail(log, 30))}",
            **where,
            fix=f"Make `pytest tests/` finish within {run.options.test_timeout:g} s, without network access.",
        )
    elif code == 0:
        run.set("GR205", "pass", f"`pytest tests/` passes ({_summary(log)}).")
    elif code == 5:
        run.set("GR205", "fail", "pytest collected no tests in tests/.", **where)
    else:
        failed = [ln for ln in log.splitlines() if ln.startswith(("FAILED ", "ERROR "))][:MAX_LISTED]
        detail = "\n".join(failed) or _tail(log, 30)
        reason = f" The test process {cause}." if cause and "exited" not in cause else ""
        files = _failed_files(run.server_dir, failed)
        run.set(
            "GR205",
            "fail",
            f"`pytest tests/` failed (exit code {code}, {_summary(log)}).{reason}{_fence(detail)}",
            file=files[0] if files else where["file"],
            locations=[Location(file=f) for f in files] or None,
        )


def _failed_files(server_dir: str, failed: list[str]) -> list[str]:
    """The test files of pytest's FAILED/ERROR lines, repository-relative, in order."""
    files: list[str] = []
    for line in failed:
        match = re.match(r"^(?:FAILED|ERROR) ([^\s:]+\.py)", line)
        path = posixpath.normpath(f"{server_dir}/{match.group(1)}") if match else None
        if path and path.startswith(server_dir + "/") and path not in files:
            files.append(path)
    return files


def _tail(log: str, n: int) -> str:
    return "\n".join(log.splitlines()[-n:])


def _summary(log: str) -> str:
    for line in reversed(log.splitlines()):
        if " in " in line and any(w in line for w in ("passed", "failed", "error", "no tests")):
            return line.strip("= ")
    return "no pytest summary"


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


def run_sandbox(tree: SourceTree, server_name: str, options: SandboxOptions) -> SandboxResult:
    """Build, boot, replay and test one server; every outcome becomes a finding, nothing of the run stays."""
    run = _Run(tree, server_name, options)
    reqs = read_requirements(tree, run.server_dir, options.allow_url_deps)
    run.findings["GR207"] = requirements_finding(reqs, options.allow_url_deps)
    reason = docker_api.unavailable_reason()
    if reason:
        run.error_rest(f"no Docker daemon reachable ({reason})")
        return run.result()
    with _signals_as_interrupt():
        phase = "GR201"
        try:
            run.scope = docker_api.RunScope(docker_api.client())
            config = load_server_config(tree, run.server_dir, server_name)
            image = build(run, reqs, config)
            if image is None:
                run.skip_rest("the image did not build (GR201)")
                return run.result()
            run.net = run.scope.network()
            tests = threading.Thread(target=_guarded, args=(run, "GR205", run_tests, run, image), daemon=True)
            tests.start()  # the tests run while the server boots: they need no server
            phase = "GR202"
            if config.error:
                run.set("GR202", "fail", f"The server cannot be started: {config.error}.", file=config.file)
                url = None
            else:
                url = boot(run, image, config)
            if url is not None:
                phase = "GR203"
                replay(run, url, config)
            tests.join()  # before any skip_rest: the tests do not wait on the boot, nor may their finding
            if url is None:
                run.skip_rest("the server did not boot (GR202)")
        except Exception as exc:  # noqa: BLE001 - a run never raises for what a PR does
            run.set(phase, "error", f"The sandbox failed during this check: {type(exc).__name__}: {exc}")
        finally:
            with _signals_blocked():
                problems = run.scope.close() if run.scope else []
            if problems:
                run.set(phase, "fail", "Could not remove everything the run created: " + "; ".join(problems))
    return run.result()


def _guarded(run: _Run, check_id: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        run.set(check_id, "error", f"The sandbox failed during this check: {type(exc).__name__}: {exc}")


@contextmanager
def serving(tree: SourceTree, server_name: str, options: SandboxOptions) -> Iterator[str]:
    """Build and boot a server in the sandbox and yield its base URL; removed afterwards (benchmarks)."""
    run = _Run(tree, server_name, options)
    run.scope = docker_api.RunScope(docker_api.client())
    try:
        config = load_server_config(tree, run.server_dir, server_name)
        image = build(run, read_requirements(tree, run.server_dir, options.allow_url_deps), config)
        if image is None:
            raise RuntimeError(run.findings["GR201"].message)
        run.net = run.scope.network()
        url = boot(run, image, config)
        if url is None:
            raise RuntimeError(run.findings["GR202"].message)
        yield url
    finally:
        with _signals_blocked():
            run.scope.close()
