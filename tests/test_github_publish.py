"""publish against the fake GitHub: one comment, status, labels, reviewer; request bounds; trust checks."""

from __future__ import annotations

import re

import pytest

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.publish import publish
from gym_review_bot.render.summary import decode
from gym_review_bot.render.words import MARKER
from tests.fake_github import FakeGithub
from tests.github_support import HEAD, TOKEN, client, failing, make_report, rules, write_report

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
    line = publish(client(fake), fake.repo, 7, report, rules(reviewers=["alice", "bob"]))
    assert "published (success" in line
    assert len(fake.requests) <= 9, fake.requests
    assert fake.statuses[-1]["state"] == "success" and fake.statuses[-1]["context"] == "gym-review"
    assert fake.pulls[7].labels == ["gym-review: passing"]
    assert fake.pulls[7].requested == ["bob"]  # 7 % 2 == 1
    assert len(bot_comments(fake)) == 1
    fake.reset_counts()
    fake.add_comment(7, "user1", "later comment")  # the bot's comment is on page 2 now
    line = publish(
        client(fake), fake.repo, 7, write_report(tmp_path / "r2.json", make_report()), rules(reviewers=["alice", "bob"])
    )
    assert "nothing changed" in line
    assert len(fake.requests) <= 4 and fake.writes() == [], fake.requests


def publish_report(fake, tmp_path, report, name="r.json", **kw):
    return publish(
        client(fake), fake.repo, 7, write_report(tmp_path / name, report), rules(reviewers=["alice", "bob"], **kw)
    )


def test_new_commit_edits_the_comment_and_says_what_changed(fake, tmp_path):
    publish_report(fake, tmp_path, make_report())
    new = "e" * 40
    fake.push(7, new)
    fake.reset_counts()
    line = publish_report(fake, tmp_path, make_report("GR109", head=new), "r2.json")
    assert "published (failure" in line
    assert len(bot_comments(fake)) == 1 and not any(r[0] == "POST" and "/comments" in r[1] for r in fake.requests)
    body = bot_comments(fake)[0]["body"]
    assert decode(body).head == new and decode(body).state == "failure"
    assert "1 new (GR109)" in body  # what changed since the previous review, from its hidden summary
    assert fake.pulls[7].labels == ["gym-review: changes requested"]
    status = fake.statuses[-1]
    assert (status["sha"], status["state"], status["description"], status["context"]) == (
        new,
        "failure",
        "changes needed",
        "gym-review",
    )


def test_override_by_a_maintainer_counts_and_by_an_outsider_does_not(fake, tmp_path):
    from gym_review_bot.github.chatops import handle_comment

    publish_report(fake, tmp_path, make_report("GR109"))
    fake.roles.update({"maint": "maintain", "outsider": "read"})
    run = fake.add_run(7, HEAD)
    outsider = fake.add_comment(7, "outsider", '/gym-review override GR109 "I say so"')
    reply = handle_comment(client(fake), fake.repo, 7, outsider["id"], settings())
    assert "Only maintainers" in reply and fake.reruns == []
    maint = fake.add_comment(7, "maint", '/gym-review override GR109 "upstream data, checked by hand"')
    assert "recorded" in handle_comment(client(fake), fake.repo, 7, maint["id"], settings())
    assert fake.reruns == [run["id"]]
    publish_report(fake, tmp_path, make_report("GR109"), "r2.json")
    body = bot_comments(fake)[0]["body"]
    assert "waived by @&#8203;maint" in body and "checked by hand" in body
    assert fake.statuses[-1]["state"] == "success" and fake.pulls[7].labels == ["gym-review: passing"]
    # the maintainer loses write access: the override stops counting at the next publish
    fake.roles["maint"] = "read"
    publish_report(fake, tmp_path, make_report("GR109"), "r3.json")
    assert fake.statuses[-1]["state"] == "failure"
    # an override survives a new head while the finding is unchanged
    fake.roles["maint"] = "maintain"
    fake.push(7, "f" * 40)
    publish_report(fake, tmp_path, make_report("GR109", head="f" * 40), "r4.json")
    status = fake.statuses[-1]
    assert (status["sha"], status["state"], status["description"]) == ("f" * 40, "success", "passing")


