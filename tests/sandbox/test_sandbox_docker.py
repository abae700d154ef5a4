"""The sandbox against a real Docker daemon, on servers written for the real nemo-gym 0.4.0."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from conftest import NEMO_GYM_REQUIREMENT, make_git_tree, server_files, wheel_server
from sandbox_fixtures import FAILING_TEST, answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox.cleanup import cleanup, remove_cache_images
from gym_review_bot.sandbox.docker_api import LABEL_CACHE_KEY, LABEL_KIND, LABEL_OWNER, LABEL_RUN, owner_label
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def sandbox(tmp_path: Path, name: str, files: dict, options: SandboxOptions) -> dict[str, Finding]:
    tree = make_git_tree(tmp_path / "repo", server_files(name, files))
    result = run_sandbox(tree, name, options)
    found = by_id(result.findings)
    assert sorted(found) == [f"GR20{i}" for i in range(1, 7)]
    return found


def statuses(found: dict[str, Finding]) -> dict[str, str]:
    return {k: f.status for k, f in found.items()}


def test_reproducing_server_passes_every_check(tmp_path: Path, options: SandboxOptions) -> None:
    tree = make_git_tree(tmp_path / "repo", server_files("capitals", answer_server("capitals")))
    result = run_sandbox(tree, "capitals", options)
    found = by_id(result.findings)
    assert statuses(found) == {f"GR20{i}": "pass" for i in range(1, 7)}, {k: f.message for k, f in found.items()}
    t = result.timings
    assert None not in (t.build_s, t.boot_s, t.replay_s, t.tests_s)


def test_real_example_single_tool_call_from_the_wheel(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    files = wheel_server(nemo_gym_wheel, "example_single_tool_call")
    files["requirements.txt"] = NEMO_GYM_REQUIREMENT.encode()  # outside NeMo Gym's tree ../../ is no checkout
    found = sandbox(tmp_path, "example_single_tool_call", files, options)
    for check_id in ("GR201", "GR202", "GR203", "GR204", "GR205"):
        assert found[check_id].status == "pass", found[check_id].message
    # Its verify() rewards everything 1.0, so the example rewards do not vary: the probes cannot judge.
    assert found["GR206"].status == "skip"


def test_judge_lines_do_not_switch_off_the_replay_of_the_real_server(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    """Reproduction: four unused YAML lines naming a judge made GR203-GR206 skip on the real server."""
    files = wheel_server(nemo_gym_wheel, "example_single_tool_call")
    files["requirements.txt"] = NEMO_GYM_REQUIREMENT.encode()
    config = "configs/example_single_tool_call.yaml"
    files[config] = files[config].replace(
        b"      entrypoint: app.py\n      domain: agent\n",
        b"      entrypoint: app.py\n      domain: agent\n"
        b"      judge_model_server:\n        type: responses_api_models\n        name: judge_model\n",
        1,
    )
    assert b"judge_model_server" in files[config]
    rollouts = files["data/example_rollouts.jsonl"].decode().splitlines()
    rollouts[2] = rollouts[2].replace('"reward": 1.0', '"reward": 0.25', 1)
    files["data/example_rollouts.jsonl"] = ("\n".join(rollouts) + "\n").encode()
    found = sandbox(tmp_path, "example_single_tool_call", files, options)
    assert found["GR202"].status == "pass", found["GR202"].message
    gr203 = found["GR203"]
    assert gr203.status == "fail" and gr203.line == 3 and "stored reward 0.25" in gr203.message, gr203.message


def test_changed_reward_fails_gr203_naming_the_line(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server(
        "capitals_changed",
        rewards=[1.0, 1.0, 0.0, 1.0, 1.0],  # line 5: verify() gives 0.0 ("It is a gas." is not "water")
        test=FAILING_TEST,
        requirements="nemo-gym==0.4.0\n--extra-index-url https://example.invalid/simple\n",
    )
    found = sandbox(tmp_path, "capitals_changed", files, options)
    gr203 = found["GR203"]
    assert gr203.status == "fail"
    assert gr203.file == "resources_servers/capitals_changed/data/example_rollouts.jsonl" and gr203.line == 5
    assert "line 5: stored reward 1, /verify returned 0" in gr203.message
    assert [(loc.file, loc.line) for loc in gr203.locations] == [(gr203.file, 5)]
    assert found["GR205"].status == "fail" and "test_that_fails" in found["GR205"].message
    assert found["GR205"].file == "resources_servers/capitals_changed/tests/test_app.py"
    # The index line (GR207, a static check) is dropped from the build, so the image is the shared cached one.
    assert found["GR201"].status == "pass" and found["GR202"].status == "pass"


def test_import_error_fails_boot_with_the_log_tail(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("broken_import")
    files["app.py"] = "raise RuntimeError('broken at import: missing API key')\n"
    found = sandbox(tmp_path, "broken_import", files, options)
    gr202 = found["GR202"]
    assert gr202.status == "fail"
    assert "exited with code 1" in gr202.message and "broken at import: missing API key" in gr202.message
    for check_id in ("GR203", "GR204", "GR206"):
        assert found[check_id].status == "skip" and "did not boot" in found[check_id].message
    assert found["GR205"].status == "pass"  # its tests do not import app.py


SLEEPING_TEST = """
import time


