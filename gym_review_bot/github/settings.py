"""The `github:` settings of `.gym-review.yaml`, read from a trusted commit (the base branch), defaults otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gym_review_bot.discover import UsageError


class Labels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes_requested: str = "gym-review: changes requested"
    needs_evidence: str = "gym-review: needs evidence"
    incomplete: str = "gym-review: incomplete"
    passing: str = "gym-review: passing"
    ready: str = "ready-to-merge"

    def review_labels(self) -> list[str]:
        """The four labels the bot keeps in sync (exactly one present); `ready` belongs to maintainers."""
        return [self.changes_requested, self.needs_evidence, self.incomplete, self.passing]


class GithubSettings(BaseModel):
    """How the bot behaves on GitHub; every field has the issue's default."""

    model_config = ConfigDict(extra="forbid")

    bot_login: str = "github-actions[bot]"
    status_context: str = "gym-review"
    labels: Labels = Field(default_factory=Labels)
    reviewers: list[str] = Field(default_factory=list)  # round-robin by PR number, the author skipped
    approvals: int = Field(default=1, ge=0)
    merge_method: Literal["merge", "squash", "rebase"] = "squash"
    workflow: str = ".github/workflows/gym-review.yml"  # the only workflow whose report `publish` trusts
    protected_paths: list[str] = Field(default_factory=lambda: [".github/", ".gym-review.yaml"])
    max_report_mb: float = Field(default=5, gt=0)


def load_settings(repo: Path, ref: str = "HEAD") -> GithubSettings:
    """The `github:` section of `.gym-review.yaml` in commit `ref` of a trusted checkout (the base branch).

    Read from git, never from the working tree (a PR's files there must not decide the bot's settings),
    and validated as the review validates the whole file; a missing file gives the defaults.
    """
    from gym_review_bot import git
    from gym_review_bot.policy import POLICY_FILE, load_policy  # the policy module holds these settings: import late
    from gym_review_bot.sources import GitTree

    if not git.is_repo(repo):
        raise UsageError(f"--config-repo {repo}: not a git checkout; run in the registry's base checkout")
    commit = git.resolve(repo, ref)
    if commit is None:
        raise UsageError(f"--config-ref {ref}: no such commit in {repo}")
    # only the config's own entry: the workflows' sparse checkout is a partial clone, and sizing every blob
    # of the tree would fetch each one
    return load_policy(GitTree(repo, commit, paths=(POLICY_FILE,))).policy.github
