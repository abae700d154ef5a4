"""The `github:` settings: defaults from the issue, read from a trusted .gym-review.yaml, bad values exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gym_review_bot.config import GithubSettings, load_trusted_policy
from gym_review_bot.errors import UsageError


def test_defaults_are_the_issues():
    s = GithubSettings()
    assert s.bot_login == "github-actions[bot]" and s.labels.ready == "ready-to-merge" and s.approvals == 1
    assert s.workflow == ".github/workflows/gym-review.yml" and s.labels.review_labels() == [
        "gym-review: changes requested",
        "gym-review: needs evidence",
        "gym-review: incomplete",
        "gym-review: passing",
    ]


def test_read_with_git_from_the_trusted_commit(repo):
    config = "waivers: []\ngithub:\n  reviewers: [alice]\n  approvals: 2\n  labels:\n    ready: ship-it\n"
    repo.write({".gym-review.yaml": config})
    base = repo.commit("config")
    s = _settings(repo.path)
    assert s.reviewers == ["alice"] and s.approvals == 2 and s.labels.ready == "ship-it"
    assert s.labels.passing == "gym-review: passing"
    # a PR checkout's working tree (or a later commit) does not decide the settings of the commit read
    repo.write({".gym-review.yaml": "github:\n  approvals: 0\n"})
    assert _settings(repo.path).approvals == 2
    repo.commit("PR lowers the bar")
    assert _settings(repo.path, base).approvals == 2
    assert _settings(repo.path).approvals == 0


def test_no_config_file_gives_the_defaults_and_no_checkout_exits_2(repo, tmp_path):
    repo.write({"README.md": "x\n"})
    repo.commit("no config")
    assert _settings(repo.path) == GithubSettings()
    with pytest.raises(UsageError, match="not a git checkout"):
        _settings(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="no such commit"):
        _settings(repo.path, "no-such-branch")


@pytest.mark.parametrize(
    "text",
    [
        "github:\n  approvals: -1\n",
        "github:\n  merge_method: yolo\n",
        "github: [1]\n",
        "github:\n  typo: 1\n",
        "github:\n  labels:\n    typo: x\n",
    ],
)
def test_bad_values_are_refused_naming_the_key(repo, text):
    repo.write({".gym-review.yaml": text})
    repo.commit("bad")
    with pytest.raises(UsageError, match="github"):
        _settings(repo.path)


def test_bad_config_exits_2_with_one_line(repo):
    repo.write({".gym-review.yaml": "github:\n  approvals: many\n"})
    repo.commit("bad")
    cmd = [sys.executable, "-m", "gym_review_bot", "merge", "--repo", "o/n", "--pr", "1"]
    cmd += ["--config-repo", str(repo.path)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={"GITHUB_TOKEN": "x", "PATH": "/usr/bin", **_pythonpath()}
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "github.approvals" in out.stderr


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_publish_takes_its_settings_from_the_committed_config_not_the_working_tree(repo, tmp_path):
    from tests.fake_github import FakeGithub
    from tests.github_support import TOKEN, make_report, write_report

    repo.write({".gym-review.yaml": "github:\n  status_context: registry-review\n  labels:\n    passing: ok-by-bot\n"})
    repo.commit("the registry's config")
    # what a PR checkout would hold in the working tree: never read
    repo.write({".gym-review.yaml": "github:\n  status_context: pr-says-so\n  labels:\n    passing: pr-label\n"})
    report = write_report(tmp_path / "r.json", make_report())
    with FakeGithub() as fake:
        fake.add_pr(7)
        cmd = [sys.executable, "-m", "gym_review_bot", "publish", "--repo", fake.repo, "--pr", "7"]
        cmd += ["--report", str(report), "--config-repo", str(repo.path)]
        env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": fake.url, "PATH": "/usr/bin", **_pythonpath()}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert fake.pulls[7].labels == ["ok-by-bot"]
        assert [s["context"] for s in fake.statuses] == ["registry-review"]


def test_read_from_a_sparse_partial_checkout_like_the_workflows(repo, tmp_path):
    """actions/checkout with sparse-checkout is a blob:none partial clone: only the config's blob is there."""
    import shutil

    repo.write({".gym-review.yaml": "github:\n  approvals: 3\n", "big/data.bin": "x" * 10_000})
    repo.commit("registry")
    repo.git("config", "uploadpack.allowfilter", "true")
    clone = tmp_path / "clone"
    git = ["git", "-c", "protocol.file.allow=always"]
    subprocess.run([*git, "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{repo.path}", str(clone)])
    subprocess.run(["git", "-C", str(clone), "sparse-checkout", "set", "--no-cone", ".gym-review.yaml"], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q"], check=True)
    shutil.rmtree(repo.path)  # no lazy fetch can succeed now: only what the checkout brought is readable
    assert _settings(clone).approvals == 3


def _settings(repo, ref: str = "HEAD") -> GithubSettings:
    return load_trusted_policy(repo, ref).policy.github