def test_sleeps_forever():
    time.sleep(10**9)
"""


def test_verify_and_tests_that_sleep_forever_time_out(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server(
        "sleeper", verify_body="time.sleep(10**9)\n        reward = 0.0", extra="import time", test=SLEEPING_TEST
    )
    found = sandbox(tmp_path, "sleeper", files, replace(options, request_timeout=3, test_timeout=8))
    gr203 = found["GR203"]
    assert gr203.status == "fail" and "timed out after 3 s" in gr203.message
    assert "answer within 3 s" in gr203.message  # the fix names the limit, not the rollouts
    assert found["GR204"].status == "skip" and "did not complete" in found["GR204"].message
    assert found["GR206"].status == "skip"
    gr205 = found["GR205"]
    assert gr205.status == "fail" and "did not finish within 8 s" in gr205.message and "timed out" in gr205.message


def test_server_that_never_answers_times_out_the_boot(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("silent")
    files["app.py"] = "import time\n\nprint('loading a very large model', flush=True)\ntime.sleep(10**9)\n"
    found = sandbox(tmp_path, "silent", files, replace(options, boot_timeout=8))
    gr202 = found["GR202"]
    assert gr202.status == "fail" and "did not answer GET / within 8 s: timed out" in gr202.message
    assert "loading a very large model" in gr202.message


REACH_OUT = '''
import socket

_REACHED = []


def reached_outside() -> bool:
    """Whether a connection to the outside succeeds (cached: it is tried once)."""
    if not _REACHED:
        ok = False
        for host, port in (("pypi.org", 443), ("1.1.1.1", 53), ("8.8.8.8", 53)):
            try:
                socket.create_connection((host, port), timeout=3).close()
                ok = True
            except OSError as exc:
                print(f"outside connection to {host}:{port} failed: {exc}", flush=True)
        _REACHED.append(ok)
    return _REACHED[0]
'''


def test_verify_cannot_reach_the_outside(tmp_path: Path, options: SandboxOptions) -> None:
    # The stored rewards are the fair ones; a verify() that got out would return 0.5 instead.
    verify = "reward = 0.5 if reached_outside() else (1.0 if body.expected_answer in response_text(body) else 0.0)"
    files = answer_server("phones_home", verify_body=verify, extra=REACH_OUT)
    found = sandbox(tmp_path, "phones_home", files, options)
    assert statuses(found) == {f"GR20{i}": "pass" for i in range(1, 7)}, found["GR203"].message


def test_memory_without_bound_is_killed_and_named(tmp_path: Path, options: SandboxOptions) -> None:
    verify = "hog = []\n        while True:\n            hog.append(b'x' * (64 << 20))\n        reward = 0.0"
    files = answer_server("memory_hog", verify_body=verify)
    found = sandbox(tmp_path, "memory_hog", files, replace(options, memory="2g"))
    gr203 = found["GR203"]
    assert gr203.status == "fail" and "out of memory (limit --memory 2g)" in gr203.message, gr203.message
    assert found["GR205"].status == "pass"


FORK_BOMB = """parent = os.getpid()
        while True:
            try:
                child = os.fork()
            except OSError:
                break
            if child == 0:
                continue  # every child forks too
        if os.getpid() != parent:
            time.sleep(10**9)  # children hold their process slots
        reward = 0.0"""


def test_forks_without_bound_hit_the_pids_limit(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("fork_bomb", verify_body=FORK_BOMB, extra="import os\nimport time")
    found = sandbox(tmp_path, "fork_bomb", files, replace(options, request_timeout=10))
    gr203 = found["GR203"]
    assert gr203.status == "fail" and "process/thread limit (--pids 1024)" in gr203.message, gr203.message


def test_unbuildable_requirements_fail_gr201_with_the_build_log(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("unbuildable", requirements="gym-review-bot-no-such-package-xyz==1.0\n")
    found = sandbox(tmp_path, "unbuildable", files, options)
    gr201 = found["GR201"]
    assert gr201.status == "fail" and "gym-review-bot-no-such-package-xyz" in gr201.message
    for check_id in ("GR202", "GR203", "GR204", "GR205", "GR206"):
        assert found[check_id].status == "skip" and "did not build" in found[check_id].message


COIN = '''
CALLS: dict[str, int] = {}


def coin(key: str) -> float:
    """1.0, 0.0, 1.0, ... on successive calls: not deterministic."""
    CALLS[key] = CALLS.get(key, 0) + 1
    return float(CALLS[key] % 2)
'''

# Hackable: anything without a known wrong answer gets 1.0; the "4" question flips a coin.
HACKABLE = (
    'text = response_text(body)\n        reward = coin(body.expected_answer) if body.expected_answer == "4" '
    'else (0.0 if "Venus" in text or "gas" in text else 1.0)'
)


def test_nondeterministic_and_hackable_verify_fail_gr204_and_gr206(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("coin_flip", verify_body=HACKABLE, extra=COIN)
    found = sandbox(tmp_path, "coin_flip", files, options)
    assert found["GR203"].status == "pass", found["GR203"].message
    gr204 = found["GR204"]
    assert gr204.status == "fail" and gr204.line == 2 and "first replay 1, second 0" in gr204.message
    gr206 = found["GR206"]
    assert gr206.status == "fail" and gr206.severity == "error", gr206.message
    # Probed on the three prompts stored with reward 1; the "4" one flips a coin per call, so one probe
    # kind gets 1 on all three and the other on two (which one depends on the order they are answered).
    assert "on every one of the 3 prompts probed (lines 1, 2, 4)" in gr206.message, gr206.message


JUDGE_CONFIG = """{name}:
  resources_servers:
    {name}:
      entrypoint: app.py
      domain: knowledge
      judge_model_server:
        type: responses_api_models
        name: judge_model
