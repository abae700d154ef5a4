"""Shared fixtures: real git repositories and server trees built in temp dirs from the demo fixtures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import gym_review_bot
from gym_review_bot.discover import discover_local
from gym_review_bot.models import Finding, Report
from gym_review_bot.review import ReviewOptions, review

FIXTURES = Path(gym_review_bot.__file__).parent / "demo" / "fixtures"
BASE_FIXTURE = FIXTURES / "base"
GOOD_SERVER = FIXTURES / "pr" / "resources_servers" / "trivia_match"


def good_server_files(name: str = "trivia_match") -> dict[str, str]:
    """The demo's passing server, renamed: {path relative to the server dir: text}."""
    files = {}
    for path in sorted(GOOD_SERVER.rglob("*")):
        if path.is_file():
            rel = path.relative_to(GOOD_SERVER).as_posix().replace("trivia_match", name)
            files[rel] = path.read_text().replace("trivia_match", name)
    return files


def write_tree(root: Path, files: dict[str, str | bytes | None]) -> None:
    """Write files (text or bytes) under root; None deletes a file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            if path.is_symlink() or path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


# Every registry rule of NeMo Gym's CONTRIBUTING turned on (GR115-GR121), as `.gym-review.yaml` text.
ALL_RULES = r"""
rules:
  copyright_header:
    enabled: true
    files: ["*.py", "*.sh"]
    headers:
      - - '^# SPDX-FileCopyrightText: Copyright \(c\) \d{4} NVIDIA CORPORATION'
        - '^# SPDX-License-Identifier: Apache-2\.0$'
      - ['^# Copyright \(c\) \d{4}, NVIDIA CORPORATION']
  example_metrics: {enabled: true}
  conflict_artifacts: {enabled: true}
  verified_flag: {enabled: true}
  dco: {enabled: true}
  committed_datasets: {enabled: true}
"""


class GitRepo:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", *args],
            cwd=self.path,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        write_tree(self.path, files)

    def server(self, name: str, files: dict[str, str | bytes | None]) -> None:
        self.write({f"resources_servers/{name}/{rel}": text for rel, text in files.items()})

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A git repo holding a miniature NeMo Gym checkout as its first commit, on branch main."""
    r = GitRepo(tmp_path / "repo")
    shutil.copytree(BASE_FIXTURE, r.path, dirs_exist_ok=True)
    r.commit("base")
    return r


def check_local(root: Path, name: str, max_file_mb: float = 50) -> dict[str, Finding]:
    """Review one server of a plain directory; findings by check id."""
    report = review(discover_local(root, [name]), ReviewOptions(max_file_mb=max_file_mb)).report
    return {f.id: f for f in report.servers[0].findings}


@pytest.fixture
def server_tree(tmp_path: Path):
    """Build a checkout with one server (the good one, with overrides) and return its findings."""

    def build(
        overrides: dict[str, str | bytes | None] | None = None,
        name: str = "srv",
        checkout_files: dict[str, str | bytes | None] | None = None,
        **kw,
    ) -> dict[str, Finding]:
        root = tmp_path / "checkout"
        shutil.copytree(BASE_FIXTURE, root, dirs_exist_ok=True)
        write_tree(root, checkout_files or {})
        files: dict[str, str | bytes | None] = {**good_server_files(name), **(overrides or {})}
        write_tree(root / "resources_servers" / name, files)
        return check_local(root, name, **kw)

    return build


def finalized(report: Report) -> Report:
    """A hand-made report as a review writes it: judged (with the config waivers it records) and sealed."""
    from gym_review_bot.judge import judge, recorded_waivers, sealed

    return sealed(report, judge(report, recorded_waivers(report)))[0]
