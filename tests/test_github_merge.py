"""The label-gated merge against the fake GitHub: refused for each missing piece, said once per head; merged."""

from __future__ import annotations

import pytest

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.merge import GATE_MARKER, merge_gate
from gym_review_bot.github.publish import publish
from gym_review_bot.render.summary import decode
from gym_review_bot.render.words import MARKER
from tests.fake_github import FakeGithub
from tests.github_support import HEAD, client, failing, make_report, publish_reviewed, rules, write_report

BOT = "github-actions[bot]"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with FakeGithub() as server:
        server.add_pr(3, author="contrib")
        server.roles.update({"maint": "maintain", "reader": "read"})
        yield server


@pytest.fixture
def reviewed(fake, monkeypatch, tmp_path):
    """Publish a review of the current head as the publish workflow does (a review run with its artifact)."""

    def run(report=None, **kw):
        return publish_reviewed(fake, monkeypatch, tmp_path, 3, report or make_report(head=fake.pulls[3].head), **kw)

    return run


def review(fake, login, state="APPROVED", sha=HEAD):
    reviews = fake.reviews.setdefault(3, [])
    reviews.append({"id": len(reviews) + 1, "user": fake.user(login), "state": state, "commit_id": sha})


@pytest.fixture
def ready(fake, reviewed):
    """A published review, then a maintainer's ready label and approval."""

    def run(report=None):
        reviewed(report)
        fake.label(3, "ready-to-merge")
        review(fake, "maint", sha=fake.pulls[3].head)

    return run


def gate(fake, **github):
    return merge_gate(client(fake), fake.repo, 3, rules(**github))


def bot_body(fake):
    """The review comment (publish's)."""
    return next(c["body"] for c in fake.pr_comments(3) if c["login"] == BOT and MARKER in c["body"])


def gate_body(fake):
    """The gate's own comment."""
    return next(c["body"] for c in fake.pr_comments(3) if c["login"] == BOT and GATE_MARKER in c["body"])


def test_merge_done_when_everything_is_there(fake, ready):
    ready()
    result = gate(fake)
    assert result.merged and fake.merges == [{"number": 3, "merge_method": "squash", "sha": HEAD}]
    assert not any(GATE_MARKER in c["body"] for c in fake.pr_comments(3))
    assert fake.blob_requests == [""]  # the artifact, re-judged: fetched from storage without the token


@pytest.mark.parametrize(
    "breaks, expected",
    [
        ("no_label", "the `ready-to-merge` label"),
        ("old_review", "a passing `gym-review` status for the current head"),
        ("failing", "a passing `gym-review` status"),
        ("incomplete", "a passing `gym-review` status"),
        ("no_approval", "1 approval(s)"),
        ("approval_old_head", "1 approval(s)"),
        ("approval_by_reader", "1 approval(s)"),
        ("touches_github", "`.github/`"),
        ("touches_config", "`.gym-review.yaml`"),
    ],
)
def test_merge_refused_for_each_reason_and_said_once_per_head(fake, ready, breaks, expected):
    report = {"failing": make_report("GR109"), "incomplete": make_report(complete=False)}.get(breaks)
    ready(report)
    pr = fake.pulls[3]
    if breaks == "no_label":
        fake.unlabel(3, "ready-to-merge")
    elif breaks == "old_review":
        fake.push(3, "e" * 40)
        fake.reviews[3] = []
        review(fake, "maint", sha=pr.head)
    elif breaks.startswith("approval") or breaks == "no_approval":
        fake.reviews[3] = []
        if breaks == "approval_old_head":
            review(fake, "maint", sha="0" * 40)
        elif breaks == "approval_by_reader":
            review(fake, "reader")
    elif breaks == "touches_github":
        fake.set_files(3, ["resources_servers/word_count/app.py", ".github/CODEOWNERS"])
    elif breaks == "touches_config":
        fake.set_files(3, ["resources_servers/word_count/app.py", ".gym-review.yaml"])
    before = bot_body(fake)
    result = gate(fake)
    assert not result.merged and not result.refused and fake.merges == [] and expected in result.line
    assert expected in gate_body(fake) and pr.head[:12] in gate_body(fake)
    assert bot_body(fake) == before  # the gate never writes into the review's comment
    fake.reset_counts()
    gate(fake)  # the same head again: nothing new to say
    assert fake.writes() == []


def test_the_ready_label_belongs_to_the_head_it_was_added_after(fake, ready, reviewed):
    # A label added before the current head arrived does not count, whatever happened since.
    ready()
    fake.push(3, "e" * 40)  # the new-head job did not run (failed, or not deployed)
    reviewed(make_report(head="e" * 40))  # its review run is the head's arrival
    review(fake, "maint", sha="e" * 40)
    result = gate(fake)
    assert not result.merged and "added again" in result.line
    fake.label(3, "ready-to-merge")  # added again, after: counts
    assert gate(fake).merged and fake.merges[-1]["sha"] == "e" * 40


