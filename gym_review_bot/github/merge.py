"""`gym-review merge`: the label-gated merge, on nothing but what the bot can verify; otherwise it says what is
missing, once per head, in its own comment (never in the review's comment, which publish alone writes).

It merges when all of these hold for the PR's current head:
- the ready label was added after that head arrived (a `labeled` event later than the bot's `pending` status on
  it, or than its earliest workflow run);
- GitHub lists every file the PR changes, and none is under a protected path (renames under both names);
- the latest `gym-review` status is `success` and links a run of the publish workflow on the default branch;
- the review run's report artifact for that head, re-judged under the trusted rules with the overrides that
  still stand, passes and is complete, and the review comment's hidden summary agrees with it;
- enough users with write access approved that head.
Just before merging it reads the status again, and merges with `sha` = the head it checked.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from github import GithubException

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import GithubSettings
from gym_review_bot.github.artifact import ArtifactMissing, download_report
from gym_review_bot.github.client import github_errors
from gym_review_bot.github.commands import WRITE_ROLES, Permissions
from gym_review_bot.github.comment import find_bot_comment, previous_summary, write_comment
from gym_review_bot.github.event import Refused, own_run_url
from gym_review_bot.github.files import changed_files
from gym_review_bot.github.statuses import StatusHistory, head_arrival, history, publish_run_problem
from gym_review_bot.github.verdict import effective, parse_report, verified
from gym_review_bot.judge import Judgement
from gym_review_bot.render.safety import md_inert
from gym_review_bot.render.summary import CommentSummary

GATE_MARKER = "<!-- gym-review-bot:gate -->"
_GATE_STATE = re.compile(r"<!-- gym-review-bot:gate-state ([0-9a-f]{40}) ([0-9a-f]{16}) -->")
RECHECK = "comment `/gym-review recheck`"


@dataclass(frozen=True)
class GateResult:
    merged: bool
    line: str
    refused: bool = False  # the review could not be trusted: status `error` written, exit 3


@dataclass
class _Gate:
    gh: Any
    repo_name: str
    repo: Any
    pr: Any
    comments: list[Any]
    statuses: StatusHistory
    catalogue: Catalogue

    @property
    def settings(self) -> GithubSettings:
        return self.catalogue.policy.github


def ready_prs(gh: Any, repo_name: str, settings: GithubSettings) -> list[int]:
    """Open PRs carrying the ready label (the scheduled run of the merge gate)."""
    with github_errors(repo_name):
        pulls = gh.get_repo(repo_name).get_pulls(state="open")
        return [pr.number for pr in pulls if settings.labels.ready in [label.name for label in pr.labels]]


def merge_gate(gh: Any, repo_name: str, number: int, catalogue: Catalogue, event_head: str | None = None) -> GateResult:
    repo = gh.get_repo(repo_name)
    with github_errors(f"PR #{number}"):
        pr = repo.get_pull(number)
        if pr.state != "open":
            return GateResult(False, f"PR #{number} is {pr.state}: nothing to merge")
        head = pr.head.sha
        gate = _Gate(gh, repo_name, repo, pr, list(pr.get_issue_comments()), history(repo, head), catalogue)
        try:
            missing = _missing(gate, Permissions(repo))
        except Refused as exc:
            settings = gate.settings
            target = {"target_url": own_run_url()} if own_run_url() else {}
            repo.get_commit(event_head or head).create_status(
                state="error", description=str(exc)[:140], context=settings.status_context, **target
            )
            _say_once(gate, [f"a review the bot can trust: {md_inert(str(exc))}; {RECHECK}"])
            return GateResult(False, f"PR #{number}: refused: {exc}", refused=True)
        if not missing:
            missing = _merge(gate)
            if not missing:
                return GateResult(True, f"PR #{number}: merged ({gate.settings.merge_method})")
        _say_once(gate, missing)
        return GateResult(False, f"PR #{number}: not merged: " + "; ".join(missing))


def _missing(gate: _Gate, permissions: Permissions) -> list[str]:
    """What stops the merge, in the bot's own words, or [] when it may merge."""
    settings, pr = gate.settings, gate.pr
    head = pr.head.sha
    ready = settings.labels.ready
    missing = []
    if ready not in [label.name for label in pr.labels]:
        missing.append(f"the `{ready}` label")
    elif not _label_counts(gate):
        missing.append(f"the `{ready}` label added again: it was added before the current head arrived")
    files = changed_files(pr)
    touched = files.touched(settings.protected_paths)
    if touched:
        why = f" ({files.why}: it may touch them)" if not files.complete else ""
        missing.append("a PR that leaves " + " and ".join(f"`{p}`" for p in touched) + f" alone{why} (merge by hand)")
    missing += _review(gate, files.paths, permissions)
    if _approvals(pr, head, permissions) < settings.approvals:
        missing.append(f"{settings.approvals} approval(s) for the current head from users with write access")
    return missing


