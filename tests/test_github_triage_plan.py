"""triage over several PRs (fake GitHub), and plan / merge-reports over a real git repository."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.publish import publish
from gym_review_bot.github.triage import markdown_table, triage_rows
from gym_review_bot.plan import make_plan, merge_reports
from tests.conftest import GitRepo, good_server_files, write_tree
from tests.fake_github import FakeGithub
from tests.github_support import client, make_report, rules, write_report


def test_triage_over_several_prs(monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with FakeGithub() as fake:
        old, new = "1" * 40, "2" * 40
        fake.add_pr(1, head=old, commits=[old])
        fake.add_pr(2, head=old, commits=[old, "3" * 40, new], labels=["ready-to-merge"])
        fake.add_pr(3, files=["docs/index.md"])
        fake.add_pr(4, author="x", head=new, created_at="2026-11-20T00:00:00Z", requested=["alice"])
        for number in (1, 2):
            publish(
                client(fake),
                fake.repo,
                number,
                write_report(tmp_path / "r.json", make_report(head=old)),
                rules(),
            )
        fake.pulls[2].head = new
        fake.add_comment(4, "mallory", "<!-- gym-review-bot -->\n<!-- gym-review-bot:summary e30= -->")
        rows = triage_rows(client(fake), fake.repo, GithubSettings(), now=datetime(2026, 11, 26, tzinfo=UTC))
    by_number = {row.number: row for row in rows}
    assert sorted(by_number) == [1, 2, 4]  # PR 3 touches no server
    assert by_number[1].verdict == "pass" and not by_number[1].outdated and by_number[1].commits_since == 0
    assert (
        by_number[2].outdated
        and by_number[2].commits_since == 2
        and by_number[2].labels == ["ready-to-merge", "gym-review: passing"]
    )
    assert by_number[4].verdict == "none" and by_number[4].reviewers == ["alice"] and by_number[4].age_days == 6
    assert by_number[1].days_since_review == 24
    table = markdown_table(rows)
    assert table.count("\n") == 5 and re.search(r"\| \\#(&#8203;)?2 \| pass \| yes \| 2 \|", table)


def _pr_repo(tmp_path, names):
    import shutil

    from tests.conftest import BASE_FIXTURE

    repo = GitRepo(tmp_path / "repo")
    shutil.copytree(BASE_FIXTURE, repo.path, dirs_exist_ok=True)
    repo.git("add", "-A")
    repo.git("commit", "-qm", "base")
    repo.git("checkout", "-qb", "pr")
    for name in names:
        write_tree(repo.path / "resources_servers" / name, good_server_files("word_count"))
    repo.git("add", "-A")
    repo.git("commit", "-qm", "pr")
    return repo


def test_plan_lists_safe_servers_and_refuses_others(tmp_path):
    repo = _pr_repo(tmp_path, ["alpha", "beta.v2", "bad name$(id)"])
    plan = json.loads(make_plan(repo.path, "main", "HEAD"))
    assert plan["servers"] == ["alpha", "beta.v2"] and plan["refused"] == ["bad name$(id)"]
    assert plan["include"] == [{"server": "alpha"}, {"server": "beta.v2"}]
    out = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "plan", "--repo", str(repo.path), "--base", "main"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and json.loads(out.stdout)["servers"] == ["alpha", "beta.v2"]


def test_merge_reports_keeps_missing_and_refused_servers_as_error(tmp_path):
    plan = {
        "head": "a" * 40,
        "base": "b" * 40,
        "servers": ["alpha", "beta"],
        "status": {"alpha": "added", "beta": "added"},
        "refused": ["bad name"],
        "include": [],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    alpha = write_report(tmp_path / "alpha.json", make_report(server="alpha"))
    (tmp_path / "junk.json").write_text("{not json")
    report = merge_reports(tmp_path / "plan.json", [alpha, tmp_path / "junk.json"])
    names = [s.name for s in report.servers]
    assert names == ["alpha", "beta", "(a server with an unsafe name)"]
    assert report.verdict == "error" and not report.complete
    assert report.servers[1].findings[0].status == "error" and "missing" in report.servers[1].findings[0].message
    only_alpha = {**plan, "servers": ["alpha"], "refused": []}
    (tmp_path / "plan.json").write_text(json.dumps(only_alpha))
    assert merge_reports(tmp_path / "plan.json", [alpha]).verdict == "pass"


def test_github_commands_validate_their_arguments():
    for argv in (["publish", "--repo", "x", "--pr", "1", "--report", "r"], ["merge", "--repo", "o/n", "--pr", "-1"]):
        out = subprocess.run([sys.executable, "-m", "gym_review_bot", *argv], capture_output=True, text=True)
        assert out.returncode == 2 and "expected" in out.stderr


@pytest.mark.parametrize("module", ["gym_review_bot.cli"])
def test_pygithub_loads_only_for_github_commands(module):
    code = f"import sys, {module}; {module}.build_parser(); print('github' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_triage_cli_prints_a_table_and_writes_markdown(tmp_path):
    import os

    from tests.github_support import TOKEN

    with FakeGithub() as fake:
        fake.add_pr(5, author="a<b>")
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "COLUMNS": "200"}
        args = ["triage", "--repo", fake.repo, "--markdown", str(tmp_path / "t.md")]
        out = subprocess.run([sys.executable, "-m", "gym_review_bot", *args], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "#5" in out.stdout and "none" in out.stdout and TOKEN not in out.stdout + out.stderr
    assert re.search(r"\| \\#(&#8203;)?5 \| none \|", (tmp_path / "t.md").read_text())


def test_merge_reports_uses_no_report_of_another_commit(tmp_path):
    plan = {"head": "a" * 40, "base": "b" * 40, "servers": ["alpha"], "status": {"alpha": "added"}, "refused": []}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    stale = write_report(tmp_path / "alpha.json", make_report(server="alpha", head="c" * 40))
    report = merge_reports(tmp_path / "plan.json", [stale])
    assert report.verdict == "error" and report.servers[0].findings[0].status == "error"
    assert any("another commit" in n for n in report.notes)
