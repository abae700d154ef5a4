"""`gym-review audit-publish` against the fake GitHub: the dashboard issue, one issue per newly failing server
naming its CODEOWNERS, closed with a comment when it passes again; a forged report is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gym_review_bot.cli import main
from gym_review_bot.github.audit_issues import FAILURE_LABEL, HEALTH_LABEL
from tests.audit_support import audit, registry
from tests.conftest import GitRepo
from tests.fake_github import FakeGithub, add_issue, repo_issues
from tests.github_support import TOKEN

CODEOWNERS = """# owners
*                       @org/maintainers
/resources_servers/beta/ @org/beta-team @bob beta-owner@example.com
"""


@pytest.fixture
def fake(monkeypatch):
    with FakeGithub() as server:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        yield server


@pytest.fixture
def trusted(tmp_path) -> GitRepo:
    """The registry's base branch as the publish job checks it out: its CODEOWNERS, no .gym-review.yaml."""
    repo = GitRepo(tmp_path / "base")
    repo.write({".github/CODEOWNERS": CODEOWNERS})
    repo.commit("owners")
    return repo


def weeks(tmp_path: Path) -> tuple[GitRepo, list[Path]]:
    """Three weekly audits: all pass; beta's licence lost (newly failing); beta fixed."""
    repo = registry(tmp_path, ("alpha", "beta"))
    reports = []
    changes = [{}, {"resources_servers/beta/README.md": "# beta\n"}, {"resources_servers/beta/README.md": None}]
    for week, change in enumerate(changes, start=1):
        if week == 3:
            change = {"resources_servers/beta/README.md": "# beta\n\nLicense: Apache-2.0\n"}
        repo.write(change)
        repo.commit(f"week {week}")
        out = tmp_path / f"week{week}"
        audit(repo.path, out, "--github-repo", "org/gym", previous=reports[-1] if reports else None)
        reports.append(out / "audit.json")
    return repo, reports


def publish(report: Path, trusted: GitRepo, *extra: str) -> int:
    argv = ["audit-publish", "--report", str(report), "--repo", "org/gym", "--config-repo", str(trusted.path)]
    return main([*argv, *extra])


def bot_issues(fake: FakeGithub, label: str) -> list:
    return [i for i in repo_issues(fake).values() if label in i.labels and i.author == "github-actions[bot]"]


def test_a_newly_failing_server_gets_one_issue_naming_its_owners_closed_when_it_passes(tmp_path, fake, trusted, capsys):
    _, (week1, week2, week3) = weeks(tmp_path)
    assert publish(week1, trusted, "--dashboard-url", "https://org.github.io/gym/audit.html") == 0
    [dashboard] = bot_issues(fake, HEALTH_LABEL)
    assert dashboard.title == "Registry health" and "<!-- gym-review-audit:dashboard -->" in dashboard.body
    assert "[HTML dashboard](https://org.github.io/gym/audit.html)" in dashboard.body
    assert bot_issues(fake, FAILURE_LABEL) == []  # the first audit is the baseline: nothing is newly failing

    assert publish(week2, trusted) == 0
    [issue] = bot_issues(fake, FAILURE_LABEL)
    sha = json.loads(week2.read_text())["commit"]
    assert issue.title == "Registry audit: beta fails GR109" and issue.state == "open"
    assert "<!-- gym-review-audit:server=beta -->" in issue.body and "@org/beta-team @bob" in issue.body
    assert "beta-owner@example.com" not in issue.body and "@org/maintainers" not in issue.body
    assert f"https://github.com/org/gym/commit/{sha}" in issue.body and "**GR109**" in issue.body
    assert "gym-review audit --repo . --server beta --docker" in issue.body
    assert "beta" in dashboard.body and dashboard.edits == 1

    fake.reset_counts()
    assert publish(week2, trusted) == 0  # the same audit again: no second issue, no edit
    assert fake.writes() == [] and len(bot_issues(fake, FAILURE_LABEL)) == 1

    assert publish(week3, trusted) == 0
    assert issue.state == "closed" and issue.state_reason == "completed"
    assert len(issue.comments) == 1 and "passes again" in issue.comments[0]["body"]
    assert "beta" in issue.comments[0]["body"] and sha not in issue.comments[0]["body"]
    assert "closed 1 (beta)" in capsys.readouterr().out


def test_issues_not_opened_by_the_bot_are_left_alone(tmp_path, fake, trusted):
    _, (_, week2, week3) = weeks(tmp_path)
    lookalike = add_issue(fake, "beta fails", "<!-- gym-review-audit:server=beta -->", labels=[FAILURE_LABEL])
    fake_dashboard = add_issue(fake, "Registry health", "<!-- gym-review-audit:dashboard -->", labels=[HEALTH_LABEL])
    assert publish(week2, trusted) == 0
    assert len(bot_issues(fake, FAILURE_LABEL)) == 1 and len(bot_issues(fake, HEALTH_LABEL)) == 1
    assert publish(week3, trusted) == 0
    assert lookalike.state == "open" and lookalike.comments == [] and fake_dashboard.body.endswith("-->")


def _forge(path: Path, change) -> Path:
    report = json.loads(path.read_text())
    change(report)
    forged = path.with_name("forged.json")
    forged.write_text(json.dumps(report))
    return forged


def test_a_report_that_disagrees_with_its_findings_is_refused_with_no_write(tmp_path, fake, trusted, capsys):
    _, (_, week2, _) = weeks(tmp_path)

    def pass_beta(report):
        beta = next(s for s in report["servers"] if s["name"] == "beta")
        beta["verdict"], beta["failing"] = "pass", []

    assert publish(_forge(week2, pass_beta), trusted) == 3
    assert "refused: the stored verdict of 'beta' (pass) disagrees with its findings (fail)" in capsys.readouterr().out

    def pass_all(report):
        report["verdict"] = "pass"

    assert publish(_forge(week2, pass_all), trusted) == 3
    assert publish(_forge(week2, lambda r: r.update(kind="other")), trusted) == 3
    assert fake.writes() == [] and repo_issues(fake) == {}


def test_message_text_from_the_registry_is_inert_in_the_issue(tmp_path, fake, trusted):
    _, (_, week2, _) = weeks(tmp_path)

    def hostile_message(report):
        beta = next(s for s in report["servers"] if s["name"] == "beta")
        gr109 = next(f for f in beta["report"]["findings"] if f["id"] == "GR109")
        gr109["message"] = "ping @admin, see https://evil.example/x <img src=x> #1"

    publish(_forge(week2, hostile_message), trusted)
    [issue] = bot_issues(fake, FAILURE_LABEL)
    assert "@admin" not in issue.body and "https://evil" not in issue.body and "<img" not in issue.body


def test_github_failures_are_one_line_and_exit_2(tmp_path, fake, trusted, capsys):
    from tests.fake_github import Fault

    _, (week1, _, _) = weeks(tmp_path)
    fake.faults += [Fault("GET", r"/issues$", 403, body={"message": "Resource not accessible by integration"})]
    assert publish(week1, trusted) == 2
    err = capsys.readouterr().err
    assert "403" in err and TOKEN not in err and len(err.strip().splitlines()) == 1