def _label_counts(gate: _Gate) -> bool:
    """The ready label was added (its latest `labeled` event) after the current head arrived."""
    ready = gate.settings.labels.ready
    added = [e.created_at for e in gate.pr.get_issue_events() if e.event == "labeled" and _label_name(e) == ready]
    if not added:
        return False
    arrived = head_arrival(gate.repo, gate.pr.head.sha, gate.statuses, gate.settings)
    return arrived is not None and max(added) > arrived


def _label_name(event: Any) -> str | None:
    label = getattr(event, "label", None)
    return label.name if label is not None else None


def _review(gate: _Gate, paths: tuple[str, ...], permissions: Permissions) -> list[str]:
    """The verified review: the publish workflow's status, and the review's own report re-judged."""
    settings, pr = gate.settings, gate.pr
    status = gate.statuses.latest(settings.status_context)
    if status is None or status.state != "success":
        return [f"a passing `{settings.status_context}` status for the current head (a review of it, published)"]
    problem = publish_run_problem(gate.repo, status, gate.repo_name, pr.base.repo.default_branch, settings)
    if problem:
        return [f"a `{settings.status_context}` status set by the publish workflow ({problem}); {RECHECK}"]
    try:
        artifact = download_report(gate.gh, gate.repo, pr, settings)
    except ArtifactMissing as exc:
        return [f"the review's report, to check it again ({exc}); {RECHECK}"]
    if artifact.number and artifact.number != str(pr.number):
        raise Refused(f"the review's artifact names another PR ({artifact.number[:12]!r})")
    report = parse_report(artifact.report, settings)
    judged = verified(report, pr.head.sha, gate.catalogue, paths)
    decision = effective(report, judged, gate.catalogue, gate.comments, pr, permissions)
    summary = previous_summary(find_bot_comment(gate.comments, settings.bot_login))
    if decision.state != "success":
        if summary is not None and summary.state == "success" and summary.overridden:
            return [
                "a new review: an override it counted no longer stands (its command comment was edited or "
                f"deleted, or its author lost write access); {RECHECK}"
            ]
        return ["a complete, passing review (or its failures overridden)"]
    if _disagrees(summary, decision, pr.head.sha):
        return [f"the review comment to agree with the review's own report (its summary differs); {RECHECK}"]
    return []


def _disagrees(summary: CommentSummary | None, decision: Judgement, head: str) -> bool:
    if summary is None:
        return True
    published = (summary.head, summary.verdict, summary.complete, summary.state)
    return published != (head, decision.verdict, decision.complete, decision.state)


def _approvals(pr: Any, head: str, permissions: Permissions) -> int:
    latest: dict[str, Any] = {}
    for review in pr.get_reviews():  # oldest first: each user's last word counts
        if review.user is not None and review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user.login] = review
    return sum(
        1
        for login, review in latest.items()
        if review.state == "APPROVED" and review.commit_id == head and permissions.role(login) in WRITE_ROLES
    )


def _merge(gate: _Gate) -> list[str]:
    """Read the status again, then merge with `sha` = the head checked; [] when merged."""
    settings, pr = gate.settings, gate.pr
    head = pr.head.sha
    checked = gate.statuses.latest(settings.status_context)
    now = history(gate.repo, head).latest(settings.status_context)
    if now is None or checked is None or now.id != checked.id or now.state != "success":
        return [f"a `{settings.status_context}` status that stays passing (it changed while the gate checked)"]
    try:
        pr.merge(merge_method=settings.merge_method, sha=head)
    except GithubException as exc:
        if exc.status in (405, 409, 422):
            return [f"a PR GitHub can merge at the head checked (GitHub answered {exc.status})"]
        if gate.repo.get_pull(pr.number).merged:  # a 5xx after the merge was done
            return []
        raise
    return []


def _say_once(gate: _Gate, missing: list[str]) -> None:
    """The refusal in the gate's own comment, once per head and wording (re-runs on the same head write nothing)."""
    settings, pr = gate.settings, gate.pr
    if find_bot_comment(gate.comments, settings.bot_login) is None:
        return  # no review yet: the label alone is not worth a comment; the review will come
    head = pr.head.sha
    said = hashlib.sha256("\n".join(missing).encode()).hexdigest()[:16]
    mine = find_bot_comment(gate.comments, settings.bot_login, GATE_MARKER)
    state = _GATE_STATE.search(mine.body or "") if mine is not None else None
    if state is not None and state.groups() == (head, said):
        return
    lines = [GATE_MARKER, f"**Not merged** (head {head[:12]}):", "", *(f"- {m}" for m in missing), ""]
    lines.append(f"<!-- gym-review-bot:gate-state {head} {said} -->")
    body = "\n".join(lines) + "\n"
    write_comment(gate.gh, gate.repo_name, pr.number, gate.comments, body, settings.bot_login, GATE_MARKER)