def test_scheduled_merge_goes_over_every_ready_pr(fake, ready, tmp_path):
    import os
    import subprocess
    import sys

    from tests.github_support import TOKEN

    ready()
    fake.add_pr(4, head="4" * 40)  # no ready label: not looked at
    base_checkout(tmp_path / "base")
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}
    env.pop("GITHUB_EVENT_PATH", None)
    cmd = [sys.executable, "-m", "gym_review_bot", "merge", "--repo", fake.repo]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path / "base")
    assert out.returncode == 0 and "PR #3: merged" in out.stdout and "#4" not in out.stdout, out.stderr
    assert [m["number"] for m in fake.merges] == [3]


def test_chatops_ignores_non_commands_and_the_bots_own_comments_and_answers_unknown_ones(fake):
    from gym_review_bot.github.chatops import handle_comment

    settings = GithubSettings()
    plain = fake.add_comment(3, "contrib", "thanks! /gym-review is great")
    own = fake.add_comment(3, BOT, "/gym-review recheck")
    odd = fake.add_comment(3, "contrib", "/gym-review deploy now")
    assert handle_comment(client(fake), fake.repo, 3, plain["id"], settings) == "not a command"
    assert handle_comment(client(fake), fake.repo, 3, own["id"], settings) == "not a command"
    assert "commands are" in handle_comment(client(fake), fake.repo, 3, odd["id"], settings)
    assert fake.reruns == []


def test_override_binds_to_the_fingerprint_named(fake, tmp_path):
    from gym_review_bot.github.chatops import handle_comment

    report = make_report("GR109", "GR108")
    publish(client(fake), fake.repo, 3, write_report(tmp_path / "r.json", report), rules())
    fp = next(f.fingerprint for f in report.servers[0].findings if f.id == "GR109")
    wrong = fake.add_comment(3, "maint", f'/gym-review override GR108:{fp[:12]} "wrong id"')
    assert "nothing overridden" in handle_comment(client(fake), fake.repo, 3, wrong["id"], GithubSettings())
    right = fake.add_comment(3, "maint", f'/gym-review override GR109:{fp[:12]} "checked by hand"')
    assert "recorded" in handle_comment(client(fake), fake.repo, 3, right["id"], GithubSettings())
    publish(client(fake), fake.repo, 3, write_report(tmp_path / "r2.json", report), rules())
    summary = decode(bot_body(fake))
    assert summary.failing == [("GR108", next(f.fingerprint for f in report.servers[0].findings if f.id == "GR108"))]
    # the command comment deleted: the override is gone at the next publish
    fake.comments.remove(right)
    publish(client(fake), fake.repo, 3, write_report(tmp_path / "r3.json", report), rules())
    assert len(decode(bot_body(fake)).failing) == 2


def test_an_override_withdrawn_after_the_publish_stops_the_merge(fake, ready, reviewed):
    # Reproduction: the gate trusted the verdict stored at the last publish, so an override whose
    # command comment was deleted afterwards still let the PR merge until the next publish.
    from gym_review_bot.github.chatops import handle_comment

    report = make_report("GR109")
    ready(report)
    command = fake.add_comment(3, "maint", '/gym-review override GR109 "licence checked by hand"')
    assert "recorded" in handle_comment(client(fake), fake.repo, 3, command["id"], GithubSettings())
    reviewed(report)
    summary = decode(bot_body(fake))
    assert summary.verdict == "pass" and summary.overridden == [failing(report, "GR109").fingerprint]
    fake.comments.remove(command)  # withdrawn after the publish
    result = gate(fake)
    assert not result.merged and fake.merges == [] and "an override it counted no longer stands" in result.line
    # The author losing write access withdraws it too; standing, it merges.
    fake.comments.append(command)
    fake.roles["maint"] = "read"
    result = gate(fake)
    assert not result.merged and "an override it counted no longer stands" in result.line
    fake.roles["maint"] = "maintain"
    assert gate(fake).merged and fake.merges == [{"number": 3, "merge_method": "squash", "sha": HEAD}]


def test_an_override_is_judged_without_changing_the_report():
    from gym_review_bot.judge import judge
    from gym_review_bot.waiver import Waiver

    report = make_report("GR109")
    failing = next(f for f in report.servers[0].findings if f.id == "GR109")
    before = report.to_json()
    override = Waiver("GR109", "legal ok", "override", fingerprint=failing.fingerprint, by="maint")
    judged = judge(report, [override])
    assert (judged.state, judged.label, judged.verdict) == ("success", "passing", "pass")
    assert judged.of(failing).klass == "waived" and judged.of(failing).waiver == override
    assert report.to_json() == before and failing.waived is None  # the judge never changes a finding


def base_checkout(path):
    """The registry's base branch the workflows check out: the commands read its `.gym-review.yaml` with git."""
    from tests.conftest import GitRepo

    GitRepo(path).git("commit", "-q", "--allow-empty", "-m", "base branch without a config")


def test_a_failing_pr_description_blocks_and_labels_needs_evidence():
    from gym_review_bot.judge import judge
    from gym_review_bot.waiver import Waiver

    report = make_report("GR301")
    assert report.verdict == "fail"
    decision = judge(report)
    gr301 = next(f for f in report.pr.findings if f.id == "GR301")
    assert (decision.state, decision.label) == ("failure", "needs_evidence")
    assert decision.failing == [("GR301", gr301.fingerprint)]
    waiver = Waiver("GR301", "described in the linked doc", "override", fingerprint=gr301.fingerprint, by="maint")
    assert judge(report, [waiver]).state == "success"
