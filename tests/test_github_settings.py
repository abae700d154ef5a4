"""The `github:` settings: defaults from the issue, read from a trusted .gym-review.yaml, bad values exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gym_review_bot.discover import UsageError
from gym_review_bot.github.settings import GithubSettings, load_settings


def test_defaults_are_the_issues():
    s = GithubSettings()
    assert s.bot_login == "github-actions[bot]" and s.labels.ready == "ready-to-merge" and s.approvals == 1
    assert s.workflow == ".github/workflows/gym-review.yml" and s.labels.review_labels() == [
        "gym-review: changes requested",
        "gym-review: needs evidence",
        "gym-review: incomplete",
        "gym-review: passing",
    ]


def test_read_from_the_config_file(tmp_path):
    path = tmp_path / ".gym-review.yaml"
    path.write_text("waivers: []\ngithub:\n  reviewers: [alice]\n  approvals: 2\n  labels:\n    ready: ship-it\n")
    s = load_settings(path)
    assert s.reviewers == ["alice"] and s.approvals == 2 and s.labels.ready == "ship-it"
    assert s.labels.passing == "gym-review: passing"
    (tmp_path / "empty.yaml").write_text("")
    assert load_settings(tmp_path / "empty.yaml") == GithubSettings()


@pytest.mark.parametrize(
    "text", ["github:\n  approvals: -1\n", "github:\n  merge_method: yolo\n", "github: [1]\n", "github:\n  typo: 1\n"]
)
def test_bad_values_are_refused_naming_the_key(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match="github"):
        load_settings(path)


def test_bad_config_exits_2_with_one_line(tmp_path):
    (tmp_path / "c.yaml").write_text("github:\n  approvals: many\n")
    cmd = [
        sys.executable,
        "-m",
        "gym_review_bot",
        "merge",
        "--repo",
        "o/n",
        "--pr",
        "1",
        "--config",
        str(tmp_path / "c.yaml"),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={"GITHUB_TOKEN": "x", "PATH": "/usr/bin", **_pythonpath()}
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "github.approvals" in out.stderr


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
