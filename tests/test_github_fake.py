"""The fake GitHub behaves like GitHub where the bot depends on it: page sizes, Link headers, /user."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.fake_github import FakeGithub
from tests.github_support import client


def get(url: str):
    with urllib.request.urlopen(url) as response:
        return response.headers, json.loads(response.read())


def test_pages_of_30_by_default_and_100_at_most_with_link_headers():
    with FakeGithub() as fake:
        fake.add_pr(1)
        for i in range(250):
            fake.add_comment(1, "u", f"c{i}")
        headers, page = get(fake.api("/issues/1/comments"))
        assert len(page) == 30 and 'rel="next"' in headers["Link"] and "page=9" in headers["Link"]
        headers, page = get(fake.api("/issues/1/comments?per_page=500&page=3"))
        assert len(page) == 50 and headers.get("Link") is None
        assert headers["X-RateLimit-Remaining"] == "5000"
        assert len(list(client(fake).get_repo(fake.repo).get_pull(1).get_issue_comments())) == 250


def test_get_user_is_refused_as_for_workflow_tokens():
    from github import GithubException

    with FakeGithub() as fake, pytest.raises(GithubException) as info:
        assert client(fake).get_user().login
    assert info.value.status == 403


def test_pr_files_stop_at_3000_in_the_order_given_30_a_page_while_changed_files_counts_all():
    with FakeGithub() as fake:
        names = [f"a/{i:04d}" for i in range(3001)] + [".github/workflows/x.yml"]  # protected last
        fake.add_pr(1, files=names)
        headers, page = get(fake.api("/pulls/1/files"))
        assert len(page) == 30 and page[0]["filename"] == "a/0000" and 'page=100>; rel="last"' in headers["Link"]
        pr = client(fake).get_repo(fake.repo).get_pull(1)
        listed = [f.filename for f in pr.get_files()]
        assert len(listed) == 3000 and ".github/workflows/x.yml" not in listed and pr.changed_files == 3002


def test_a_rename_carries_previous_filename():
    with FakeGithub() as fake:
        fake.add_pr(1, files=[{"filename": "docs/c.yaml", "previous_filename": ".gym-review.yaml"}])
        (entry,) = client(fake).get_repo(fake.repo).get_pull(1).get_files()
        assert (entry.filename, entry.previous_filename, entry.status) == ("docs/c.yaml", ".gym-review.yaml", "renamed")


def test_the_merge_ref_is_a_merge_of_the_head_into_the_base(tmp_path):
    import subprocess

    from tests.conftest import GitRepo

    work = GitRepo(tmp_path / "work")
    work.write({"a.txt": "a\n"})
    work.commit("base")
    work.git("checkout", "-qb", "feature")
    work.write({"b.txt": "b\n"})
    head = work.commit("feature")
    work.git("checkout", "-q", "main")
    work.write({"c.txt": "c\n"})
    main = work.commit("main moves")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(remote)], check=True)
    with FakeGithub() as fake:
        fake.add_pr(4, head=head)
        merge = fake.publish_git_refs(4, remote)
        parents = subprocess.run(
            ["git", "rev-list", "--parents", "-n1", "refs/pull/4/merge"], cwd=remote, capture_output=True, text=True
        ).stdout.split()
        assert parents == [merge, main, head]
        assert client(fake).get_repo(fake.repo).get_pull(4).merge_commit_sha == merge


def test_labels_record_labeled_events_with_created_at_oldest_first():
    with FakeGithub() as fake:
        fake.add_pr(1)
        fake.label(1, "ready-to-merge", by="maint")
        client(fake).get_repo(fake.repo).get_pull(1).add_to_labels("gym-review: passing")
        events = list(client(fake).get_repo(fake.repo).get_pull(1).get_issue_events())
        assert [(e.event, e.label.name, e.actor.login) for e in events] == [
            ("labeled", "ready-to-merge", "maint"),
            ("labeled", "gym-review: passing", "github-actions[bot]"),
        ]
        assert events[0].created_at < events[1].created_at


def test_statuses_keep_target_url_and_creator_newest_first():
    with FakeGithub() as fake:
        repo = client(fake).get_repo(fake.repo)
        commit = repo.get_commit("a" * 40)
        commit.create_status(state="pending", context="gym-review", target_url="https://x.example/runs/1")
        commit.create_status(state="success", context="gym-review", target_url="https://x.example/runs/2")
        statuses = list(repo.get_commit("a" * 40).get_statuses())
        assert [(s.state, s.target_url, s.creator.login) for s in statuses] == [
            ("success", "https://x.example/runs/2", "github-actions[bot]"),
            ("pending", "https://x.example/runs/1", "github-actions[bot]"),
        ]
        assert get(fake.api(f"/commits/{'a' * 40}/statuses"))[1][0]["state"] == "success"


def test_a_forks_run_lists_no_pull_requests_a_same_repo_one_does():
    with FakeGithub() as fake:
        fake.add_pr(1)
        fake.add_pr(2, author="outsider", head="b" * 40, fork=True)
        same, fork = fake.add_run(1, "a" * 40), fake.add_run(2, "b" * 40)
        assert [p["number"] for p in same["pull_requests"]] == [1] and fork["pull_requests"] == []
        assert fork["head_repository"]["full_name"] == "outsider/gym"
        runs = list(client(fake).get_repo(fake.repo).get_workflow_runs(head_sha="b" * 40))
        assert [r.id for r in runs] == [fork["id"]] and runs[0].pull_requests == []


def test_comments_edited_by_a_writer_keep_their_author_and_move_updated_at():
    with FakeGithub() as fake:
        fake.add_pr(1)
        bot = fake.add_comment(1, "github-actions[bot]", "the review")
        fake.edit_comment(bot["id"], "the review, edited by a maintainer")
        (comment,) = client(fake).get_repo(fake.repo).get_pull(1).get_issue_comments()
        assert comment.user.login == "github-actions[bot]" and comment.body.endswith("by a maintainer")
        assert comment.updated_at > comment.created_at
        since = comment.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert len(get(fake.api(f"/issues/1/comments?since={since}"))[1]) == 1


def test_delays_and_a_502_after_the_create():
    import time

    from github import GithubException

    from tests.fake_github import Delay, Fault

    with FakeGithub() as fake:
        fake.add_pr(1)
        fake.delays.append(Delay("GET", r"/pulls/1$", 0.5))
        start = time.monotonic()
        client(fake).get_repo(fake.repo).get_pull(1).state  # noqa: B018 - completes the lazy object
        assert time.monotonic() - start >= 0.5
        fake.faults.append(Fault("POST", r"/issues/1/comments$", 502, after=True))
        from gym_review_bot.github.client import once

        with pytest.raises(GithubException):
            once(client(fake)).get_repo(fake.repo).get_issue(1).create_comment("hello")
        assert [c["body"] for c in fake.pr_comments(1)] == ["hello"]  # created, though answered 502


def test_an_artifact_download_redirects_to_another_host_without_the_token():
    with FakeGithub() as fake:
        fake.add_pr(1)
        run = fake.add_run(1, "a" * 40)
        artifact = fake.add_artifact(run, "gym-review-report", {"report.json": "{}"})
        status, headers, _ = client(fake).requester.requestJson("GET", artifact["archive_download_url"])
        assert status == 302 and headers["location"].startswith(f"http://localhost:{fake.port}/")
        import requests

        assert requests.get(headers["location"], timeout=5).content.startswith(b"PK")
        assert fake.blob_requests == [""]
