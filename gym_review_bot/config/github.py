"""`.gym-review.yaml` `github:`: how the bot behaves on GitHub (read from a trusted commit of the base branch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from gym_review_bot.config.strict import Rule, Strict


@dataclass(frozen=True, kw_only=True)
class Labels(Strict):
    """The labels the bot keeps on a PR, by their role."""

    changes_requested: str = "gym-review: changes requested"
    needs_evidence: str = "gym-review: needs evidence"
    incomplete: str = "gym-review: incomplete"
    passing: str = "gym-review: passing"
    ready: str = "ready-to-merge"

    def review_labels(self) -> list[str]:
        """The four labels the bot keeps in sync (exactly one present); `ready` belongs to maintainers."""
        return [self.changes_requested, self.needs_evidence, self.incomplete, self.passing]


@dataclass(frozen=True, kw_only=True)
class GithubSettings(Strict):
    """How the bot behaves on GitHub; every field has a default."""

    bot_login: str = "github-actions[bot]"
    status_context: str = "gym-review"
    labels: Labels = field(default_factory=Labels)
    reviewers: list[str] = field(default_factory=list)  # round-robin by PR number, the author skipped
    approvals: Annotated[int, Rule(ge=0)] = 1
    merge_method: Literal["merge", "squash", "rebase"] = "squash"
    workflow: str = ".github/workflows/gym-review.yml"  # the only workflow whose report `publish` trusts
    # the workflow whose runs (on the default branch) set the status the merge gate believes
    publish_workflow: str = ".github/workflows/gym-review-publish.yml"
    protected_paths: list[str] = field(default_factory=lambda: [".github/", ".gym-review.yaml"])
    max_report_mb: Annotated[float, Rule(gt=0)] = 5
    # a PR changing nemo_gym/ or a shared library: how many of the servers importing it `plan` adds to the matrix
    audit_sample: Annotated[int, Rule(ge=0, le=256)] = 8
