"""`gym-review triage`: open PRs touching resources_servers/ with their review state, for maintainers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.comment import find_bot_comment
from gym_review_bot.render.safety import md_inert as md_text
from gym_review_bot.render.summary import decode

COLUMNS = ["PR", "Verdict", "Outdated", "Commits since", "Days since review", "Age (days)", "Labels", "Reviewer"]


@dataclass
class TriageRow:
    number: int
    verdict: str  # pass | fail | error | none (no review yet)
    outdated: bool
    commits_since: int | None
    days_since_review: int | None
    age_days: int
    labels: list[str]
    reviewers: list[str]

    def cells(self) -> list[str]:
        def maybe(value: int | None) -> str:
            return "–" if value is None else str(value)

        return [
            f"#{self.number}",
            self.verdict,
            "yes" if self.outdated else "no",
            maybe(self.commits_since),
            maybe(self.days_since_review),
            str(self.age_days),
            ", ".join(self.labels),
            ", ".join(self.reviewers),
        ]


def _days(since: datetime | None, now: datetime) -> int | None:
    if since is None:
        return None
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return max(0, (now - since).days)


def triage_rows(gh: Any, repo_name: str, settings: GithubSettings, now: datetime | None = None) -> list[TriageRow]:
    now = now or datetime.now(UTC)
    repo = gh.get_repo(repo_name)
    rows = []
    with github_errors(repo_name):
        for pr in repo.get_pulls(state="open", sort="created", direction="asc"):
            if not any(f.filename.startswith("resources_servers/") for f in pr.get_files()):
                continue
            comment = find_bot_comment(list(pr.get_issue_comments()), settings.bot_login)
            summary = decode(comment.body) if comment is not None else None
            head = pr.head.sha
            outdated = summary is not None and summary.head != head
            commits_since = 0 if summary and not outdated else None
            if outdated and summary.head:
                commits_since = repo.compare(summary.head, head).ahead_by
            rows.append(
                TriageRow(
                    number=pr.number,
                    verdict=summary.verdict if summary else "none",
                    outdated=outdated,
                    commits_since=commits_since,
                    days_since_review=_days(comment.updated_at, now) if comment is not None else None,
                    age_days=_days(pr.created_at, now) or 0,
                    labels=[label.name for label in pr.labels],
                    reviewers=[u.login for u in pr.requested_reviewers],
                )
            )
    return rows


def print_table(rows: list[TriageRow]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="gym-review triage: open PRs touching resources_servers/")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row.cells()))
    Console().print(table)


def markdown_table(rows: list[TriageRow]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(md_text(cell) for cell in row.cells()) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(rows: list[TriageRow], path: Path) -> None:
    path.write_text(markdown_table(rows), encoding="utf-8")
