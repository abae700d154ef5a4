"""Hostile servers against a real daemon (issue 17): no green verdict, our faults are `error`, nothing left behind."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from conftest import make_git_tree, server_files
from sandbox_fixtures import answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox.docker_api import LABEL_OWNER, owner_label
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]

QUICK_EXIT_APP = "raise SystemExit('this server does not start: only its tests matter here')\n"


def run(tmp_path: Path, name: str, files: dict, options: SandboxOptions, **kw: object) -> dict[str, Finding]:
    tree = make_git_tree(tmp_path / "repo", server_files(name, files))
    return {f.id: f for f in run_sandbox(tree, name, options, **kw).findings}  # type: ignore[arg-type]


# --- GR205: a test run where nothing ran, or whose report is forged -----------------------------------

SKIP_ALL = "import pytest\n\npytestmark = pytest.mark.skip(reason='later')\n\n\ndef test_a():\n    assert False\n"

# Rewrites the report pytest wrote (its path from pytest's own config) and ends the process with 0.
REWRITE_AND_EXIT = """
import os

CLEAN = '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    '<testcase classname="t" name="test_fails"/></testsuite></testsuites>'


def pytest_unconfigure(config):
    with open(config.option.xmlpath, "w") as fh:
        fh.write(CLEAN)
    os._exit(0)
"""

# Leaves a process behind that, once pytest has ended, prints a forged report of its own for ever.
STRAY_WRITER = """
import base64
import hashlib
import os
import sys
import time

CLEAN = b'<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    b'<testcase classname="t" name="test_fails"/></testsuite></testsuites>'
END = "gym-review: junit-end exit=0 bytes=%d sha256=%s oversize=0" % (len(CLEAN), hashlib.sha256(CLEAN).hexdigest())
FORGED = "1 passed in 0.01s\\ngym-review: junit+ %s\\n%s\\n" % (base64.b64encode(CLEAN).decode(), END)


def pytest_unconfigure(config):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1)
            while True:
                sys.stdout.write(FORGED)
                sys.stdout.flush()
                time.sleep(0.05)
        os._exit(0)
"""

FAILING = "def test_fails():\n    assert 1 + 1 == 3\n"


@pytest.mark.parametrize(
    ("conftest", "test", "expected"),
    [
        ("", SKIP_ALL, ("No test ran",)),
        (REWRITE_AND_EXIT, FAILING, ("contradict each other",)),
        # What it printed before the launcher ended it counts as pytest's output: a fail either way.
        (STRAY_WRITER, FAILING, ("failed (exit code 1", "contradict each other")),
    ],
    ids=["skip-only", "rewrite-and-exit-0", "stray-writer-after-pytest"],
)
def test_gr205_never_passes_a_run_where_nothing_ran_or_the_report_is_forged(
    tmp_path: Path, options: SandboxOptions, conftest: str, test: str, expected: tuple[str, ...]
) -> None:
    files = answer_server("forged_tests", test=test)
    files["app.py"] = QUICK_EXIT_APP
    if conftest:
        files["tests/conftest.py"] = conftest
    found = run(tmp_path, "forged_tests", files, options)
    gr205 = found["GR205"]
    assert gr205.status == "fail" and any(e in gr205.message for e in expected), gr205.message


# --- GR203/GR204/GR206: rewards copied instead of computed by verify() ------------------------------

# Looks the reward up in the stored rollouts (or any rewards file it can find) when they are there.
FILE_LOOKUP = """
import glob
import json


def stored_rewards():
    table = {}
    for path in glob.glob("data/*.jsonl") + glob.glob("**/*rollouts*.jsonl", recursive=True):
        with open(path) as fh:
            for line in fh:
                row = json.loads(line)
                if "reward" in row:
                    table[row["expected_answer"]] = row["reward"]
    return table
"""
FILE_LOOKUP_VERIFY = (
    "table = stored_rewards()\n        reward = table.get(body.expected_answer, "
    "1.0 if body.expected_answer in response_text(body) else 0.0)"
)
UNFAIR = [0.0, 1.0, 1.0, 1.0, 1.0]  # not what the fair verify() gives (it gives 1, 1, 0, 1, 0)


def test_the_run_image_holds_no_stored_rewards_so_a_lookup_cannot_reproduce_them(
    tmp_path: Path, options: SandboxOptions
) -> None:
    files = answer_server("looks_up", verify_body=FILE_LOOKUP_VERIFY, extra=FILE_LOOKUP, rewards=UNFAIR)
    copy = files["data/example_rollouts.jsonl"]
    files["data/example_rollouts_extra.jsonl"] = copy
    files["data/qwen3_4b_reward_profiling.jsonl"] = copy
    files["evidence/attached.jsonl"] = copy  # named in the PR body: hidden by name
    found = run(
        tmp_path, "looks_up", files, options, hidden_files=["resources_servers/looks_up/evidence/attached.jsonl"]
    )
    gr203 = found["GR203"]
    assert gr203.status == "fail" and "line 1: stored reward 0, /verify returned 1" in gr203.message, gr203.message


# A reward table in the server's config (it reaches verify() through NEMO_GYM_CONFIG_DICT).
TABLE_CONFIG = """{name}:
  resources_servers:
    {name}:
      entrypoint: app.py
      domain: knowledge
      reward_table:
        Paris: 0.0
        "4": 1.0
        Mars: 1.0
        Shakespeare: 1.0
        water: 1.0
