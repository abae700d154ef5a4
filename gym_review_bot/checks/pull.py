"""What a check knows of the pull request itself: the base, the files it adds, its commits, its description."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gym_review_bot import git
from gym_review_bot.config import Policy
from gym_review_bot.sources import SourceTree

if TYPE_CHECKING:
    from gym_review_bot.evidence.body import ParsedBody

PR_SCOPE = "(pull request)"  # the "server" the PR's own findings are fingerprinted under


@dataclass
class PullRequest:
    base: SourceTree  # the merge base
    added_files: frozenset[str]  # repository paths present in the head and absent at the base
    repo: Path | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    _commits: list[git.CommitInfo] | None = field(default=None, repr=False)

    def commits(self) -> list[git.CommitInfo]:
        """The PR's non-merge commits, read once (GitError when the repository cannot tell)."""
        if self._commits is None:
            if self.repo is None or self.base_sha is None or self.head_sha is None:
                raise git.GitError("the commits of this PR are not known (no repository)")
            self._commits = git.commits_between(self.repo, self.base_sha, self.head_sha)
        return self._commits


@dataclass
class PrContext:
    """What a PR-scope check (report.pr) sees: the description, the registry's rules, the PR itself."""

    body: ParsedBody | None  # None: no --pr-body
    policy: Policy
    pull: PullRequest | None = None  # None outside PR mode