"""


def test_server_that_names_a_judge_model_boots_and_is_replayed(tmp_path: Path, options: SandboxOptions) -> None:
    """The judge is a stand-in on the shared loopback: start-up does not wait on it and the replay still runs."""
    files = answer_server("judged", rewards=[1.0, 1.0, 0.0, 1.0, 1.0])  # line 5's stored reward is stale
    files["configs/judged.yaml"] = JUDGE_CONFIG.format(name="judged")
    files["app.py"] = files["app.py"].replace("    pass\n", "    judge_model_server: dict = {}\n", 1)
    found = sandbox(tmp_path, "judged", files, options)
    assert found["GR202"].status == "pass", found["GR202"].message
    gr203 = found["GR203"]
    assert gr203.status == "fail" and gr203.line == 5, gr203.message


def test_server_naming_a_judge_that_exits_at_start_up_fails_the_boot(tmp_path: Path, options: SandboxOptions) -> None:
    # Reproduction: with the four judge lines, a server that exits at start-up got GR202 `skip`.
    files = answer_server("judged_exit")
    files["configs/judged_exit.yaml"] = JUDGE_CONFIG.format(name="judged_exit")
    files["app.py"] = "import sys\n\nprint('giving up', flush=True)\nsys.exit(3)\n"
    found = sandbox(tmp_path, "judged_exit", files, options)
    gr202 = found["GR202"]
    assert gr202.status == "fail" and "exited with code 3" in gr202.message and "giving up" in gr202.message


def test_ctrl_c_removes_everything_of_the_run(tmp_path: Path, options: SandboxOptions) -> None:
    tree = make_git_tree(tmp_path / "repo", server_files("interrupted", answer_server("interrupted")))
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sandbox(tree, "interrupted", options)
    finally:
        timer.cancel()


def _dead_owner() -> str:
    """The owner label of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:1"