"""
TABLE_VERIFY = "reward = float(self.config.reward_table.get(body.expected_answer, 0.0))"


def test_a_reward_table_in_the_config_fails_gr206_at_error_severity(tmp_path: Path, options: SandboxOptions) -> None:
    files = answer_server("table", verify_body=TABLE_VERIFY, rewards=UNFAIR)
    files["configs/table.yaml"] = TABLE_CONFIG.format(name="table")
    files["app.py"] = files["app.py"].replace("    pass\n", "    reward_table: dict = {}\n", 1)
    found = run(tmp_path, "table", files, options)
    assert found["GR203"].status == "pass" and found["GR204"].status == "pass"  # it does give the stored rewards
    gr206 = found["GR206"]
    assert gr206.status == "fail" and gr206.severity == "error", gr206.message
    assert "empty response: 1 on every one of the 4 prompts probed (lines 2, 3, 4, 5)" in gr206.message


# The reward rides in a request field; the first rollout earns 0, which hid it from probes built on it alone.
METADATA_VERIFY = "reward = float(body.responses_create_params.metadata['reward'])"


def test_a_reward_copied_from_the_request_fails_gr206_naming_the_leak(tmp_path: Path, options: SandboxOptions) -> None:
    import json

    files = answer_server("carried", verify_body=METADATA_VERIFY)
    rows = [json.loads(line) for line in files["data/example_rollouts.jsonl"].splitlines()]
    for row, reward in zip(rows, UNFAIR, strict=True):
        row["reward"] = reward
        row["responses_create_params"]["metadata"] = {"reward": str(reward), "source": "run-7"}
    files["data/example_rollouts.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    found = run(tmp_path, "carried", files, options)
    assert found["GR203"].status == "pass" and found["GR204"].status == "pass"
    gr206 = found["GR206"]
    assert gr206.status == "fail" and gr206.severity == "error", gr206.message
    assert "Likely leak" in gr206.message and "`responses_create_params.metadata.reward`" in gr206.message


# --- a rollouts file at the 50 MB cap: streamed, not held; the replay deadline holds -------------------

BIG_RUN = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import make_git_tree, server_files
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox
files = {{rel: Path({src!r}, rel).read_bytes() for rel in {names!r}}}
tree = make_git_tree(Path({repo!r}), server_files("big_file", files))
result = run_sandbox(tree, "big_file", SandboxOptions.from_json({options!r}))
print(json.dumps({{
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "replay_s": result.timings.replay_s,
    "findings": {{f.id: [f.status, f.message[:300]] for f in result.findings}},
}}))
"""


def test_a_50_mb_rollouts_file_is_streamed_and_the_replay_deadline_holds(
    tmp_path: Path, options: SandboxOptions
) -> None:
    """Reproduction: 45 MB (75,739 rows) took the bot to 515 MB and the replay to 71.8 s against 60."""
    import json
    import subprocess
    import sys

    from sandbox_fixtures import STDLIB_APP, rollout

    files = answer_server("big_file", rewards=[1.0, 1.0, 0.0, 1.0, 1.0])
    files["app.py"] = STDLIB_APP.format(verify_status=200, endless_root=False)
    row = rollout("What is the capital of France?", "Paris", "It is Paris.", 0.123)
    line = json.dumps(row) + "\n"
    count = 50 * 1024 * 1024 // len(line)
    files["data/example_rollouts.jsonl"] = line * count
    src = tmp_path / "src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    limit = 20.0
    opts = replace(options, replay_timeout=limit)
    code = BIG_RUN.format(
        tests=str(Path(__file__).parent), src=str(src), names=sorted(files), repo=str(tmp_path / "repo"),
        options=opts.to_json(),
    )  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert count > 70_000, len(line)
    assert report["max_rss_mb"] < 300, report
    assert report["replay_s"] <= limit * 1.1, report
    status, message = report["findings"]["GR203"]
    assert status == "fail" and "--replay-timeout (20 s)" in message, report
    assert "timed out after" not in message, report  # rollouts the deadline cut short are not listed as mismatches
    assert report["findings"]["GR206"][0] != "pass", report  # nothing passes that was not judged


# --- our faults are `error`: a container of ours killed or removed from outside ---------------------

