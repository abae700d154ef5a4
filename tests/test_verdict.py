"""Fail closed: the verdict is never wrongly green, and bad flags are the caller's problem, not the PR's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gym_review_bot.checks.base import Check, errored, failed, passed, run_checks, skipped
from gym_review_bot.config import default_policy
from gym_review_bot.models import Finding, Report, ServerReport
from tests.conftest import GitRepo, finalized, good_server_files


def finding(check_id: str, status: str, severity: str = "error", **kw) -> Finding:
    kind = kw.pop("skip_kind", "not_applicable" if status == "skip" else None)
    return Finding(id=check_id, severity=severity, status=status, skip_kind=kind, message="m", **kw)


def report_of(*findings: Finding, status: str = "added", sandbox_ran: bool = True) -> Report:
    server = ServerReport(name="s", path="resources_servers/s", status=status, findings=list(findings))
    server.sandbox_ran = sandbox_ran
    return finalized(Report(servers=[server]))


# --- Report.finalize -----------------------------------------------------------------------------


def test_all_passing_and_sandbox_ran_is_a_complete_pass() -> None:
    report = report_of(finding("GR100", "pass"), finding("GR110", "skip"))
    assert (report.verdict, report.complete, report.summary.not_run) == ("pass", True, 0)


def test_an_error_of_an_error_severity_check_makes_the_verdict_error_never_pass() -> None:
    report = report_of(finding("GR100", "pass"), finding("GR106", "error"))
    assert (report.verdict, report.complete, report.summary.not_run) == ("error", False, 1)


def test_a_blocking_failure_outranks_an_error() -> None:
    report = report_of(finding("GR106", "error"), finding("GR107", "fail"))
    assert report.verdict == "fail" and report.complete is False


def test_an_error_of_a_warning_check_keeps_pass_but_is_incomplete() -> None:
    report = report_of(finding("GR206", "error", severity="warning"))
    assert (report.verdict, report.complete) == ("pass", False)


def test_not_requested_skips_and_a_sandbox_that_did_not_run_make_the_review_incomplete() -> None:
    assert report_of(finding("GR201", "skip", skip_kind="not_requested")).complete is False
    assert report_of(finding("GR100", "pass"), sandbox_ran=False).complete is False
    # a server only checked (--all/--server) needs no sandbox to be complete; nor does a removed one
    assert report_of(finding("GR100", "pass"), status="checked", sandbox_ran=False).complete is True
    assert report_of(status="removed", sandbox_ran=False).complete is True


def test_pre_existing_and_warning_failures_do_not_block() -> None:
    report = report_of(finding("GR109", "fail", pre_existing=True), finding("GR110", "fail", severity="warning"))
    assert report.verdict == "pass" and report.summary.pre_existing == 1 and report.summary.warnings == 1


# --- the check runner ----------------------------------------------------------------------------


def test_the_runner_never_turns_could_not_tell_into_skip_or_pass() -> None:
    def crash(ctx: object):
        raise RecursionError("maximum recursion depth exceeded")

    checks = [
        Check("GR900", "error", "crashes", "fix it", "files", crash),
        Check("GR901", "error", "cannot tell", "fix it", "files", lambda ctx: errored("cannot tell", key="k")),
        Check("GR902", "error", "waits", "fix it", "files", lambda ctx: passed("ok"), needs=("GR901",)),
        Check("GR903", "error", "n/a", "fix it", "files", lambda ctx: skipped("does not apply")),
        Check("GR904", "error", "waits on n/a", "fix it", "files", lambda ctx: passed("ok"), needs=("GR903",)),
    ]
    by_id = {f.id: f for f in run_checks(checks, object(), "srv", default_policy())}
    assert by_id["GR900"].status == "error" and "RecursionError" in by_id["GR900"].message
    assert by_id["GR901"].status == "error"
    assert (by_id["GR902"].status, by_id["GR902"].skip_kind) == ("skip", "prerequisite_failed")
    assert "could not run" in by_id["GR902"].message
    assert (by_id["GR903"].status, by_id["GR903"].skip_kind) == ("skip", "not_applicable")
    assert by_id["GR904"].skip_kind == "not_applicable"
    assert all(f.fix == "fix it" for f in by_id.values())


def test_fingerprints_ignore_line_numbers_but_not_the_reason_or_the_server() -> None:
    def fp(outcome, server: str = "srv") -> str:
        check = Check("GR900", "error", "t", "f", "files", lambda ctx: outcome)
        return run_checks([check], object(), server, default_policy())[0].fingerprint

    a = fp(failed("row 3 is bad", file="x.jsonl", line=3))
    assert a == fp(failed("row 17 is bad", file="x.jsonl", line=17))  # numbers blanked in the default key
    assert a != fp(failed("row 3 is bad", file="x.jsonl", line=3), server="other")
    assert a != fp(failed("row 3 is bad", file="y.jsonl", line=3))
    assert fp(failed("line 3: TBD", key="TBD")) != fp(failed("line 3: N/A", key="N/A"))


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def pr_repo(repo: GitRepo) -> GitRepo:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("good", good_server_files("good"))
    repo.commit("add good")
    return repo


def test_pr_mode_without_a_daemon_is_error_exit_3_with_report_and_comment(pr_repo: GitRepo, tmp_path: Path) -> None:
    """Reproduction: PR mode with no reachable Docker daemon gave PASS, exit 0, and skipped GR207."""
    out, md = tmp_path / "r.json", tmp_path / "c.md"
    proc = run_cli(
        *("check", "--repo", str(pr_repo.path), "--base", "main", "--json", str(out), "--markdown", str(md)),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock"},
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "error" and report["complete"] is False
    by_id = {f["id"]: f for f in report["servers"][0]["findings"]}
    assert by_id["GR207"]["status"] == "pass"  # static: runs without a daemon
    for n in range(201, 207):
        assert by_id[f"GR{n}"]["status"] == "error", by_id[f"GR{n}"]
        assert "no Docker daemon reachable" in by_id[f"GR{n}"]["message"]
    assert report["summary"]["not_run"] == 6
    assert md.read_text().strip()


def test_no_docker_in_pr_mode_passes_incomplete_exit_0(pr_repo: GitRepo, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = run_cli("check", "--repo", str(pr_repo.path), "--base", "main", "--no-docker", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["verdict"] == "pass" and report["complete"] is False
    skips = [f for f in report["servers"][0]["findings"] if f["status"] == "skip" and f["id"].startswith("GR2")]
    assert {f["id"] for f in skips} == {f"GR{n}" for n in range(201, 207)}
    assert {f["skip_kind"] for f in skips} == {"not_requested"}


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-file-mb", "nan"),
        ("--max-file-mb", "inf"),
        ("--max-file-mb", "-1"),
        ("--max-file-mb", "0"),
        ("--boot-timeout", "nan"),
        ("--request-timeout", "0"),
        ("--test-timeout", "-5"),
        ("--cpus", "0"),
        ("--cpus", "inf"),
        ("--pids", "0"),
        ("--pids", "1.5"),
        ("--concurrency", "-2"),
        ("--memory", "lots"),
        ("--memory", "4x"),
        ("--memory", "0"),
        ("--memory", "-4g"),
    ],
)
def test_bad_flag_values_exit_2_naming_the_flag_and_never_become_findings(
    pr_repo: GitRepo, tmp_path: Path, flag: str, value: str
) -> None:
    out = tmp_path / "r.json"
    proc = run_cli("check", "--repo", str(pr_repo.path), "--base", "main", "--json", str(out), f"{flag}={value}")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gym-review: error:") and flag in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize(("flag", "value"), [("--memory", "512m"), ("--cpus", "0.5"), ("--max-file-mb", "1.5")])
def test_good_flag_values_are_accepted(pr_repo: GitRepo, tmp_path: Path, flag: str, value: str) -> None:
    proc = run_cli("check", "--repo", str(pr_repo.path), "--base", "main", "--no-docker", f"{flag}={value}")
    assert proc.returncode == 0, proc.stderr
