"""The whole pipeline with a real Docker daemon: `gym-review` in PR mode runs the sandbox by itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GitRepo, good_server_files
from tests.docker_support import base_image, ca_bundle, daemon_state, docker_skip_reason, leftovers

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _needs_docker() -> None:
    reason = docker_skip_reason()
    if reason:
        pytest.skip(f"Docker tests skipped: {reason}")


def run_check(repo: GitRepo, out: Path, *extra: str) -> subprocess.CompletedProcess:
    ca = ["--ca-bundle", str(ca_bundle())] if ca_bundle() else []
    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", "--repo", str(repo.path), "--base", "main",
         "--base-image", base_image(), *ca, "--json", str(out), *extra],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip


def test_pr_mode_runs_the_sandbox_and_reports_timings(repo: GitRepo, tmp_path: Path) -> None:
    """The demo's good server reproduces its rewards; a server failing GR100 is not booted."""
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("trivia_match", good_server_files("trivia_match"))
    broken = good_server_files("broken")
    broken["app.py"] = "def oops(:\n"
    repo.server("broken", broken)
    repo.commit()
    before = daemon_state()
    out, md = tmp_path / "r.json", tmp_path / "c.md"
    proc = run_check(repo, out, "--markdown", str(md))
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(out.read_text())
    servers = {s["name"]: s for s in report["servers"]}
    good = {f["id"]: f for f in servers["trivia_match"]["findings"]}
    for check in ("GR201", "GR202", "GR203", "GR204", "GR205", "GR206", "GR207"):
        assert good[check]["status"] == "pass", (check, good[check]["message"])
    timings = servers["trivia_match"]["timings"]
    assert all(timings[k] is not None and timings[k] > 0 for k in ("build_s", "boot_s", "replay_s", "tests_s"))
    bad = {f["id"]: f for f in servers["broken"]["findings"]}
    assert bad["GR201"]["status"] == "skip" and "GR101" in bad["GR201"]["message"]
    assert proc.returncode == 1  # broken fails GR101
    assert "Sandbox timings: build" in md.read_text()
    assert leftovers(before) == {"containers": set(), "networks": set(), "images": set()}


def test_stored_reward_that_does_not_reproduce_fails_the_pr(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("trivia_match")
    rows = [json.loads(line) for line in files["data/example_rollouts.jsonl"].splitlines()]
    rows[1]["reward"] = 1.0  # the verifier gives 0.0 for this wrong answer
    files["data/example_rollouts.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    repo.server("trivia_match", files)
    repo.commit()
    out = tmp_path / "r.json"
    proc = run_check(repo, out)
    report = json.loads(out.read_text())
    gr203 = {f["id"]: f for f in report["servers"][0]["findings"]}["GR203"]
    assert proc.returncode == 1
    assert gr203["status"] == "fail" and gr203["line"] == 2
    assert "1" in gr203["message"] and "0" in gr203["message"]


def test_no_docker_flag_reports_the_sandbox_as_skipped(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("trivia_match", good_server_files("trivia_match"))
    repo.commit()
    out = tmp_path / "r.json"
    proc = run_check(repo, out, "--no-docker")
    findings = {f["id"]: f for f in json.loads(out.read_text())["servers"][0]["findings"]}
    assert proc.returncode == 0
    assert all(findings[f"GR20{n}"]["status"] == "skip" for n in range(1, 7))
    assert findings["GR207"]["status"] == "pass"  # read from the checkout: it needs no daemon
    assert "--no-docker" in findings["GR203"]["message"]


def stale_server() -> dict[str, str]:
    files = good_server_files("trivia_match")
    rows = [json.loads(line) for line in files["data/example_rollouts.jsonl"].splitlines()]
    rows[1]["reward"] = 1.0  # the verifier gives 0.0 for this wrong answer
    files["data/example_rollouts.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
    return files


def test_typo_fix_in_a_server_whose_rewards_were_already_stale_is_not_blocked(repo: GitRepo, tmp_path: Path) -> None:
    """Reproduction: only static findings were compared with the base, so GR203 blocked a README typo fix."""
    files = stale_server()
    repo.server("trivia_match", files)
    repo.commit("server with a stale stored reward")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("trivia_match", {"README.md": files["README.md"] + "\nA typo, fixed.\n"})
    repo.commit("typo fix")
    out = tmp_path / "r.json"
    proc = run_check(repo, out)
    report = json.loads(out.read_text())
    [server] = report["servers"]
    assert server["status"] == "changed"
    gr203 = {f["id"]: f for f in server["findings"]}["GR203"]
    assert gr203["status"] == "fail" and gr203["pre_existing"] is True, gr203["message"]
    assert report["verdict"] != "fail", [f["id"] for f in server["findings"] if f["status"] == "fail"]
    assert proc.returncode in (0, 3), proc.stderr[-2000:]


def test_a_new_stale_reward_in_a_changed_server_still_blocks(repo: GitRepo, tmp_path: Path) -> None:
    repo.server("trivia_match", good_server_files("trivia_match"))
    repo.commit("good server")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("trivia_match", stale_server())
    repo.commit("stale reward")
    out = tmp_path / "r.json"
    proc = run_check(repo, out)
    report = json.loads(out.read_text())
    gr203 = {f["id"]: f for f in report["servers"][0]["findings"]}["GR203"]
    assert gr203["status"] == "fail" and gr203["pre_existing"] is False
    assert proc.returncode == 1
