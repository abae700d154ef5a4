"""`gym-review audit-publish`: the pinned registry-health issue, and one issue per newly failing server.

It holds a write token and never runs server code: it reads the audit report as data (validated, every
server's verdict recomputed by the judge from its findings; a report that disagrees is refused), the
trusted checkout's `.gym-review.yaml` and CODEOWNERS (read with git), and talks to GitHub. Its own
issues are found by their label, their hidden marker and their author (the bot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from gym_review_bot.audit import codeowners
from gym_review_bot.audit.dashboard import (
    MARKER,
    commit_url,
    markdown_template,
    render_markdown,
    tree_url,
)
from gym_review_bot.audit.delta import summarise
from gym_review_bot.audit.judging import judge_server
from gym_review_bot.audit.merge import read_report
from gym_review_bot.audit.models import AuditReport, ServerAudit
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import load_trusted_policy
from gym_review_bot.errors import UsageError
from gym_review_bot.github.client import github_errors
from gym_review_bot.plan import is_safe
from gym_review_bot.render.layout import page_url
from gym_review_bot.render.safety import md_inert

HEALTH_LABEL = "gym-review: registry health"
FAILURE_LABEL = "gym-review: audit failure"
HEALTH_TITLE = "Registry health"
SERVER_MARKER = "<!-- gym-review-audit:server={name} -->"
_SERVER_MARKER = re.compile(r"<!-- gym-review-audit:server=([A-Za-z0-9_.-]+) -->")
MAX_MESSAGE_CHARS = 300


@dataclass
class Published:
    dashboard: str = ""
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [self.dashboard]
        parts.append(f"opened {len(self.opened)} issue(s)" + (f" ({', '.join(self.opened)})" if self.opened else ""))
        parts.append(f"closed {len(self.closed)}" + (f" ({', '.join(self.closed)})" if self.closed else ""))
        if self.skipped:
            parts.append(f"{len(self.skipped)} server(s) with unsafe names left out")
        return "published: " + "; ".join(parts)


def verdicts(report: AuditReport, catalogue: Catalogue) -> tuple[dict[str, str], str | None]:
    """Every server's verdict as the judge gives it from its findings, or why the report cannot be trusted."""
    found: dict[str, str] = {}
    for entry in report.servers:
        judged = judge_server(entry.report, catalogue).verdict if entry.report is not None else "error"
        if judged != entry.verdict:
            return (
                found,
                f"the stored verdict of {entry.name!r} ({entry.verdict}) disagrees with its findings ({judged})",
            )
        found[entry.name] = judged
    verdict, summary = summarise(report.servers)
    if (verdict, summary) != (report.verdict, report.summary):
        return found, "the report's verdict or summary disagrees with its servers"
    return found, None


def publish_audit(
    gh: Any, repo_name: str, report_path: Path, config_repo: Path, config_ref: str, dashboard_url: str | None = None
) -> str:
    """Update the dashboard issue; open an issue per newly failing server; close those that pass again."""
    policy = load_trusted_policy(config_repo, config_ref).policy
    catalogue = Catalogue(policy)
    try:
        report = read_report(report_path)
    except UsageError as exc:
        return f"refused: {exc}"
    judged, refusal = verdicts(report, catalogue)
    if refusal:
        return f"refused: {refusal}"
    rules = codeowners.read_codeowners(config_repo, config_ref)
    bot = policy.github.bot_login
    done = Published()
    with github_errors(repo_name):
        repo = gh.get_repo(repo_name)
        done.dashboard = _dashboard(repo, report, bot, dashboard_url, catalogue)
        _server_issues(repo, report, judged, bot, rules, dashboard_url, done)
    return done.line()


def _own_open_issues(repo: Any, label: str, bot: str) -> list[Any]:
    """Open issues carrying the label that the bot opened (only writers can label, only the bot is trusted)."""
    return [i for i in repo.get_issues(state="open", labels=[label]) if i.user.login == bot and not i.pull_request]


def _dashboard(repo: Any, report: AuditReport, bot: str, dashboard_url: str | None, catalogue: Catalogue) -> str:
    body = render_markdown(report, dashboard_url, catalogue)
    issue = next((i for i in _own_open_issues(repo, HEALTH_LABEL, bot) if MARKER in (i.body or "")), None)
    if issue is None:
        created = repo.create_issue(title=HEALTH_TITLE, body=body, labels=[HEALTH_LABEL])
        return f"dashboard issue #{created.number} opened (pin it once: the bot finds it by its label)"
    if issue.body == body:
        return f"dashboard issue #{issue.number} unchanged"
    issue.edit(body=body)
    return f"dashboard issue #{issue.number} updated"


def _server_issues(
    repo: Any,
    report: AuditReport,
    judged: dict[str, str],
    bot: str,
    rules: list[codeowners.Rule],
    dashboard_url: str | None,
    done: Published,
) -> None:
    open_issues: dict[str, Any] = {}
    for issue in _own_open_issues(repo, FAILURE_LABEL, bot):
        match = _SERVER_MARKER.search(issue.body or "")
        if match:
            open_issues.setdefault(match.group(1), issue)
    newly = {e.name for e in report.delta.newly_failing} if report.delta else set()
    for entry in report.servers:
        if not is_safe(entry.name):
            done.skipped.append(entry.name)
            continue
        verdict = judged[entry.name]
        if verdict == "fail" and entry.name in newly and entry.name not in open_issues:
            _open(repo, report, entry, rules, dashboard_url)
            done.opened.append(entry.name)
        elif verdict == "pass" and entry.name in open_issues:
            _close(open_issues[entry.name], report, entry.name)
            done.closed.append(entry.name)


def _open(
    repo: Any, report: AuditReport, entry: ServerAudit, rules: list[codeowners.Rule], dashboard_url: str | None
) -> None:
    findings = entry.report.findings if entry.report else []
    failing = [f for f in findings if f.id in entry.failing]
    shown = [
        {"id": md_inert(f.id), "title": md_inert(f.title), "message": md_inert(_first_line(f.message))} for f in failing
    ]
    owners = codeowners.server_owners(rules, entry.name)
    body = markdown_template("failure_issue.md.j2").render(
        marker=Markup(SERVER_MARKER.format(name=entry.name)),
        name=entry.name,
        tree_url=tree_url(report, entry.name),
        commit=report.commit or "",
        commit_url=commit_url(report, report.commit),
        previous_commit=report.delta.previous_commit if report.delta else None,
        day=report.generated_at[:10],
        failing=[{k: Markup(v) for k, v in f.items()} for f in shown],
        replay=entry.replay.mode.replace("_", " "),
        owners=Markup(" ".join(owners)),  # from the trusted CODEOWNERS, each a checked @login or @org/team
        dashboard_url=Markup(page_url(dashboard_url)) if page_url(dashboard_url) else None,
    )
    title = f"Registry audit: {entry.name} fails {', '.join(entry.failing) or 'the audit'}"
    repo.create_issue(title=title[:250], body=body, labels=[FAILURE_LABEL])


def _close(issue: Any, report: AuditReport, name: str) -> None:
    comment = markdown_template("fixed_comment.md.j2").render(
        name=name,
        tree_url=tree_url(report, name),
        commit=report.commit or "",
        commit_url=commit_url(report, report.commit),
        day=report.generated_at[:10],
    )
    issue.create_comment(comment)
    issue.edit(state="closed", state_reason="completed")


def _first_line(text: str) -> str:
    line = text.strip().split("\n")[0]
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 1] + "…"
