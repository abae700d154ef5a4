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