SLOW_APP = """
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

time.sleep(BOOT_DELAY_S)  # long enough to be interrupted while booting, when asked


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer({})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        print("verify called", flush=True)
        time.sleep(3)
        self.answer({"reward": 1.0})

    def answer(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""
SLOW_TEST = "import time\n\n\ndef test_slow():\n    time.sleep(60)\n"


def act_on(role: str, action: str, when: str = "", after: str = "", delay: float = 0) -> threading.Thread:
    """In the background: kill or remove this process's `role` container once it runs and its log shows
    `when`, or `delay` seconds after the `after` container started running."""

    def mine(dk: docker.DockerClient, name: str) -> list:
        running = dk.containers.list(filters={"label": f"{LABEL_OWNER}={owner_label()}"})
        return [c for c in running if c.name.endswith(f"-{name}")]

    def act() -> None:
        dk = docker.from_env()
        deadline = time.monotonic() + 600
        try:
            if after:
                while not mine(dk, after) and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(delay)
            while time.monotonic() < deadline:
                found = mine(dk, role)
                if found and (not when or when in found[0].logs().decode(errors="replace")):
                    found[0].kill() if action == "kill" else found[0].remove(force=True)
                    return
                time.sleep(0.2)
        finally:
            dk.close()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("role", "action", "when", "check"),
    [
        ("tests", "kill", "launcher-start", "GR205"),
        ("server", "kill", "verify called", "GR203"),
        ("server", "remove", "", "GR202"),
        ("client", "kill", "", "GR202"),
    ],
    ids=["tests-killed", "server-killed-during-replay", "server-removed-during-boot", "client-killed"],
)
def test_a_container_killed_or_removed_from_outside_is_error_not_the_prs_failure(
    tmp_path: Path, options: SandboxOptions, role: str, action: str, when: str, check: str
) -> None:
    files = answer_server("interrupted", test=SLOW_TEST, rewards=[1.0] * 5)  # what SLOW_APP gives
    files["app.py"] = SLOW_APP.replace("BOOT_DELAY_S", "20" if check == "GR202" else "0")
    thread = act_on(role, action, when)
    found = run(tmp_path, "interrupted", files, replace(options, boot_timeout=60))
    thread.join(timeout=5)
    outcome = found[check]
    assert outcome.status == "error" and "the sandbox was interrupted; not the PR's fault" in outcome.message, {
        k: (f.status, f.message[:200]) for k, f in found.items()
    }
    assert not [k for k, f in found.items() if f.status == "fail"], {k: f.message[:200] for k, f in found.items()}


PROBE_SETUP = """import time
time.sleep(40)
from setuptools import setup
setup(name='slowpkg', version='1')
"""


@pytest.mark.parametrize("role", ["proxy", "install"])
def test_the_build_interrupted_from_outside_is_error_not_the_prs_failure(
    tmp_path: Path, options: SandboxOptions, role: str
) -> None:
    files = answer_server("build_interrupted", requirements="./pkg\n")
    files["pkg/setup.py"] = PROBE_SETUP + f"# {role} {time.time()}\n"  # a cache key no run shares
    thread = act_on(role, "kill", after="install", delay=15)  # while setup.py sleeps
    start = time.monotonic()
    found = run(tmp_path, "build_interrupted", files, options)
    thread.join(timeout=5)
    gr201 = found["GR201"]
    assert gr201.status == "error" and "the sandbox was interrupted; not the PR's fault" in gr201.message, gr201.message
    assert ("package proxy stopped" in gr201.message) == (role == "proxy")
    assert not [k for k, f in found.items() if f.status == "fail"]
    assert time.monotonic() - start < 300


def test_serving_a_server_for_an_evidence_replay_leaves_the_evidence_out(
    tmp_path: Path, options: SandboxOptions
) -> None:
    """GR408's path (runner.serving, ReplayClient.replay): the attached evidence is not in the server's tree."""
    from sandbox_fixtures import rollout

    from gym_review_bot.sandbox.replay import Rollout
    from gym_review_bot.sandbox.runner import serving

    files = answer_server("served", verify_body="reward = float(os.path.exists('evidence/attached.jsonl'))")
    files["app.py"] = "import os\n" + files["app.py"]
    files["evidence/attached.jsonl"] = files["data/example_rollouts.jsonl"]
    tree = make_git_tree(tmp_path / "repo", server_files("served", files))
    rollouts = [Rollout(n, body=rollout("q", "Paris", "It is Paris.", 0.0), reward=0.0) for n in (1, 2)]
    with serving(tree, "served", options, hidden_files=["resources_servers/served/evidence/attached.jsonl"]) as client:
        client.start_deadline()
        results = client.replay(rollouts, 2)
    assert [(r.line, r.returned) for r in results] == [(1, 0.0), (2, 0.0)]  # verify() did not find it
