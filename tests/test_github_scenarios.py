"""Issue 18's scenarios, each against the fake GitHub through the real publish, merge, new-head and command.

None may end in a wrongly green status or label, a wrong merge, a write on another PR, or a second
sticky comment. (Scenario 1, the merge commit, is tests/test_github_workflow_steps.py.)
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from gym_review_bot.github.chatops import handle_comment
from gym_review_bot.github.merge import GATE_MARKER, merge_gate, ready_prs
from gym_review_bot.github.newhead import new_head
from gym_review_bot.github.publish import publish
from gym_review_bot.render.summary import decode, encode
from gym_review_bot.render.words import MARKER
from tests.fake_github import BOT, FakeGithub, Fault
from tests.github_support import (
    HEAD,
    REVIEW_WORKFLOW,
    TOKEN,
    approve,
    as_publish_run,
    cli_env,
    client,
    config_checkout,
    failing,
    make_report,
    publish_reviewed,
    review_run,
    rules,
    run_cli,
    write_report,
)

READY = "ready-to-merge"
APP = "resources_servers/word_count/app.py"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with FakeGithub() as server:
        server.add_pr(7, author="contrib")
        server.roles.update({"maint": "maintain", "writer": "write", "reader": "read"})
        yield server


@pytest.fixture
def reviewed(fake, monkeypatch, tmp_path):
    """Review the PR's current head (`failing` checks fail) and publish it as the publish workflow does."""

    def run(*failing_ids, report=None, number=7, **github):
        report = report or make_report(*failing_ids, head=fake.pulls[number].head)
        return publish_reviewed(fake, monkeypatch, tmp_path, number, report, **github)

    return run


def gate(fake, number=7, **github):
    return merge_gate(client(fake), fake.repo, number, rules(**github))


def sticky(fake, number=7):
    found = [c for c in fake.pr_comments(number) if c["login"] == BOT and MARKER in c["body"]]
    assert len(found) <= 1, "a second sticky comment"
    return found[0] if found else None


def green(fake, sha) -> bool:
    statuses = fake.pr_statuses(sha)
    return bool(statuses) and statuses[-1]["state"] == "success"


# --- 2. 3,000 changed files hide a protected path ---------------------------------------------------------
FILLER = [f"resources_servers/word_count/data/part{i:04d}.jsonl" for i in range(3000)]


def test_3000_listed_files_hide_the_workflow_publish_refuses(fake, reviewed):
    fake.set_files(7, [APP, *FILLER[1:], ".github/workflows/gym-review.yml", ".gym-review.yaml"])  # protected last
    line = reviewed()
    assert line.startswith("refused") and "lists 3000 of the PR's 3002 changed files" in line
    assert fake.pr_statuses(HEAD)[-1]["state"] == "error" and not green(fake, HEAD)
    assert fake.pulls[7].labels == [] and sticky(fake) is None


def test_3000_listed_files_the_gate_refuses(fake, reviewed):
    fake.set_files(7, [APP, *FILLER[1:]])  # exactly 3000: complete, publish passes
    assert "published (success" in reviewed()
    fake.label(7, READY)
    approve(fake, 7)
    fake.set_files(7, [APP, *FILLER[1:], ".gym-review.yaml"])  # GitHub now lists 3000 of 3001
    result = gate(fake)
    assert not result.merged and fake.merges == []
    assert "`.github/` and `.gym-review.yaml` alone (GitHub lists 3000 of the PR's 3001" in result.line


# --- 3. renames count under both names ----------------------------------------------------------------------
def test_a_workflow_renamed_away_is_refused_by_publish(fake, reviewed):
    fake.set_files(7, [APP, {"filename": "docs/ci.yml", "previous_filename": ".github/workflows/gym-review.yml"}])
    assert "changed by this PR" in reviewed() and not green(fake, HEAD)


def test_the_config_renamed_away_stops_the_gate(fake, reviewed):
    assert "published (success" in reviewed()
    fake.label(7, READY)
    approve(fake, 7)
    fake.set_files(7, [APP, {"filename": "docs/old-config.yaml", "previous_filename": ".gym-review.yaml"}])
    result = gate(fake)
    assert not result.merged and "`.gym-review.yaml` alone" in result.line and fake.merges == []


