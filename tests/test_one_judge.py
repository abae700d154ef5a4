"""One judge: for each state a review can end in, every surface says the same thing.

Each state is a real PR in a real git repository, reviewed by the real `gym-review check` (with the Docker
sandbox where the state needs a complete review), then published by the real `publish` to the fake GitHub.
The exit code, the JSON verdict, the terminal's verdict line, the comment's headline (as `check` writes
it and as `publish` posts it), the commit status, the label and the merge gate must agree, as the table
below says. An overridden failure, which `check` never sees, stays `fail` in the exit code and the JSON;
the published comment, its hidden summary, the status, the label and the gate agree on the override.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import load_trusted_policy
from gym_review_bot.github.merge import merge_gate
from gym_review_bot.github.publish import publish
from gym_review_bot.render.summary import decode
from tests.conftest import GitRepo, good_server_files
from tests.docker_support import base_image, ca_bundle, docker_skip_reason
from tests.fake_github import FakeGithub
from tests.github_support import approve, as_publish_run, client, review_run, rules

SERVER = "trivia_match"
BODY = """## Environment
Short-answer trivia: the model reads a question and answers it in a sentence.

## Verification logic
verify() gives reward 1.0 when the answer contains the expected answer (case-insensitive), else 0.0.

## Prompts / tasks
Source: questions written by hand for this environment. Domain: knowledge.

## Licensing
Code: Apache 2.0. Data: CC BY 4.0 (the questions were written for this environment).
"""
NO_LICENCE = "# Licensing information\nCode: Apache 2.0\nData: CC BY 4.0 (questions written for this demo)"


@dataclass(frozen=True)
class Expected:
    exit: int
    verdict: str
    complete: bool
    headline: str  # the comment's `## ` line, after the icon
    terminal: str  # how the terminal's verdict line starts
    status: str
    label: str
    merges: bool


PASS = "gym-review: no blocking problems"
TABLE = {
    "pass": Expected(0, "pass", True, PASS, "verdict: PASS (", "success", "passing", True),
    "fail": Expected(
        1, "fail", True, "gym-review: changes needed", "verdict: FAIL (", "failure", "changes requested", False
    ),
    # a damaged clone: README.md's object is gone, so GR100, GR109 and GR119 (each reads it) could not run
    "error": Expected(
        3, "error", False, "gym-review: incomplete, 3 checks could not run", "verdict: ERROR: review incomplete",
        "error", "incomplete", False,
    ),
    "waived": Expected(0, "pass", True, PASS, "verdict: PASS (", "success", "passing", True),
    "pre_existing": Expected(0, "pass", True, PASS, "verdict: PASS (", "success", "passing", True),
    "incomplete": Expected(
        0, "pass", False, "gym-review: incomplete, no blocking problems in what ran", "verdict: PASS (incomplete)",
        "error", "incomplete", False,
    ),
}  # fmt: skip
NEEDS_DOCKER = {"pass", "fail", "waived", "pre_existing"}


def _base(repo: GitRepo, readme: str | None = None, config: str | None = None) -> None:
    files = good_server_files(SERVER)
    if readme is not None:
        files["README.md"] = readme
    repo.server(SERVER, files)
    if config is not None:
        repo.write({".gym-review.yaml": config})
    repo.commit("base: the server as merged")
    repo.git("checkout", "-q", "-b", "pr")


def _change_readme(repo: GitRepo, drop_licence: bool = False) -> None:
    path = repo.path / "resources_servers" / SERVER / "README.md"
    text = path.read_text().replace("else 0.0.", "else 0.0. Answers are compared after trimming.")
    path.write_text(text.replace(NO_LICENCE, "") if drop_licence else text)
    repo.commit("the PR")


def make_state(state: str, repo: GitRepo) -> None:
    readme = good_server_files(SERVER)["README.md"]
    if state in ("pass", "incomplete"):
        _base(repo)
        _change_readme(repo)
    elif state == "fail":
        _base(repo)
        _change_readme(repo, drop_licence=True)
    elif state == "waived":
        _base(repo, config=f"waivers: [{{check: GR109, server: {SERVER}, reason: licence under legal review}}]\n")
        _change_readme(repo, drop_licence=True)
    elif state == "pre_existing":
        _base(repo, readme=readme.replace(NO_LICENCE, ""))
        _change_readme(repo)
    elif state == "error":
        _base(repo)
        _change_readme(repo)
        oid = repo.git("rev-parse", f"HEAD:resources_servers/{SERVER}/README.md")
        (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()  # a damaged clone: the bot cannot tell


def run_check(repo: GitRepo, tmp_path: Path, docker: bool) -> tuple[subprocess.CompletedProcess, dict, str]:
    body = tmp_path / "body.md"
    body.write_text(BODY)
    out, md = tmp_path / "report.json", tmp_path / "comment.md"
    sandbox = ["--docker", "--base-image", base_image()] if docker else ["--no-docker"]
    sandbox += ["--ca-bundle", str(ca_bundle())] if docker and ca_bundle() else []
    proc = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", "--repo", str(repo.path), "--base", "main",
         "--pr-body", str(body), "--json", str(out), "--markdown", str(md), *sandbox],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(out.read_text()), md.read_text()


def headline(markdown: str) -> str:
    line = next(line for line in markdown.split("\n") if line.startswith("## "))
    return line.split(" ", 2)[2].split(" (")[0]  # without the icon and the counts


def trusted(repo: GitRepo) -> Catalogue:
    """The trusted rules: the base branch's .gym-review.yaml, read with git (as the workflows do)."""
    return Catalogue(load_trusted_policy(repo.path, "main").policy)


