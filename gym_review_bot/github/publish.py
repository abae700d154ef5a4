"""`gym-review publish`: trust the report only if it comes from the expected workflow's run for this PR's current
head, then set the status, sync the label, request a reviewer once, and write the one comment (only when it
changed).

A refusal sets status `error` with the reason on the run's own head commit (the event's `head_sha`), never
on a commit the report or the artifact names, and exits 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from github import GithubException

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import GithubSettings
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.commands import Permissions
from gym_review_bot.github.comment import find_bot_comment, previous_summary, write_comment
from gym_review_bot.github.event import Refused, RunEvent, check_run_is_for, own_run_url, read_run_event
from gym_review_bot.github.files import ChangedFiles, changed_files
from gym_review_bot.github.verdict import effective, parse_report, verified
from gym_review_bot.judge import Judgement
from gym_review_bot.models import Report
from gym_review_bot.render.sticky import Extras, compose
from gym_review_bot.render.words import STATUS_TEXT

WORKFLOW_CHANGED = "the review workflow was changed by this PR"
OUTDATED = "the review is outdated"


def publish(gh: Any, repo_name: str, number: int, report_path: Path, catalogue: Catalogue) -> str:
    """Publish one report on one PR under the trusted rules (`catalogue.policy`); returns a line for the log
    ("refused: ..." when the report was not trusted)."""
    settings = catalogue.policy.github
    repo = gh.get_repo(repo_name)
    try:
        event = read_run_event()
    except Refused as exc:
        return _refuse(repo, None, exc, settings, number)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        if pr.state != "open":
            return f"PR #{number} is {pr.state}: nothing to publish"
        head = pr.head.sha
    try:
        report = _read(report_path, settings)
        if event is not None:
            _check_event(event, pr, settings)
        files = changed_files(pr)
        _check_files(files)
        judged = verified(report, head, catalogue, files.paths)  # re-judged under the trusted rules
    except Refused as exc:
        own_head = event.head_sha if event is not None else head
        if str(exc).startswith("the review run is not for") and own_head == head:
            return f"refused: {exc}"  # another PR's run with this PR's commit: no status on a commit it shares
        return _refuse(repo, own_head, exc, settings, number)
    with github_errors(f"PR #{number}"):
        return _publish_trusted(gh, repo_name, repo, pr, report, judged, catalogue, event)


def _read(path: Path, settings: GithubSettings) -> Report:
    try:
        size = path.stat().st_size
        if size > settings.max_report_mb * 1024 * 1024:
            raise Refused(f"the report is too big ({size} bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        raise Refused(f"the report cannot be read ({type(exc).__name__})") from None
    return parse_report(raw, settings)


def _check_event(event: RunEvent, pr: Any, settings: GithubSettings) -> None:
    """The run is the trusted workflow's, for this PR, at its current head."""
    if event.path != settings.workflow:
        raise Refused(WORKFLOW_CHANGED)
    if not (event.head_sha and event.head_branch and event.head_repo):
        raise Refused("the workflow_run event does not name the run's head")
    check_run_is_for(event, pr)
    if event.head_sha != pr.head.sha:
        raise Refused(OUTDATED)


def _check_files(files: ChangedFiles) -> None:
    if not files.complete:
        raise Refused(f"cannot tell which files the PR changes: {files.why}")
    if any(name.startswith(".github/workflows/") for name in files.paths):
        raise Refused(WORKFLOW_CHANGED)


def _refuse(repo: Any, sha: str | None, exc: Exception, settings: GithubSettings, number: int) -> str:
    """Status `error` with the reason on the run's own head (the PR's head when run by hand)."""
    if sha is None:
        with github_errors(f"PR #{number}"):
            sha = repo.get_pull(number).head.sha
    with github_errors("commit status"):
        repo.get_commit(sha).create_status(
            state="error", description=str(exc)[:140], context=settings.status_context, **_target()
        )
    return f"refused: {exc}"


def _target() -> dict[str, str]:
    url = own_run_url()
    return {"target_url": url} if url else {}


def _publish_trusted(
    gh: Any,
    repo_name: str,
    repo: Any,
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
    decision = effective(report, judged, catalogue, comments, pr, Permissions(repo))
    label_names = [label.name for label in pr.labels]
    extras = Extras(
        run_url=_run_url(event),
        reviewer_requested=bool(previous and previous.reviewer_requested),
        repo=repo_name,  # the repository publish was told to write to, never one named in the report
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
        previous=previous,
        first_comment=mine is None,
    )
    body, summary = compose(report, decision, extras)
    _sync_labels(pr, label_names, decision, settings)  # writes only what drifted
    if previous and previous.digest == summary.digest:
        return f"PR #{pr.number}: nothing changed ({decision.state})"
    repo.get_commit(pr.head.sha).create_status(
        state=decision.state, description=STATUS_TEXT[decision.headline], context=settings.status_context, **_target()
    )
    if decision.state == "success" and not extras.reviewer_requested and _request_reviewer(pr, settings):
        extras.reviewer_requested = True
        body, summary = compose(report, decision, extras)
    write_comment(gh, repo_name, pr.number, comments, body, settings.bot_login)
    return f"PR #{pr.number}: published ({decision.state}, label {getattr(settings.labels, decision.label)})"


def _sync_labels(pr: Any, present: list[str], decision: Judgement, settings: GithubSettings) -> None:
    wanted = getattr(settings.labels, decision.label)
    for name in [n for n in settings.labels.review_labels() if n in present and n != wanted]:
        remove_label(pr, name)
    if wanted not in present:
        pr.add_to_labels(wanted)


def remove_label(pr: Any, name: str) -> None:
    """Take a label off; one already gone (404, also after a retried DELETE) is what was wanted."""
    try:
        pr.remove_from_labels(name)
    except GithubException as exc:
        if exc.status != 404:
            raise


def _request_reviewer(pr: Any, settings: GithubSettings) -> bool:
    """Step 8 of the guide: one reviewer from the rotation, round-robin by PR number, never the author."""
    author = pr.user.login.lower()
    rotation = [r for r in settings.reviewers if r.lower() != author]
    if not rotation:
        return False
    pr.create_review_request(reviewers=[rotation[pr.number % len(rotation)]])
    return True


def _run_url(event: RunEvent | None) -> str | None:
    """The comment's "logs" link: the review run's page, else this run's."""
    if event and event.run_url:
        return event.run_url
    return own_run_url()