# --- 4. the ready label belongs to a head -------------------------------------------------------------------
@pytest.mark.parametrize("new_head_job_ran", [True, False])
def test_a_label_added_before_a_push_does_not_merge_the_new_head(fake, reviewed, new_head_job_ran):
    fake.label(7, READY)  # before the first review
    fake.push(7, "e" * 40)
    if new_head_job_ran:
        new_head(client(fake), fake.repo, 7, rules().policy.github)
    assert "published (success" in reviewed()
    approve(fake, 7)
    for number in ready_prs(client(fake), fake.repo, rules().policy.github):  # the scheduled run
        gate(fake, number)
    assert fake.merges == []


def test_approvals_zero_a_failed_gate_run_then_a_push_does_not_merge(fake, reviewed):
    from gym_review_bot.github.client import GithubError

    assert "published (success" in reviewed(approvals=0)
    fake.label(7, READY)
    fake.faults += [Fault("GET", r"/pulls/7$", 502) for _ in range(6)]
    with pytest.raises(GithubError):
        gate(fake, approvals=0)  # the labeled run fails on 5xx
    fake.faults.clear()
    fake.push(7, "e" * 40)  # and the new-head job did not run either
    assert "published (success" in reviewed(approvals=0)
    result = gate(fake, approvals=0)
    assert not result.merged and "added again" in result.line and fake.merges == []


def test_the_registrys_own_ready_label_name_needs_no_workflow_edit(fake, reviewed, tmp_path):
    config = "github:\n  labels:\n    ready: ship-it\n"
    base = config_checkout(tmp_path / "base", config)
    custom = rules(labels={"ready": "ship-it"})
    assert "published (success" in reviewed(report=make_report(), **{"labels": {"ready": "ship-it"}})
    assert custom.policy.github.labels.ready == "ship-it"
    fake.label(7, "ship-it")
    approve(fake, 7)
    env = cli_env(fake, GITHUB_SERVER_URL=fake.url, GITHUB_REPOSITORY=fake.repo)
    for label, merged in (("ready-to-merge", False), ("ship-it", True)):
        event = {"action": "labeled", "label": {"name": label}, "pull_request": {"number": 7, "head": {"sha": HEAD}}}
        (tmp_path / "event.json").write_text(json.dumps(event))
        out = run_cli(
            ["merge", "--repo", fake.repo, "--pr", "7"],
            {**env, "GITHUB_EVENT_PATH": str(tmp_path / "event.json")},
            base,
        )
        assert out.returncode == 0, out.stderr
        assert ("merged" in out.stdout) is merged and bool(fake.merges) is merged, out.stdout