def test_cleanup_removes_dead_runs_only_and_keeps_the_cache(options: SandboxOptions) -> None:
    dk = docker.from_env()
    # What dead runs of other processes left on this shared daemon goes first (a killed CLI, another session),
    # so that the counts below are this test's own.
    cleanup(cache=False)
    dead = {LABEL_RUN: "deadrun00001", LABEL_OWNER: _dead_owner(), LABEL_KIND: "run"}
    live = {LABEL_RUN: "liverun00001", LABEL_OWNER: owner_label(), LABEL_KIND: "run"}
    dead_net = dk.networks.create("gym-review-test-dead", internal=True, labels=dead)
    live_net = dk.networks.create("gym-review-test-live", internal=True, labels=live)
    dead_box = dk.containers.create(options.base_image, ["true"], labels=dead, network_mode="none")
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        data = f"FROM {options.base_image}\nLABEL {LABEL_KIND}=cache {LABEL_CACHE_KEY}=test-key\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ctx.seek(0)
    fake_cache, _ = dk.images.build(
        fileobj=ctx, custom_context=True, tag="gym-review-bot-cache:test-key", rm=True, forcerm=True
    )
    try:
        summary = cleanup(cache=False)
        assert summary.startswith("Removed what dead gym-review sandbox runs left: 1 container(s), 1 network(s)")
        names = {n.name for n in dk.networks.list()}
        assert "gym-review-test-dead" not in names and "gym-review-test-live" in names
        with pytest.raises(docker.errors.NotFound):
            dk.containers.get(dead_box.id)
        assert dk.images.get(fake_cache.id)  # without --cache the cache stays
        assert remove_cache_images(dk, key="test-key") == 1
    finally:
        live_net.remove()
        for obj in (dead_net, dead_box):
            try:
                obj.remove()
            except docker.errors.NotFound:
                pass
        try:
            dk.images.remove("gym-review-bot-cache:test-key")
        except docker.errors.ImageNotFound:
            pass
        dk.close()


def test_checkout_root_requirement_is_installed_from_the_checkout(tmp_path: Path, options: SandboxOptions) -> None:
    # NeMo Gym's own tree writes `-e nemo-gym[dev] @ ../../`; here the root is a tiny package instead.
    uses_root = "import tiny_root\n\n\ndef test_root_package():\n    assert tiny_root.MARK\n"
    files = server_files(
        "rooted", answer_server("rooted", requirements="-e tiny-root[extra] @ ../../\n", test=uses_root)
    )
    files["pyproject.toml"] = (
        "[build-system]\nrequires = ['setuptools>=68']\nbuild-backend = 'setuptools.build_meta'\n"
        "[project]\nname = 'tiny-root'\nversion = '1.0'\n[project.optional-dependencies]\nextra = []\n"
        "[tool.setuptools]\npackages = ['tiny_root']\n"
    )
    files["tiny_root/__init__.py"] = "MARK = 'installed from the checkout'\n"
    tree = make_git_tree(tmp_path / "repo", files)
    found = by_id(run_sandbox(tree, "rooted", options).findings)
    assert found["GR201"].status == "pass", found["GR201"].message
    assert found["GR205"].status == "pass", found["GR205"].message  # its test imports the root package
    # Without nemo-gym the server cannot start, and says so.
    assert found["GR202"].status == "fail" and "No module named 'nemo_gym'" in found["GR202"].message


KILLED_RUN = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import make_git_tree, server_files
from sandbox_fixtures import answer_server
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox
tree = make_git_tree(Path({repo!r}), server_files("killed", answer_server("killed")))
run_sandbox(tree, "killed", SandboxOptions.from_json({options!r}))
"""


def test_cleanup_removes_what_a_killed_run_left(tmp_path: Path, options: SandboxOptions) -> None:
    """SIGKILL leaves no chance to clean up: `cleanup` does it, once the owner is dead."""
    import time

    code = KILLED_RUN.format(tests=str(Path(__file__).parent), repo=str(tmp_path / "repo"), options=options.to_json())
    proc = subprocess.Popen([sys.executable, "-c", code])
    dk = docker.from_env()
    try:
        deadline = time.monotonic() + 300
        owner = f"{socket.gethostname()}:{proc.pid}:"

        def started() -> bool:
            # The server container: the build is over, so nothing of the run is still being made.
            running = dk.containers.list(filters={"label": LABEL_OWNER})
            return any(c.labels[LABEL_OWNER].startswith(owner) and c.name.endswith("-server") for c in running)

        while not started():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the run never started a container")
            time.sleep(0.2)
        run_ids = {c.labels[LABEL_RUN] for c in dk.containers.list(filters={"label": LABEL_RUN})}
        cleanup()  # the owner is alive: nothing of its run may go
        assert {c.labels[LABEL_RUN] for c in dk.containers.list(filters={"label": LABEL_RUN})} >= run_ids
        proc.kill()
        proc.wait()
        summary = cleanup()
        assert "Removed what dead gym-review sandbox runs left: " in summary
        for kind in ("containers", "networks", "images"):
            listed = getattr(dk, kind).list(**({"all": True} if kind == "containers" else {}))
            owners = {(getattr(o, "labels", None) or o.attrs.get("Labels") or {}).get(LABEL_OWNER) for o in listed}
            assert not any(o and o.split(":")[1] == str(proc.pid) for o in owners), (kind, summary)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        dk.close()
