"""The shipped workflows, run step by step as written (tests/workflow_runner.py), on a repository where
GitHub's `refs/pull/N/merge` exists: the review reports on the PR's head, and publish accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from gym_review_bot.render.words import STATUS_TEXT
from tests.conftest import BASE_FIXTURE, GitRepo, good_server_files, write_tree
from tests.fake_github import FakeGithub
from tests.github_support import PUBLISH_WORKFLOW, REVIEW_WORKFLOW, TOKEN
from tests.workflow_runner import WORKFLOWS, Runner

NUMBER = 12


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A registry on GitHub: main moved on after the PR branched, so the merge commit is not the PR's head."""
    for key in [k for k in list(__import__("os").environ) if k.startswith("GITHUB_")]:
        monkeypatch.delenv(key)
    work = GitRepo(tmp_path / "work")
    shutil.copytree(BASE_FIXTURE, work.path, dirs_exist_ok=True)
    work.commit("base")
    work.git("checkout", "-qb", "feature")
    write_tree(work.path, {f"resources_servers/trivia_match/{k}": v for k, v in good_server_files().items()})
    head = work.commit("add trivia_match")
    work.git("checkout", "-q", "main")
    write_tree(work.path, {"docs/later.md": "main moved on\n"})
    main = work.commit("later work on main")
    files = work.git("diff", "--name-only", f"{main}...{head}").splitlines()
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(remote)], check=True)
    # GitHub serves any commit reachable from its refs (refs/pull/N/* included) by SHA, as checkout fetches it.
    subprocess.run(["git", "config", "uploadpack.allowReachableSHA1InWant", "true"], cwd=remote, check=True)
    with FakeGithub() as fake:
        pr = fake.add_pr(NUMBER, head=head, files=files, head_ref="feature", base_sha=main, body="A trivia server.")
        merge = fake.publish_git_refs(NUMBER, remote)
        yield fake, remote, tmp_path, pr, merge, main


def pull_request_event(fake, pr) -> dict:
    payload = fake.pull_json(pr)
    return {
        "action": "synchronize",
        "number": pr.number,
        "pull_request": payload,
        "repository": {"full_name": fake.repo},
    }


def review_then_publish(fake, remote, tmp_path, pr, main, workflows: Path = WORKFLOWS):
    # No Docker daemon or registry image is wanted here: the matrix job's `docker` input becomes false
    # (the review is then complete: false, which publish must still accept and show as incomplete).
    runner = Runner(fake, remote, tmp_path, TOKEN, overrides={"check": {"docker": "false"}}, workflows=workflows)
    review = fake.add_run(NUMBER, pr.head, REVIEW_WORKFLOW)
    ran = runner.run("gym-review.yml", "pull_request", pull_request_event(fake, pr), review["id"])
    for name, files in ran.artifacts.items():
        fake.add_artifact(review, name, files)
    review["conclusion"] = ran.conclusion
    own = fake.add_run(None, main, PUBLISH_WORKFLOW, event="workflow_run")
    published = runner.run(
        "gym-review-publish.yml", "workflow_run", {"action": "completed", "workflow_run": review}, own["id"]
    )
    return ran, published


def test_the_review_reports_on_the_prs_head_and_publish_accepts_it(registry):
    fake, remote, tmp_path, pr, merge, main = registry
    assert merge != pr.head  # the merge ref exists, and is not the head
    ran, published = review_then_publish(fake, remote, tmp_path, pr, main)
    assert [ran.jobs[j]["result"] for j in ("plan", "review")] == ["success"] * 2, ran.logs
    assert ran.jobs["join"]["result"] == "success" or ran.logs[-1] == "join: step Verdict exited 1", ran.logs
    report = json.loads(ran.artifacts["gym-review-report"]["report.json"])
    fork_point = subprocess.run(
        ["git", "merge-base", main, pr.head], cwd=remote, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert report["head_sha"] == pr.head and report["base_sha"] == fork_point != main
    assert [s["name"] for s in report["servers"]] == ["trivia_match"]
    assert published.jobs["publish"]["result"] == "success", published.logs
    assert any(f"PR #{NUMBER}: published" in log for log in published.logs), published.logs
    status = fake.pr_statuses(pr.head)[-1]  # the judge's word, not a refusal
    assert status["state"] in ("failure", "error")
    assert status["description"] in (STATUS_TEXT["fail"], STATUS_TEXT["error"], STATUS_TEXT["incomplete"])
    assert status["target_url"] == f"{fake.url}/{fake.repo}/actions/runs/{published.run_id}"
    assert fake.pr_statuses(merge) == [] and len(fake.pulls[NUMBER].labels) == 1
    assert sum("<!-- gym-review-bot -->" in c["body"] for c in fake.pr_comments(NUMBER)) == 1


def test_checking_out_the_merge_commit_would_be_refused_as_outdated(registry):
    # The shipped workflow before issue 18: actions/checkout without `ref:` takes refs/pull/N/merge.
    fake, remote, tmp_path, pr, merge, main = registry
    old = tmp_path / "old-workflows"
    shutil.copytree(WORKFLOWS, old)
    text = (old / "gym-review.yml").read_text()
    (old / "gym-review.yml").write_text(text.replace("ref: ${{ github.event.pull_request.head.sha }}", ""))
    ran, published = review_then_publish(fake, remote, tmp_path, pr, main, workflows=old)
    assert json.loads(ran.artifacts["gym-review-report"]["report.json"])["head_sha"] == merge
    assert published.jobs["publish"]["result"] == "failure"  # exit 3
    assert fake.pr_statuses(pr.head)[-1]["description"] == "the review is outdated"
