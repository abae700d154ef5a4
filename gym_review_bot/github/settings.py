"""The `github:` settings of `.gym-review.yaml`, read from the trusted base checkout (defaults otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gym_review_bot.discover import UsageError
from gym_review_bot.safeload import load_yaml


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


def load_settings(path: Path | None) -> GithubSettings:
    """The `github:` mapping of a trusted `.gym-review.yaml` (base checkout), or defaults when there is none."""
    if path is None:
        path = Path(".gym-review.yaml")
        if not path.is_file():
            return GithubSettings()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--config: cannot read {path}: {exc.strerror}") from exc
    data = load_yaml(text) or {}
    section = data.get("github") if isinstance(data, dict) else None
    try:
        return GithubSettings.model_validate(section or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f".{p}" for p in first["loc"])
        raise UsageError(f"--config {path}: github{where}: {first['msg']}") from None
