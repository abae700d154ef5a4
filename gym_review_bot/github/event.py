"""The event a workflow was started by (`$GITHUB_EVENT_PATH`, written by GitHub, never by the PR), and refusals.

A `workflow_run` event names the review run: its workflow file, the commit it reviewed, and that
commit's repository and branch. For a fork's PR its `pull_requests` list is empty, so the PR a report
speaks of is the open one whose head is that same commit of that same repository and branch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Refused(Exception):
    """publish or merge cannot trust what it was given; the message is the commit status's description."""


def event_json() -> dict | None:
    """The event's JSON; None when run by hand (no event file). Refused when the file cannot be read."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Refused(f"cannot read the event: {type(exc).__name__}") from None
    return event if isinstance(event, dict) else {}


@dataclass
class RunEvent:
    """What the `workflow_run` event says about the review run."""

    path: str | None = None
    head_sha: str | None = None
    run_url: str | None = None
    head_branch: str | None = None
    head_repo: str | None = None  # owner/name of the repository the reviewed commit was pushed to
    pull_requests: list[int] = field(default_factory=list)  # empty for a fork's PR


def read_run_event() -> RunEvent | None:
    """The workflow_run event; None when run by hand (no event file at all)."""
    event = event_json()
    if event is None:
        return None
    run = event.get("workflow_run")
    if not isinstance(run, dict):  # e.g. publish inside the PR's own workflow: its report proves nothing
        raise Refused("publish trusts a report only from a workflow_run event")
    repo = run.get("head_repository") if isinstance(run.get("head_repository"), dict) else {}
    pulls = run.get("pull_requests") if isinstance(run.get("pull_requests"), list) else []
    return RunEvent(
        path=_text(run.get("path")),
        head_sha=_text(run.get("head_sha")),
        run_url=_text(run.get("html_url")),
        head_branch=_text(run.get("head_branch")),
        head_repo=_text(repo.get("full_name")),
        pull_requests=[p["number"] for p in pulls if isinstance(p, dict) and isinstance(p.get("number"), int)],
    )


def check_run_is_for(event: RunEvent, pr: Any) -> None:
    """Refused unless the review run is for this PR: same head commit, repository and branch (and, when the
    event lists its PRs, this one among them)."""
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
    same = (event.head_repo or "").lower() == (head_repo or "").lower() and event.head_branch == pr.head.ref
    if not same or (event.pull_requests and pr.number not in event.pull_requests):
        raise Refused(f"the review run is not for PR #{pr.number}")


def labeled(number: int) -> tuple[str, str | None] | None:
    """(label name, head SHA) of a `labeled` event on PR `number`; None for any other event or none."""
    try:
        event = event_json() or {}
    except Refused:
        return None
    pr = event.get("pull_request")
    if event.get("action") != "labeled" or not isinstance(pr, dict) or pr.get("number") != number:
        return None
    label = event.get("label") if isinstance(event.get("label"), dict) else {}
    head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
    return str(label.get("name") or ""), _text(head.get("sha"))


def own_run_url() -> str | None:
    """This workflow run's page (the commit status's target_url), from the variables Actions sets."""
    repo, run = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
    server = (os.environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return f"{server}/{repo}/actions/runs/{run}" if repo and run else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
