"""The registry-health dashboard: one row per server, the delta, links to the audited commit.

Two outputs from one view: Markdown for a pinned issue (templates/dashboard.md.j2) and a self-contained
HTML page with no external assets (templates/dashboard.html.j2), sortable and filterable by status and
domain. Every verdict and icon is the judge's, recomputed from each server's findings; every link is
built from the report's repository and commit (validated), never from a server's files.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from gym_review_bot.audit.judging import judge_server
from gym_review_bot.audit.models import AuditReport, Delta, ServerAudit
from gym_review_bot.catalogue import FAMILIES, Catalogue
from gym_review_bot.plan import is_safe
from gym_review_bot.render import layout
from gym_review_bot.render.jinja import environment
from gym_review_bot.render.safety import md_inert
from gym_review_bot.render.words import ICONS

COLUMNS = tuple(f for f in FAMILIES if f != "evidence")  # evidence is asked of added servers only, never here
MARKER = "<!-- gym-review-audit:dashboard -->"
MAX_ISSUE_BODY = 65_536  # GitHub's limit for an issue body
STATUS_WORDS = {"fail": "failing", "error": "not judged", "incomplete": "passing, incomplete", "pass": "passing"}
STATUS_ICONS = {"fail": ICONS["fail"], "error": ICONS["error"], "incomplete": ICONS["pass"], "pass": ICONS["pass"]}
REPLAY_WORDS = {
    "no_model": "no model",
    "recorded_judge": "recorded judge",
    "could_not": "could not",
    "not_replayable": "not replayable",
    "not_run": "not run",
}
_ORDER = {"fail": 0, "error": 1, "incomplete": 2, "pass": 3}


@dataclass
class Row:
    name: str
    url: str | None  # the server's tree at the audited commit
    status: str  # fail | error | incomplete | pass (the judge's verdict; incomplete: passed with checks not run)
    cells: list[str]  # one icon per column family
    replay: str
    replay_detail: str
    verified: str  # short SHA of the commit the result was computed on
    verified_url: str | None
    verified_on: str  # UTC date
    carried: bool
    wall_s: float | None
    domains: list[str]
    failing: list[str]
    not_run: list[str]
    failing_since: str | None
    reason: str | None

    @property
    def icon(self) -> str:
        return STATUS_ICONS[self.status]

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def time(self) -> str:
        return "–" if self.wall_s is None else f"{self.wall_s:.1f} s"


@dataclass
class Dashboard:
    report: AuditReport
    rows: list[Row]
    commit_url: str | None
    delta: Delta | None
    domains: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # servers whose stored verdict disagrees with the judge

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


def _links(report: AuditReport) -> layout.Links:
    return layout.Links(repo=report.repository, sha=report.commit, server=report.server_url)


def tree_url(report: AuditReport, name: str) -> str | None:
    """The server's directory at the audited commit, or None (no repository or commit, or an unsafe name)."""
    links = _links(report)
    if not links.usable or not is_safe(name):
        return None
    return f"{links.server}/{links.repo}/tree/{links.sha}/resources_servers/{quote(name)}"


def commit_url(report: AuditReport, sha: str | None) -> str | None:
    links = _links(report)
    if not links.usable or not sha or not layout.is_sha(sha):
        return None
    return f"{links.server}/{links.repo}/commit/{sha}"


def _row(report: AuditReport, entry: ServerAudit, catalogue: Catalogue) -> tuple[Row, bool]:
    """A server's row and whether its stored verdict agrees with the judge's."""
    if entry.report is None:
        status, cells, agrees = "error", ["–"] * len(COLUMNS), entry.verdict == "error"
        failing, not_run = [], []
    else:
        judged = judge_server(entry.report, catalogue)
        every = layout.family_cells(entry.report.findings, judged.judgement, catalogue)
        cells = [icon for family, icon in zip(FAMILIES, every, strict=True) if family in COLUMNS]
        status = judged.verdict if judged.verdict != "pass" or judged.complete else "incomplete"
        agrees = judged.verdict == entry.verdict
        failing, not_run = judged.failing, judged.not_run
    row = Row(
        name=entry.name,
        url=tree_url(report, entry.name),
        status=status,
        cells=cells,
        replay=REPLAY_WORDS.get(entry.replay.mode, entry.replay.mode),
        replay_detail=entry.replay.detail,
        verified=(entry.verified_commit or "")[:7] or "–",
        verified_url=commit_url(report, entry.verified_commit),
        verified_on=entry.verified_at[:10],
        carried=entry.carried,
        wall_s=entry.wall_s,
        domains=entry.domains,
        failing=failing,
        not_run=not_run,
        failing_since=entry.failing_since,
        reason=entry.reason if entry.report is None else None,
    )
    return row, agrees


def build(report: AuditReport, catalogue: Catalogue | None = None) -> Dashboard:
    catalogue = catalogue or Catalogue()
    rows, mismatched = [], []
    for entry in report.servers:
        row, agrees = _row(report, entry, catalogue)
        rows.append(row)
        if not agrees:
            mismatched.append(entry.name)
    rows.sort(key=lambda r: (_ORDER[r.status], r.name))
    domains = sorted({d for r in rows for d in r.domains})
    return Dashboard(report, rows, commit_url(report, report.commit), report.delta, domains, mismatched)