def published(fake: FakeGithub, repo: GitRepo, tmp_path: Path, report: dict, monkeypatch) -> str:
    """`publish` as the publish workflow runs it: the review run's artifact and its workflow_run event."""
    fake.pulls[7].head = report["head_sha"]
    run = review_run(fake, 7, raw=json.dumps(report))
    as_publish_run(fake, monkeypatch, tmp_path, run)
    path = tmp_path / "published.json"
    path.write_text(json.dumps(report))
    return publish(client(fake), fake.repo, 7, path, trusted(repo))


def bot_body(fake: FakeGithub) -> str:
    return next(c["body"] for c in fake.pr_comments(7) if c["login"] == "github-actions[bot]")


def gate(fake: FakeGithub, repo: GitRepo) -> bool:
    """The merge gate, which re-judges the review run's own report (the artifact) under the trusted rules."""
    fake.label(7, "ready-to-merge")
    approve(fake, 7, "maint")
    return merge_gate(client(fake), fake.repo, 7, trusted(repo)).merged


@pytest.fixture
def fake(monkeypatch):
    for key in ("GITHUB_EVENT_PATH", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    with FakeGithub() as server:
        server.add_pr(7, author="contrib", files=[f"resources_servers/{SERVER}/README.md"])
        server.roles.update({"maint": "maintain"})
        yield server


@pytest.mark.parametrize("state", list(TABLE))
def test_every_surface_agrees_for_each_state(
    state: str, repo: GitRepo, tmp_path: Path, fake: FakeGithub, monkeypatch
) -> None:
    docker = state in NEEDS_DOCKER
    if docker and docker_skip_reason():
        pytest.skip(f"Docker tests skipped: {docker_skip_reason()}")
    want = TABLE[state]
    make_state(state, repo)
    proc, report, markdown = run_check(repo, tmp_path, docker)
    assert (proc.returncode, report["verdict"], report["complete"]) == (want.exit, want.verdict, want.complete), (
        proc.stdout
    )
    assert proc.stdout.rstrip().split("\n")[-1].startswith(want.terminal), proc.stdout
    assert headline(markdown) == want.headline
    line = published(fake, repo, tmp_path, report, monkeypatch)
    assert not line.startswith("refused"), line
    body = bot_body(fake)
    assert headline(body) == want.headline
    assert fake.statuses[-1]["state"] == want.status and fake.statuses[-1]["sha"] == report["head_sha"]
    assert fake.pulls[7].labels == [f"gym-review: {want.label}"]
    summary = decode(body)
    assert summary is not None and (summary.verdict, summary.complete, summary.state) == (
        want.verdict,
        want.complete,
        want.status,
    )
    assert gate(fake, repo) is want.merges


def test_an_overridden_failure_agrees_everywhere_but_in_check(
    repo: GitRepo, tmp_path: Path, fake: FakeGithub, monkeypatch
) -> None:
    if docker_skip_reason():
        pytest.skip(f"Docker tests skipped: {docker_skip_reason()}")
    from gym_review_bot.github.chatops import handle_comment

    make_state("fail", repo)
    proc, report, markdown = run_check(repo, tmp_path, docker=True)
    assert (proc.returncode, report["verdict"], headline(markdown)) == (1, "fail", "gym-review: changes needed")
    published(fake, repo, tmp_path, report, monkeypatch)
    assert fake.statuses[-1]["state"] == "failure"
    command = fake.add_comment(7, "maint", '/gym-review override GR109 "licence checked by hand"')
    assert "recorded" in handle_comment(client(fake), fake.repo, 7, command["id"], rules().policy.github)
    published(fake, repo, tmp_path, report, monkeypatch)
    body = bot_body(fake)
    assert headline(body) == "gym-review: no blocking problems"
    assert "🔒 **GR109**" in body and "❌ **GR109**" not in body
    summary = decode(body)
    assert summary is not None and (summary.verdict, summary.state) == ("pass", "success")
    assert fake.statuses[-1]["state"] == "success" and fake.pulls[7].labels == ["gym-review: passing"]
    assert gate(fake, repo) is True


# --- forged reports: publish re-judges, never trusts ------------------------------------------------


def _forge(case: str):
    from tests.github_support import failing, make_report

    report = make_report("GR109") if case in ("pass_over_a_failure", "waiver") else make_report()
    if case == "pass_over_a_failure":  # a failing finding inside, the stored verdict says pass
        report.verdict, report.summary.errors = "pass", 0
    elif case == "pass_over_an_error":
        failing(report, "GR203").status = "error"  # could not run; the stored verdict still says pass
    elif case == "complete_with_not_requested":
        gr205 = failing(report, "GR205")
        gr205.status, gr205.skip_kind = "skip", "not_requested"
        report.summary.passed -= 1
        report.summary.skipped += 1  # the counts made to match; `complete` left true
    elif case == "pre_existing_on_an_added_server":
        gr109 = failing(report, "GR104")
        gr109.status, gr109.pre_existing = "fail", True
        report.summary.passed -= 1
        report.summary.pre_existing += 1
    elif case == "server_left_out":
        report.servers = []
        report.summary.servers = 0
    elif case == "check_left_out":
        report.servers[0].findings = [f for f in report.servers[0].findings if f.id != "GR203"]
        report.summary.passed -= 1
    elif case == "check_twice":
        report.servers[0].findings.append(replace(failing(report, "GR101")))
        report.summary.passed += 1
    elif case == "severity":
        failing(report, "GR109").severity = "warning"  # the catalogue and the config say error
    elif case == "disabled_by_policy":
        gr109 = failing(report, "GR109")
        gr109.status, gr109.skip_kind = "skip", "disabled_by_policy"
        report.summary.passed -= 1
        report.summary.skipped += 1
    elif case == "waiver":
        from gym_review_bot.models import WaiverInfo

        failing(report, "GR109").waived = WaiverInfo(reason="trust me")
        report.verdict, report.summary.errors, report.summary.waived = "pass", 0, 1
    elif case == "override_in_the_report":
        from gym_review_bot.models import WaiverInfo

        failing(report, "GR101").waived = WaiverInfo(reason="trust me", source="override", by="mallory")
    return report


FORGERIES = [
    "pass_over_a_failure",
    "pass_over_an_error",
    "complete_with_not_requested",
    "pre_existing_on_an_added_server",
    "server_left_out",
    "check_left_out",
    "check_twice",
    "severity",
    "disabled_by_policy",
    "waiver",
    "override_in_the_report",
]


@pytest.mark.parametrize("case", FORGERIES)
def test_a_forged_report_gets_status_error_never_success(case: str, tmp_path: Path, monkeypatch) -> None:
    from tests.github_support import HEAD, write_report

    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with FakeGithub() as fake:
        fake.add_pr(7, files=["resources_servers/word_count/app.py"])
        line = publish(client(fake), fake.repo, 7, write_report(tmp_path / "r.json", _forge(case)), rules())
        assert line.startswith("refused: "), line
        assert [(s["state"], s["sha"]) for s in fake.statuses] == [("error", HEAD)]
        assert fake.pulls[7].labels == [] and not fake.pr_comments(7)


def test_an_honest_report_is_published() -> None:
    from gym_review_bot.judge import judge
    from gym_review_bot.trust import verify_report
    from tests.github_support import make_report

    report = make_report("GR109")
    judged = verify_report(report, rules(), ["resources_servers/word_count/app.py"])
    assert (judged.verdict, judged.state) == (judge(report).verdict, "failure")