def test_recheck_by_the_author_reruns_and_by_a_stranger_is_refused(fake):
    from gym_review_bot.github.chatops import handle_comment

    run = fake.add_run(7, HEAD)
    stranger = fake.add_comment(7, "stranger", "/gym-review recheck")
    assert "only the PR's author" in handle_comment(client(fake), fake.repo, 7, stranger["id"], settings())
    author = fake.add_comment(7, "contrib", "/gym-review recheck")
    assert handle_comment(client(fake), fake.repo, 7, author["id"], settings()) == f"re-running run {run['id']}"
    assert fake.reruns == [run["id"]]


def test_another_accounts_comment_with_the_marker_is_left_untouched(fake, tmp_path):
    fake.add_comment(7, "mallory", f"{MARKER}\nfake review: all good")
    publish_report(fake, tmp_path, make_report())
    mallory = [c for c in fake.pr_comments(7) if c["login"] == "mallory"][0]
    assert mallory["body"].endswith("all good") and len(bot_comments(fake)) == 1
    assert not any(r[0] == "PATCH" for r in fake.requests)


def test_a_bare_url_in_a_message_is_not_linked(fake, tmp_path):
    report = make_report("GR109")
    failing(report, "GR109").message = "see http://evil.example/x and www.evil.example"
    publish_report(fake, tmp_path, report)
    body = bot_comments(fake)[0]["body"]
    assert "http://evil" not in body and "www.evil" not in body and "evil.example" in body


def test_hostile_names_and_messages_are_rendered_harmless(fake, tmp_path):
    hostile = f"@org/team <img src=x onerror=alert(1)> http://evil.example/x #1 {MARKER} -->"
    name = f"@team<img src=x onerror=alert(1)>#1{MARKER}-->"  # a server name has no `/`: the rest of `hostile`
    fake.set_files(7, [f"resources_servers/{name}/app.py"])
    report = make_report("GR109", server=name)
    failing(report, "GR109").message = hostile
    publish_report(fake, tmp_path, report)
    body = bot_comments(fake)[0]["body"]
    assert "@org/team" not in body and "<img" not in body and body.count(MARKER) == 1
    assert re.search(r"(?<!\\)#1\b", body) is None  # no issue cross-reference


