"""The action's entry point: check mode on a real PR repository (annotations, job summary, outputs),
workflow-command escaping, and (with Docker) the built image reaching the sandbox checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gym_review_bot.github.action import annotations, escape_data, escape_property
from gym_review_bot.judge import judge
from gym_review_bot.waiver import Waiver
from tests.conftest import BASE_FIXTURE, GitRepo, good_server_files, write_tree
from tests.github_support import failing, make_report

ROOT = Path(__file__).resolve().parent.parent


def pr_repo(path: Path, extra: dict[str, str] | None = None) -> GitRepo:
    repo = GitRepo(path)
    shutil.copytree(BASE_FIXTURE, repo.path, dirs_exist_ok=True)
    repo.git("add", "-A")
    repo.git("commit", "-qm", "base")
    repo.git("checkout", "-qb", "pr")
    files = {f"resources_servers/trivia_match/{k}": v for k, v in good_server_files().items()}
    write_tree(repo.path, {**files, **(extra or {})})
    repo.git("add", "-A")
    repo.git("commit", "-qm", "pr")
    return repo


def action_env(tmp_path: Path, repo: GitRepo, **inputs: str) -> dict[str, str]:
    event = {"pull_request": {"number": 12, "body": "## Description\nA trivia server.", "base": {"sha": "main"}}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        GITHUB_WORKSPACE=str(repo.path),
        GITHUB_EVENT_PATH=str(tmp_path / "event.json"),
        GITHUB_OUTPUT=str(tmp_path / "output"),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_RUN_ID="77",
    )
    env.update({f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()})
    return env


def outputs(tmp_path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())


def test_escaping_follows_the_workflow_command_rules():
    assert escape_data("50% done\r\n::error::x") == "50%25 done%0D%0A::error::x"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_annotations_only_for_findings_with_a_location():
    report = make_report("GR109", "GR108")
    gr109, gr108 = failing(report, "GR109"), failing(report, "GR108")
    gr109.message = "bad\n::error::injected"
    gr109.file = "resources_servers/x/a,b:c.py"
    gr108.file = None
    lines = annotations(report, judge(report))
    assert lines == ["::error file=resources_servers/x/a%2Cb%3Ac.py,title=GR109 check GR109::bad%0A::error::injected"]


def test_waived_and_pre_existing_failures_are_never_error_annotations():
    report = make_report("GR109", "GR108")
    failing(report, "GR108").pre_existing = True
    gr109 = failing(report, "GR109")
    waiver = Waiver("GR109", "licence checked by hand", "override", fingerprint=gr109.fingerprint, by="maint")
    lines = annotations(report, judge(report, [waiver]))
    assert len(lines) == 2 and all(line.startswith("::notice ") for line in lines), lines


def test_check_mode_writes_outputs_summary_and_annotations(tmp_path):
    repo = pr_repo(tmp_path / "repo", {"resources_servers/trivia_match/README.md": "# no licence here\n"})
    env = action_env(tmp_path, repo, mode="check", docker="false")
    run = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    out = outputs(tmp_path)
    assert out["verdict"] in ("fail", "error") and run.returncode in (1, 3), run.stderr
    assert out["complete"] == "false" and json.loads(out["servers"]) == ["trivia_match"]
    report = json.loads((repo.path / out["report"]).read_text())
    assert report["head_sha"] == repo.git("rev-parse", "HEAD").strip()
    assert (repo.path / out["dir"] / "pr-number.txt").read_text() == "12\n"
    assert "gym-review-bot" in (tmp_path / "summary.md").read_text()
    assert "::error file=resources_servers/trivia_match/README.md" in run.stdout
    # fail-on: never keeps the step green whatever the verdict
    env = action_env(tmp_path, repo, mode="check", docker="false", fail_on="never")
    env["GITHUB_RUN_ID"] = "78"
    again = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr


def test_check_mode_never_writes_through_a_directory_the_pr_brought(tmp_path):
    repo = pr_repo(tmp_path / "repo")
    (repo.path / "gym-review-out-77-job").symlink_to(tmp_path)
    env = action_env(tmp_path, repo, mode="check", docker="false")
    run = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and not (tmp_path / "report.json").exists()


def test_unknown_mode_and_unsafe_server_input_are_refused(tmp_path):
    repo = pr_repo(tmp_path / "repo")
    env = action_env(tmp_path, repo, mode="deploy")
    assert (
        subprocess.run([sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True).returncode
        == 2
    )
    env = action_env(tmp_path, repo, mode="check", server="x;id", docker="false")
    run = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and "server input" in run.stderr


@pytest.mark.docker
def test_the_built_image_reviews_a_pr_through_the_daemon_socket(tmp_path):
    from tests.docker_support import docker_skip_reason

    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    context = tmp_path / "context"
    context.mkdir()
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "gym_review_bot", context / "gym_review_bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", context / "ca-bundle.crt")
    tag = "gym-review-action:test"
    build = subprocess.run(
        ["docker", "build", "-q", "--build-arg", "BASE_IMAGE=gym-review-base:trixie", "-t", tag, str(context)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    repo = pr_repo(tmp_path / "repo")
    event = {"pull_request": {"number": 3, "body": "A trivia server.", "base": {"sha": "main"}}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    (tmp_path / "output").touch()
    run = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none",  # the bot needs no network: the socket and docker exec
            "-v", "/var/run/docker.sock:/var/run/docker.sock",
            "-v", f"{repo.path}:/github/workspace",
            "-v", f"{tmp_path}:/github/workflow",
            "-e", "GITHUB_WORKSPACE=/github/workspace",
            "-e", "GITHUB_EVENT_PATH=/github/workflow/event.json",
            "-e", "GITHUB_OUTPUT=/github/workflow/output",
            "-e", "GITHUB_RUN_ID=1",
            "-e", "INPUT_MODE=check",
            "-e", "INPUT_BASE-IMAGE=gym-review-base:trixie",
            "-e", "INPUT_FAIL-ON=never",
            tag,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = outputs(tmp_path)
    report = json.loads((repo.path / out["report"]).read_text())
    findings = {f["id"]: f for f in report["servers"][0]["findings"]}
    for check_id in ("GR201", "GR202", "GR203", "GR204", "GR205"):
        assert findings[check_id]["status"] in ("pass", "fail"), (check_id, findings[check_id])


def test_check_mode_for_one_matrix_server_is_pr_mode(tmp_path):
    repo = pr_repo(tmp_path / "repo")
    env = action_env(tmp_path, repo, mode="check", docker="false", server="trivia_match", fail_on="never")
    run = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    report = json.loads((repo.path / outputs(tmp_path)["report"]).read_text())
    assert [(s["name"], s["status"]) for s in report["servers"]] == [("trivia_match", "added")]
    assert report["base_sha"] == repo.git("rev-parse", "main").strip() and report["pr"] is not None
    env = action_env(tmp_path, repo, mode="check", docker="false", server="untouched")
    env["GITHUB_RUN_ID"] = "79"
    run = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 2 and "untouched" in run.stderr
