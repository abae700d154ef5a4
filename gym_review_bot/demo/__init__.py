"""A throwaway git repository with a demo PR, so `gym-review demo` shows everything with nothing set up."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from gym_review_bot import git

# Package data cannot carry symlinks, so the demo's escaping link is made here.
ESCAPING_LINKS = {"resources_servers/word_count/data/train.jsonl": "../../../../../etc/passwd"}


def _copy_fixture(name: str, dest: Path) -> None:
    source = resources.files("gym_review_bot.demo") / "fixtures" / name
    with resources.as_file(source) as path:
        shutil.copytree(path, dest, dirs_exist_ok=True)


@contextmanager
def demo_repository() -> Iterator[tuple[Path, str]]:
    """A repo whose HEAD is a PR (adding trivia_match and word_count) on top of base commit `main`."""
    tmp = Path(tempfile.mkdtemp(prefix="gym-review-demo-"))
    try:
        git.init_repo(tmp)
        _copy_fixture("base", tmp)
        base = git.commit_all(tmp, "Base: a miniature NeMo Gym checkout")
        _copy_fixture("pr", tmp)
        for link, target in ESCAPING_LINKS.items():
            os.symlink(target, tmp / link)
        git.commit_all(tmp, "Add trivia_match and word_count resource servers")
        yield tmp, base
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