@pytest.mark.parametrize(
    "case, expected",
    [
        ("outdated", "outdated"),
        ("oversized", "too big"),
        ("invalid", "not a valid"),
        ("workflow", "changed by"),
        ("not_workflow_run", "only from a workflow_run"),
    ],
)
def test_untrusted_reports_are_refused(fake, tmp_path, monkeypatch, case, expected):
    import json

    path = write_report(tmp_path / "r.json", make_report())
    event = {"workflow_run": fake.add_run(7, HEAD)}
    kw = {}
    if case == "outdated":
        fake.push(7, "9" * 40)
    elif case == "oversized":
        kw["max_report_mb"] = 0.0001
    elif case == "invalid":
        path.write_text(json.dumps({"schema": 1, "verdict": "maybe"}))
    elif case == "workflow":
        event["workflow_run"]["path"] = ".github/workflows/evil.yml"
    else:
        event = {"pull_request": {"number": 7}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    line = publish(client(fake), fake.repo, 7, path, rules(reviewers=["alice", "bob"], **kw))
    assert line.startswith("refused") and expected in line
    assert fake.statuses[-1]["state"] == "error" and expected in fake.statuses[-1]["description"]
    assert bot_comments(fake) == [] and fake.pulls[7].labels == []


def test_a_pr_touching_workflows_is_refused(fake, tmp_path):
    fake.set_files(7, ["resources_servers/word_count/app.py", ".github/workflows/gym-review.yml"])
    line = publish_report(fake, tmp_path, make_report())
    assert "changed by this PR" in line and fake.statuses[-1]["state"] == "error" and bot_comments(fake) == []


def test_502_then_success_is_retried(fake, tmp_path):
    from tests.fake_github import Fault

    fake.faults.append(Fault("GET", r"/pulls/7$", 502))
    assert "published" in publish_report(fake, tmp_path, make_report())


def test_rate_limit_exhausted_gives_the_reset_time_and_never_the_token(fake, tmp_path):
    import time

    from gym_review_bot.github.client import GithubError
    from tests.fake_github import Fault

    reset = int(time.time()) + 3600
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    fake.faults.append(Fault("GET", r"/pulls/7$", 403, headers, {"message": "API rate limit exceeded for x"}))
    with pytest.raises(GithubError) as info:
        publish_report(fake, tmp_path, make_report())
    assert "rate limit" in str(info.value) and "resets at" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN in fake.seen_tokens


def test_closed_pr_exits_cleanly(fake, tmp_path):
    fake.pulls[7].state = "closed"
    assert "closed" in publish_report(fake, tmp_path, make_report())
    del fake.pulls[7]
    from gym_review_bot.github.client import PullRequestGone

    with pytest.raises(PullRequestGone):
        publish_report(fake, tmp_path, make_report())


def test_oversized_report_comment_fits_and_keeps_the_summary(fake, tmp_path):
    ids = ["GR101", "GR104", "GR105", "GR106", "GR107", "GR108", "GR109", "GR113", "GR205", "GR301", "GR302"]
    report = make_report(*ids)
    for i, check_id in enumerate(ids):
        failing(report, check_id).message = f"problem {i} " + "x " * 4000  # about 100,000 characters in all
    publish_report(fake, tmp_path, report)
    body = bot_comments(fake)[0]["body"]
    assert len(body) <= 65_536 and decode(body) is not None and "cut to fit" in body.lower()


def test_evidence_only_failures_label_needs_evidence_and_incomplete_labels_incomplete(fake, tmp_path):
    publish_report(fake, tmp_path, make_report("GR301"))
    assert fake.pulls[7].labels == ["gym-review: needs evidence"]
    publish_report(fake, tmp_path, make_report(complete=False), "r2.json")
    assert fake.pulls[7].labels == ["gym-review: incomplete"] and fake.statuses[-1]["state"] == "error"


def test_verified_true_passes_when_the_author_maintains(fake, tmp_path):
    fake.roles["contrib"] = "maintain"
    publish_report(fake, tmp_path, make_report("GR118"))
    assert fake.statuses[-1]["state"] == "success"
    assert "the author, a maintainer" in bot_comments(fake)[0]["body"]


def test_cli_publish_keeps_the_token_out_of_output(fake, tmp_path):
    import os
    import subprocess
    import sys

    from tests.test_github_merge import base_checkout

    base_checkout(tmp_path)
    path = write_report(tmp_path / "r.json", make_report())
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    env.pop("GITHUB_EVENT_PATH", None)
    args = [sys.executable, "-m", "gym_review_bot", "publish", "--report", str(path), "--repo", fake.repo]
    ok = subprocess.run([*args, "--pr", "7"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0 and "published" in ok.stdout, ok.stderr
    gone = subprocess.run([*args, "--pr", "8"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert gone.returncode == 0 and "nothing to do" in gone.stderr
    for result in (ok, gone):
        assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "status, headers, body",
    [
        (403, {"Retry-After": "1"}, {"message": "You have exceeded a secondary rate limit."}),
        (503, {"Retry-After": "1"}, {"message": "Service Unavailable"}),
    ],
)
def test_secondary_rate_limit_and_503_wait_for_retry_after(fake, tmp_path, status, headers, body):
    import time

    from tests.fake_github import Fault

    fake.faults.append(Fault("GET", r"/issues/7/comments$", status, headers, body))
    start = time.monotonic()
    assert "published" in publish_report(fake, tmp_path, make_report())
    assert time.monotonic() - start >= 0.9  # Retry-After honoured
    assert sum(1 for r in fake.requests if r[1].endswith("/issues/7/comments")) >= 2


def test_5xx_that_never_ends_is_one_clear_line(fake, tmp_path):
    from gym_review_bot.github.client import GithubError
    from tests.fake_github import Fault

    fake.faults += [Fault("GET", r"/pulls/7$", 502) for _ in range(6)]
    with pytest.raises(GithubError) as info:
        publish_report(fake, tmp_path, make_report())
    assert "PR #7" in str(info.value) and "\n" not in str(info.value) and TOKEN not in str(info.value)


def test_a_label_someone_removed_is_put_back_even_when_nothing_else_changed(fake, tmp_path):
    publish_report(fake, tmp_path, make_report())
    fake.pulls[7].labels = ["gym-review: changes requested", "bug"]
    fake.reset_counts()
    assert "nothing changed" in publish_report(fake, tmp_path, make_report(), "r2.json")
    assert fake.pulls[7].labels == ["bug", "gym-review: passing"] and len(fake.writes()) == 2