# --- Markdown -----------------------------------------------------------------------------------


def _as_is(value: object) -> object:
    return value


def _md_finalize(value: object) -> str:
    return str(value) if isinstance(value, Markup) else md_inert(value)


def md_link(text: str, url: str | None) -> Markup:
    """A server name or SHA as code, linked when the bot built a URL. A name of only [A-Za-z0-9_.-] goes in a
    backtick span as it is (nothing in it can mention, link or tag); any other text is escaped."""
    shown = f"`{text}`" if is_safe(text) else f"<code>{md_inert(text)}</code>"
    return Markup(f"[{shown}]({url})" if url else shown)


def md_server(name: str, dash: Dashboard) -> Markup:
    return md_link(name, tree_url(dash.report, name))


_PLAIN = re.compile(r"^[0-9A-Za-z .:,()–-]{0,40}$")


def md_plain(text: str) -> Markup:
    """A date, a time or a word the bot wrote (digits, letters and a little punctuation) as it is; else escaped."""
    return Markup(text) if _PLAIN.match(text) and not text.startswith(("-", "+")) else Markup(md_inert(text))


def md_head() -> Markup:
    """The table's head: the server, its status, one column per family, replay, last verified, time."""
    names = ["Server", "", *COLUMNS, "Replay", "Last verified", "Time"]
    return Markup("| " + " | ".join(names) + " |\n|" + "---|" * len(names))


def md_row(row: Row) -> Markup:
    """A server's row; every cell escaped (a `|` too, so the row keeps its cells)."""
    verified = f"{md_link(row.verified, row.verified_url)} {md_plain(row.verified_on)}"
    cells = [
        md_link(row.name, row.url),
        row.icon,
        *row.cells,
        md_plain(row.replay),
        verified + (" (carried)" if row.carried else ""),
        md_plain(row.time),
    ]
    return Markup("| " + " | ".join(cells) + " |")


@cache
def _environment(kind: str) -> Environment:
    """The render package's environment (strict names, escaping `finalize`), on the audit's templates; HTML
    autoescaped by Jinja itself."""
    env = environment(_md_finalize if kind == "md" else _as_is)
    env.loader = PackageLoader("gym_review_bot", "audit/templates")
    env.autoescape = kind == "html"
    env.globals.update(
        md_link=md_link,
        md_plain=md_plain,
        md_server=md_server,
        md_head=md_head,
        md_row=md_row,
        COLUMNS=COLUMNS,
        ICONS=ICONS,
        MARKER=Markup(MARKER),
        STATUS_WORDS=STATUS_WORDS,
    )
    return env


def markdown_template(name: str) -> Any:
    """One of the audit's Markdown templates (the issue a failing server gets, the comment when it passes again)."""
    return _environment("md").get_template(name)


@dataclass
class Fit:
    """How much the Markdown shows; lowered until it fits an issue body."""

    passing_rows: bool = True  # the passing servers' table (else only their names)
    passing_names: bool = True  # their names (else only their count)
    most: int | None = None  # at most this many names in each delta list and failing rows


def render_markdown(report: AuditReport, dashboard_url: str | None = None, catalogue: Catalogue | None = None) -> str:
    """The dashboard for the pinned issue, under GitHub's 65,536-character limit for an issue body."""
    dash = build(report, catalogue)
    template = _environment("md").get_template("dashboard.md.j2")
    checked = layout.page_url(dashboard_url)  # a plain https URL the bot was given, or none
    url = Markup(checked) if checked else None
    for fit in (Fit(), Fit(passing_rows=False), Fit(False, False), Fit(False, False, 50), Fit(False, False, 10)):
        text = template.render(d=dash, fit=fit, dashboard_url=url)
        if len(text) <= MAX_ISSUE_BODY:
            return text
    return text[: MAX_ISSUE_BODY - 40] + "\n\n(cut to fit an issue body)\n"


# --- HTML ---------------------------------------------------------------------------------------


def _resource(name: str) -> str:
    from importlib import resources

    return resources.files("gym_review_bot.audit").joinpath("templates", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def render_html(report: AuditReport, catalogue: Catalogue | None = None) -> str:
    """One page, no external assets: its only script and style are inline, allowed by hash, nothing else."""
    dash = build(report, catalogue)
    script, style = _resource("dashboard.js"), _resource("dashboard.css")
    csp = (
        f"default-src 'none'; script-src '{_csp_hash(script)}'; style-src '{_csp_hash(style)}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    template = _environment("html").get_template("dashboard.html.j2")
    return template.render(d=dash, script=Markup(script), style=Markup(style), csp=csp)


def write_dashboards(report: AuditReport, markdown: Path | None = None, html: Path | None = None) -> None:
    from gym_review_bot.errors import UsageError

    for path, render in ((markdown, render_markdown), (html, render_html)):
        if path is None:
            continue
        try:
            path.write_text(render(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