# --- 5. a passing label never stays on an unreviewed head ---------------------------------------------------
def test_new_commits_take_the_labels_off_and_set_pending_at_once(fake, reviewed, tmp_path):
    import subprocess
    import sys

    assert "published (success" in reviewed()
    fake.label(7, READY)
    fake.push(7, "e" * 40)
    base = config_checkout(tmp_path / "base")
    event = {"action": "synchronize", "number": 7, "pull_request": {"number": 7, "head": {"sha": "e" * 40}}}
    (tmp_path / "sync.json").write_text(json.dumps(event))
    env = cli_env(fake, GITHUB_EVENT_PATH=str(tmp_path / "sync.json"), GITHUB_WORKSPACE=str(base))
    env.update({"INPUT_MODE": "new-head", "INPUT_GITHUB-TOKEN": TOKEN, "GITHUB_REPOSITORY": fake.repo})
    env.pop("GITHUB_TOKEN")
    out = subprocess.run(
        [sys.executable, "-m", "gym_review_bot.github.action"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert fake.pulls[7].labels == []  # passing and ready both off
    assert fake.pr_statuses("e" * 40)[-1]["state"] == "pending" and green(fake, HEAD)  # the old head keeps its own


# --- 6. no lost update: the gate never writes the review's comment ----------------------------------------
def test_a_failing_re_review_is_never_overwritten_by_the_gate(fake, reviewed):
    assert "published (success" in reviewed()
    fake.label(7, READY)
    assert not gate(fake).merged  # no approval yet: the gate says so in its own comment
    assert "failure" not in sticky(fake)["body"] and decode(sticky(fake)["body"]).state == "success"
    assert "published (failure" in reviewed("GR109")  # the same head, reviewed again: fails
    approve(fake, 7)
    result = gate(fake)
    assert not result.merged and fake.merges == []
    assert decode(sticky(fake)["body"]).state == "failure"  # still the re-review's word
    assert sum(GATE_MARKER in c["body"] for c in fake.pr_comments(7)) == 1


def test_a_status_that_turns_while_the_gate_checks_stops_the_merge(fake, reviewed):
    from tests.fake_github import Delay

    assert "published (success" in reviewed()
    fake.label(7, READY)
    approve(fake, 7)
    fake.delays.append(Delay("GET", r"/pulls/7/reviews$", 1.5))  # the gate's last read before merging
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("gate", gate(fake)))
    worker.start()
    deadline = time.monotonic() + 10
    while ("GET", f"/repos/{fake.repo}/pulls/7/reviews") not in fake.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    fake.add_status(HEAD, "failure", description="changes needed")  # a re-review lands meanwhile
    worker.join()
    assert not result["gate"].merged and fake.merges == [] and "changed while the gate checked" in result["gate"].line


# --- 7. the gate trusts only what it can verify ---------------------------------------------------------------
def test_a_writer_appending_a_passing_summary_merges_nothing(fake, reviewed):
    assert "published (failure" in reviewed("GR109")
    body = sticky(fake)["body"]
    forged = decode(body).model_copy(update={"verdict": "pass", "state": "success", "failing": []})
    fake.edit_comment(sticky(fake)["id"], body + "\n" + encode(forged) + "\n")  # writers may edit any comment
    fake.label(7, READY)
    approve(fake, 7, "writer")
    result = gate(fake)
    assert not result.merged and fake.merges == [] and "a passing `gym-review` status" in result.line


def test_a_summary_that_disagrees_with_the_report_blocks_with_a_note(fake, reviewed):
    assert "published (success" in reviewed()
    body = sticky(fake)["body"]
    edited = decode(body).model_copy(update={"head": "9" * 40})
    fake.edit_comment(sticky(fake)["id"], body.replace(encode(decode(body)), encode(edited)))
    fake.label(7, READY)
    approve(fake, 7)
    result = gate(fake)
    assert not result.merged and "agree with the review's own report" in result.line and fake.merges == []


def test_a_status_not_set_by_the_publish_workflow_is_not_believed(fake, reviewed):
    assert "published (failure" in reviewed("GR109")
    pr_run = fake.add_run(7, HEAD)  # a run of the PR's own workflow writes a success status, linking itself
    fake.add_status(HEAD, "success", target_url=pr_run["html_url"], description="passing")
    fake.label(7, READY)
    approve(fake, 7)
    result = gate(fake)
    assert not result.merged and "set by the publish workflow" in result.line and fake.merges == []


def test_a_forged_artifact_fails_closed_with_error_and_exit_3(fake, reviewed, tmp_path):
    assert "published (success" in reviewed()
    fake.label(7, READY)
    approve(fake, 7)
    forged = make_report("GR109")
    data = json.loads(forged.to_json())
    data["verdict"], data["summary"]["errors"] = "pass", 0  # claims a pass while GR109 fails inside
    review_run(fake, 7, raw=json.dumps(data))  # a newer review run of the same head carries it
    base = config_checkout(tmp_path / "base")
    env = cli_env(fake, GITHUB_SERVER_URL=fake.url, GITHUB_REPOSITORY=fake.repo, GITHUB_RUN_ID="5")
    out = run_cli(["merge", "--repo", fake.repo, "--pr", "7"], env, base)
    assert out.returncode == 3 and len(out.stderr.strip().splitlines()) == 1 and "refused" in out.stderr
    assert fake.merges == [] and fake.pr_statuses(HEAD)[-1]["state"] == "error"
    assert "disagrees with its findings" in fake.pr_statuses(HEAD)[-1]["description"]


# --- 8. one PR's run never writes on another PR -----------------------------------------------------------
@pytest.mark.parametrize("path", [".github/workflows/evil.yml", REVIEW_WORKFLOW])
def test_an_attackers_run_naming_a_victim_writes_only_on_its_own_head(fake, monkeypatch, tmp_path, path):
    attacker = "a7" * 20
    fake.add_pr(9, author="mallory", head=attacker, fork=True, head_ref="main")
    run = fake.add_run(9, attacker, path)  # its artifact names PR 7
    as_publish_run(fake, monkeypatch, tmp_path, run)
    line = publish(client(fake), fake.repo, 7, write_report(tmp_path / "r.json", make_report(head=attacker)), rules())
    assert line.startswith("refused")
    assert fake.pr_statuses(HEAD) == [] and sticky(fake) is None and fake.pulls[7].labels == []
    assert [s["state"] for s in fake.pr_statuses(attacker)] == ["error"]


def test_a_fork_pr_is_found_by_its_head_without_pull_requests(fake, monkeypatch, tmp_path):
    fake.add_pr(9, author="outsider", head="f0" * 20, fork=True, head_ref="main")
    report = make_report(head="f0" * 20)
    assert "published (success" in publish_reviewed(fake, monkeypatch, tmp_path, 9, report)
    assert fake.runs[-2]["pull_requests"] == []  # GitHub lists no PR for a fork's run
    assert green(fake, "f0" * 20) and fake.pr_statuses(HEAD) == []


# --- 9. one sticky comment --------------------------------------------------------------------------------
def test_a_502_after_the_comment_was_created_leaves_one_comment(fake, reviewed):
    fake.faults.append(Fault("POST", r"/issues/7/comments$", 502, after=True))
    assert "published (success" in reviewed()
    assert sticky(fake) is not None
    assert sum(1 for r in fake.requests if r == ("POST", f"/repos/{fake.repo}/issues/7/comments")) == 1


def test_two_racing_publishes_leave_one_comment_that_later_publishes_edit(fake, monkeypatch, tmp_path):
    from tests.fake_github import Delay

    report = make_report()
    run = review_run(fake, 7, report)
    as_publish_run(fake, monkeypatch, tmp_path, run)
    path = write_report(tmp_path / "r.json", report)
    fake.delays.append(Delay("GET", r"/issues/7/comments$", 0.5, count=2))  # both list before either writes
    lines = []
    workers = [
        threading.Thread(target=lambda: lines.append(publish(client(fake), fake.repo, 7, path, rules())))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all("published" in line for line in lines), lines
    posts = [r for r in fake.requests if r == ("POST", f"/repos/{fake.repo}/issues/7/comments")]
    assert len(posts) == 2 and any(r[0] == "DELETE" for r in fake.requests)  # they raced; the newer one went
    kept = sticky(fake)
    assert kept is not None
    later = make_report("GR109")
    publish(client(fake), fake.repo, 7, write_report(tmp_path / "r2.json", later), rules())
    assert sticky(fake)["id"] == kept["id"] and decode(sticky(fake)["body"]).state == "failure"


def test_a_second_marked_bot_comment_is_deleted_keeping_the_oldest(fake, reviewed):
    assert "published (success" in reviewed()
    oldest = sticky(fake)
    fake.comments.append({**oldest, "id": oldest["id"] + 500})  # a leftover of an old race
    assert "published (failure" in reviewed("GR109")
    assert sticky(fake)["id"] == oldest["id"] and decode(sticky(fake)["body"]).state == "failure"


# --- 10. recheck re-runs this PR's run only ---------------------------------------------------------------
def test_recheck_reruns_the_run_of_this_pr_not_anothers_with_the_same_head(fake):
    fake.add_pr(8, author="other", head=HEAD, fork=True, head_ref="copy")  # the same commit, another PR
    mine = fake.add_run(7, HEAD)
    fake.add_run(8, HEAD)  # newer, and first in GitHub's list
    command = fake.add_comment(7, "contrib", "/gym-review recheck")
    assert (
        handle_comment(client(fake), fake.repo, 7, command["id"], rules().policy.github)
        == f"re-running run {mine['id']}"
    )
    assert fake.reruns == [mine["id"]]


# --- 11. chat-ops -------------------------------------------------------------------------------------------
def test_a_bare_command_line_with_a_fenced_override_is_not_executed(fake, reviewed):
    assert "published (failure" in reviewed("GR109")
    body = '/gym-review\n```\n/gym-review override GR109 "hidden in a fence"\n```\n> /gym-review recheck'
    comment = fake.add_comment(7, "maint", body)
    reply = handle_comment(client(fake), fake.repo, 7, comment["id"], rules().policy.github)
    assert "commands are" in reply and fake.reruns == []
    assert not any("gym-review-bot:override" in c["body"] for c in fake.pr_comments(7))


def test_an_override_whose_reason_is_edited_is_withdrawn(fake, reviewed):
    assert "published (failure" in reviewed("GR109")
    fake.add_run(7, HEAD)
    command = fake.add_comment(7, "maint", '/gym-review override GR109 "licence checked by hand"')
    assert "recorded" in handle_comment(client(fake), fake.repo, 7, command["id"], rules().policy.github)
    assert "published (success" in reviewed("GR109")
    assert "licence checked by hand" in sticky(fake)["body"]
    fake.edit_comment(command["id"], '/gym-review override GR109 "whatever I like now"')
    assert "published (failure" in reviewed("GR109")
    assert "whatever I like now" not in sticky(fake)["body"] and fake.pr_statuses(HEAD)[-1]["state"] == "failure"


# --- 12. budgets and errors -------------------------------------------------------------------------------
def test_a_no_op_publish_with_a_standing_override_reads_four_times_plus_one_per_author(fake, tmp_path):
    for i in range(150):  # the bot's comment lands on page 2
        fake.add_comment(7, f"user{i % 5}", f"comment {i}")
    report = make_report("GR109")
    publish(client(fake), fake.repo, 7, write_report(tmp_path / "r.json", report), rules())
    fake.add_run(7, HEAD)
    command = fake.add_comment(7, "maint", '/gym-review override GR109 "upstream data"')
    handle_comment(client(fake), fake.repo, 7, command["id"], rules().policy.github)
    publish(client(fake), fake.repo, 7, write_report(tmp_path / "r.json", report), rules())
    assert fake.pr_statuses(HEAD)[-1]["state"] == "success"
    fake.reset_counts()
    line = publish(client(fake), fake.repo, 7, write_report(tmp_path / "r.json", report), rules())
    assert "nothing changed" in line and fake.writes() == []
    assert len(fake.requests) <= 4 + 1, fake.requests


@pytest.mark.parametrize(
    "fault",
    [
        Fault(
            "GET",
            r"/pulls/7$",
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1900000000"},
            {"message": "API rate limit exceeded"},
        ),
        Fault("GET", r"/pulls/7$", 502),
    ],
)
def test_every_failure_is_one_line_on_stderr(fake, tmp_path, fault):
    base = config_checkout(tmp_path / "base")
    fake.faults += [Fault(**{**fault.__dict__}) for _ in range(8)]
    path = write_report(tmp_path / "r.json", make_report())
    out = run_cli(["publish", "--repo", fake.repo, "--pr", "7", "--report", str(path)], cli_env(fake), base)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
    assert TOKEN not in out.stderr + out.stdout


def test_a_refused_report_is_one_line_on_stderr_and_exit_3(fake, tmp_path):
    base = config_checkout(tmp_path / "base")
    report = make_report()
    failing(report, "GR109").status = "fail"  # the stored verdict now lies
    path = write_report(tmp_path / "r.json", report)
    out = run_cli(["publish", "--repo", fake.repo, "--pr", "7", "--report", str(path)], cli_env(fake), base)
    assert out.returncode == 3 and len(out.stderr.splitlines()) == 1 and out.stdout == "", out.stderr
    assert fake.pr_statuses(HEAD)[-1]["state"] == "error"


def test_a_secondary_rate_limit_on_the_comment_waits_and_creates_it_once(fake, reviewed):
    headers = {"Retry-After": "1"}
    fake.faults.append(Fault("POST", r"/issues/7/comments$", 403, headers, {"message": "secondary rate limit"}))
    assert "published (success" in reviewed()
    assert sticky(fake) is not None
    assert sum(1 for r in fake.requests if r == ("POST", f"/repos/{fake.repo}/issues/7/comments")) == 2


def test_a_502_before_the_create_is_looked_for_then_sent_again(fake, reviewed):
    fake.faults.append(Fault("POST", r"/issues/7/comments$", 502))  # refused before anything was created
    assert "published (success" in reviewed()
    posts = [i for i, r in enumerate(fake.requests) if r == ("POST", f"/repos/{fake.repo}/issues/7/comments")]
    assert len(posts) == 2 and fake.requests[posts[0] + 1] == ("GET", f"/repos/{fake.repo}/issues/7/comments")
    assert sticky(fake) is not None
