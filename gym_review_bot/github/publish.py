"""`gym-review publish`: trust the report only if it comes from the expected workflow for the PR's current head,
then set the status, sync the label, request a reviewer once, and write the one comment (only when it changed)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import GithubSettings
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.commands import MAINTAIN_ROLES, Permissions, override_waivers
from gym_review_bot.github.comment import find_bot_comment, previous_summary
from gym_review_bot.judge import Judgement, judge
from gym_review_bot.models import Report
from gym_review_bot.render.sticky import Extras, compose
from gym_review_bot.render.summary import CommentSummary
from gym_review_bot.schema import report_schema_text
from gym_review_bot.trust import Untrusted, verify_report
from gym_review_bot.waiver import Waiver

VERIFIED_ID = "GR118"  # a PR setting `verified: true`: passing when its author may maintain the repository

WORKFLOW_CHANGED = "the review workflow was changed by this PR"
OUTDATED = "the review is outdated"


class ReportRefused(Exception):
    """The report cannot be trusted; the message is the status description."""


@dataclass
class RunEvent:
    """What the `workflow_run` event (written by GitHub, not the PR) says about the review run."""

    path: str | None = None
    head_sha: str | None = None
    run_url: str | None = None


def read_event(settings: GithubSettings) -> RunEvent | None:
    """The workflow_run event from `$GITHUB_EVENT_PATH`; None when run by hand (no event file at all)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportRefused(f"cannot read the event: {type(exc).__name__}") from None
    run = event.get("workflow_run") if isinstance(event, dict) else None
    if not isinstance(run, dict):  # e.g. publish inside the PR's own workflow: its report proves nothing
        raise ReportRefused("publish trusts a report only from a workflow_run event")
    return RunEvent(run.get("path"), run.get("head_sha"), run.get("html_url"))


def load_report(path: Path, settings: GithubSettings) -> Report:
    """The report, refused when too big or not valid against schema 1."""
    try:
        size = path.stat().st_size
        if size > settings.max_report_mb * 1024 * 1024:
            raise ReportRefused(f"the report is too big ({size} bytes)")
        data = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(json.loads(report_schema_text())).validate(data)
        return Report.model_validate(data)
    except (OSError, ValueError, jsonschema.ValidationError, ValidationError, RecursionError) as exc:
        raise ReportRefused(f"the report is not a valid schema-1 report ({type(exc).__name__})") from None


def check_trust(report: Report, event: RunEvent | None, head: str, files: list[str], settings: GithubSettings) -> None:
    if event is not None and event.path != settings.workflow:
        raise ReportRefused(WORKFLOW_CHANGED)
    if any(name.startswith(".github/workflows/") for name in files):
        raise ReportRefused(WORKFLOW_CHANGED)
    if event is not None and event.head_sha != head:
        raise ReportRefused(OUTDATED)
    if report.head_sha != head:
        raise ReportRefused(OUTDATED)


def publish(gh: Any, repo_name: str, number: int, report_path: Path, catalogue: Catalogue) -> str:
    """Publish one report on one PR under the trusted rules (`catalogue.policy`); returns a line for the log."""
    settings = catalogue.policy.github
    repo = gh.get_repo(repo_name)
    event = None
    try:
        event = read_event(settings)
        report = load_report(report_path, settings)
    except ReportRefused as exc:
        return _refuse(repo, event.head_sha if event else None, exc, settings, gh, number)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        if pr.state != "open":
            return f"PR #{number} is {pr.state}: nothing to publish"
        head = pr.head.sha
        files = [f.filename for f in pr.get_files()]
    try:
        check_trust(report, event, head, files, settings)
        judged = verify_report(report, catalogue, files)  # re-judged under the trusted rules, never taken as is
    except (ReportRefused, Untrusted) as exc:
        status_sha = event.head_sha if event and str(exc) == OUTDATED else head
        return _refuse(repo, status_sha, exc, settings, gh, number)
    with github_errors(f"PR #{number}"):
        return _publish_trusted(repo, repo_name, pr, report, judged, catalogue, event)


def _refuse(repo: Any, sha: str | None, exc: Exception, settings: GithubSettings, gh: Any, number: int) -> str:
    if sha is None:
        with github_errors(f"PR #{number}"):
            sha = repo.get_pull(number).head.sha
    with github_errors("commit status"):
        repo.get_commit(sha).create_status(state="error", description=str(exc)[:140], context=settings.status_context)
    return f"refused: {exc}"


