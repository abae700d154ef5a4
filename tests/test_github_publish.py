"""publish against the fake GitHub: one comment, status, labels, reviewer; request bounds; trust checks."""

from __future__ import annotations

import pytest
from fake_github import FakeGithub
from github_support import HEAD, client, make_report, write_report

from gym_review_bot.github.publish import publish
from gym_review_bot.github.settings import GithubSettings
from gym_review_bot.github.summary import decode
from gym_review_bot.render import MARKER

BOT = "github-actions[bot]"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    with FakeGithub() as server:
        server.add_pr(7, author="contrib")
        for i in range(150):
            server.add_comment(7, f"user{i % 5}", f"comment {i}")
        yield server


def settings(**kw) -> GithubSettings:
    return GithubSettings(reviewers=["alice", "bob"], **kw)


def bot_comments(fake, number=7):
    return [c for c in fake.pr_comments(number) if c["login"] == BOT and MARKER in c["body"]]


def test_first_publish_then_rerun_makes_no_write(fake, tmp_path):
    report = write_report(tmp_path / "r.json", make_report())
    line = publish(client(fake), fake.repo, 7, report, settings())
    assert "published (success" in line
    assert len(fake.requests) <= 9, fake.requests
    assert fake.statuses[-1]["state"] == "success" and fake.statuses[-1]["context"] == "gym-review"
    assert fake.pulls[7].labels == ["gym-review: passing"]
    assert fake.pulls[7].requested == ["bob"]  # 7 % 2 == 1
    assert len(bot_comments(fake)) == 1
    fake.reset_counts()
    fake.add_comment(7, "user1", "later comment")  # the bot's comment is on page 2 now
    line = publish(client(fake), fake.repo, 7, write_report(tmp_path / "r2.json", make_report()), settings())
    assert "nothing changed" in line
    assert len(fake.requests) <= 4 and fake.writes() == [], fake.requests