def _publish_trusted(
    repo: Any,
    repo_name: str,
    pr: Any,
    report: Report,
    judged: Judgement,
    catalogue: Catalogue,
    event: RunEvent | None,
) -> str:
    settings = catalogue.policy.github
    comments = list(pr.get_issue_comments())
    mine = find_bot_comment(comments, settings.bot_login)
    previous = previous_summary(mine)
    permissions = Permissions(repo)
    overrides = override_waivers(comments, settings.bot_login, permissions)
    # The trusted config's waivers first, then the maintainers' overrides and the author's own permission.
    waivers = [*catalogue.policy.config_waivers(), *overrides.values(), *_verified_waivers(judged, pr, permissions)]
    decision = judge(report, waivers, catalogue)
    label_names = [label.name for label in pr.labels]
    extras = Extras(
        run_url=_run_url(event),
        reviewer_requested=bool(previous and previous.reviewer_requested),
        repo=repo_name,  # the repository publish was told to write to, never one named in the report
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
        previous=previous,
        first_comment=mine is None,
    )
    if previous and previous.gate and previous.gate.head == pr.head.sha:
        extras.gate = previous.gate
    ready_removed = _check_ready_label(extras, previous, label_names, pr.head.sha, settings)
    body, summary = compose(report, decision, extras)
    _sync_labels(pr, label_names, decision, settings, ready_removed)  # writes only what drifted
    if previous and previous.digest == summary.digest:
        return f"PR #{pr.number}: nothing changed ({decision.state})"
    _write_status(repo, pr, decision, settings)
    if decision.state == "success" and not extras.reviewer_requested and _request_reviewer(pr, settings):
        extras.reviewer_requested = True
        body, summary = compose(report, decision, extras)
    if mine is None:
        pr.create_issue_comment(body)
    else:
        mine.edit(body)
    return f"PR #{pr.number}: published ({decision.state}, label {getattr(settings.labels, decision.label)})"


def _check_ready_label(
    extras: Extras, previous: CommentSummary | None, labels: list[str], head: str, settings: GithubSettings
) -> bool:
    """Prow's rule: the ready label is for one head; new commits after it was added take it off (True)."""
    ready = settings.labels.ready
    seen_at = previous.ready_head if previous else None
    if ready not in labels:
        return False
    if seen_at and seen_at != head:
        extras.notes.append(f"The `{ready}` label was removed: new commits arrived after it was added.")
        return True
    extras.ready_head = seen_at or head
    return False


def _verified_waivers(judged: Judgement, pr: Any, permissions: Permissions) -> list[Waiver]:
    """GR118 (`verified: true`) passes when the PR's author may maintain the repository."""
    found = [j.finding for j in judged.where("blocking") if j.finding.id == VERIFIED_ID]
    if not found or permissions.role(pr.user.login) not in MAINTAIN_ROLES:
        return []
    reason = "the author has maintain or admin permission"
    return [Waiver(f.id, reason, "maintainer", fingerprint=f.fingerprint, by=pr.user.login) for f in found]


def _write_status(repo: Any, pr: Any, decision: Judgement, settings: GithubSettings) -> None:
    text = {"success": "passing", "failure": "changes needed", "error": "incomplete: the review could not tell"}
    repo.get_commit(pr.head.sha).create_status(
        state=decision.state, description=text[decision.state], context=settings.status_context
    )


def _sync_labels(
    pr: Any, present: list[str], decision: Judgement, settings: GithubSettings, remove_ready: bool
) -> None:
    wanted = getattr(settings.labels, decision.label)
    stale = [name for name in settings.labels.review_labels() if name in present and name != wanted]
    if remove_ready:
        stale.append(settings.labels.ready)
    for name in stale:
        pr.remove_from_labels(name)
    if wanted not in present:
        pr.add_to_labels(wanted)


def _request_reviewer(pr: Any, settings: GithubSettings) -> bool:
    """Step 8 of the guide: one reviewer from the rotation, round-robin by PR number, never the author."""
    author = pr.user.login.lower()
    rotation = [r for r in settings.reviewers if r.lower() != author]
    if not rotation:
        return False
    pr.create_review_request(reviewers=[rotation[pr.number % len(rotation)]])
    return True


def _run_url(event: RunEvent | None) -> str | None:
    if event and event.run_url:
        return event.run_url
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None
