"""Turn a Report into text: the PR checklist (Markdown) and the terminal summary, both from templates.

Everything from the PR passes through `render.safety` on its way out: each template's `finalize`
escapes every expression, and only text built here from escaped parts (a `Markup`) goes out as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render.safety import (
    escape_terminal,
    fence,
    md_inert,
    neutralise_commands,
    split_fenced,
    stop_commands,
)

__all__ = ["MARKER", "escape_terminal", "md_inert", "fence", "render_markdown", "render_terminal", "stop_commands"]

MARKER = "<!-- gym-review-bot -->"
ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "pre": "🕰️", "error": "🚫", "waived": "🔒"}
SKIP_KINDS = {
    "not_applicable": "does not apply",
    "prerequisite_failed": "prerequisite failed",
    "not_requested": "not requested",
    "disabled_by_policy": "turned off by policy",
}
FIX_PREFIX = "How to fix:"


@dataclass
class Detail:
    """How much of the report a comment shows; `fit.fit_comment` lowers it until the comment fits."""

    passing: bool = True  # list passing checks
    logs: bool = True  # show log excerpts
    message_chars: int | None = None  # cut prose to this many characters (0: id and title only)
    hints: bool = True  # fix hints and skip reasons
    cut: list[str] = field(default_factory=list)  # what was left out, said in the comment


def finding_icon(finding: Finding) -> str:
    if finding.status in ("pass", "skip", "error"):
        return ICONS[finding.status]
    if finding.waived is not None:
        return ICONS["waived"]
    if finding.pre_existing:
        return ICONS["pre"]
    return ICONS["fail"] if finding.severity == "error" else ICONS["warn"]


def server_icon(server: ServerReport) -> str:
    if server.failed:
        return ICONS["fail"]
    return ICONS["error"] if any(f.not_run for f in server.findings) else ICONS["pass"]


def needs_fix(finding: Finding) -> bool:
    """A failure shows its fix hint, unless its message already gives one (sandbox messages do)."""
    return (
        finding.status == "fail"
        and bool(finding.fix)
        and finding.fix not in finding.message
        and FIX_PREFIX not in finding.message
    )


def with_fix(finding: Finding) -> str:
    """A failure's message with its fix hint appended where `needs_fix`."""
    return f"{finding.message}\n{FIX_PREFIX} {finding.fix}" if needs_fix(finding) else finding.message


def skip_groups(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Skipped findings as (ids, kind, reason), runs of the same kind and reason folded into one line."""
    groups: list[tuple[list[str], str, str]] = []
    for f in findings:
        if f.status != "skip":
            continue
        kind = SKIP_KINDS.get(f.skip_kind or "", "")
        if groups and groups[-1][1:] == (kind, f.message):
            groups[-1][0].append(f.id)
        else:
            groups.append(([f.id], kind, f.message))
    return [(ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]}", kind, reason) for ids, kind, reason in groups]


def incomplete_reasons(report: Report) -> list[str]:
    """Why `complete` is false, in words; empty when it is true."""
    if report.complete:
        return []
    not_run = report.summary.not_run
    not_requested = sum(f.skip_kind == "not_requested" for s in report.servers for f in s.findings)
    no_sandbox = [s for s in report.servers if s.status in ("added", "changed") and not s.sandbox_ran]
    reasons = []
    if no_sandbox:
        reasons.append(f"sandbox not run for {_count(len(no_sandbox), 'added or changed server')}")
    if not_run:
        reasons.append(f"{_count(not_run, 'check')} could not run")
    if not_requested:
        reasons.append(f"{_count(not_requested, 'check')} not requested")
    return reasons or ["some checks did not run"]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- Markdown ---------------------------------------------------------------------------------


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit].rstrip() + " … (cut)"


def md_message(text: str, detail: Detail, indent: str = "  ") -> Markup:
    """A message as the rest of a list item: prose inline, a log excerpt as a fenced block below it."""
    before, log, after = split_fenced(text)
    out = md_inert(_cut(before, detail.message_chars))
    if log is not None:
        if detail.logs:
            out += f"\n\n{fence(log, indent)}\n"
        else:
            out += " (log excerpt cut)"
    if after.strip():
        separator = "\n\n" + indent if log is not None and detail.logs else " "
        out += separator + md_inert(_cut(after, detail.message_chars))
    return Markup(out)


def _md_finalize(value: object) -> str:
    return str(value) if isinstance(value, Markup) else md_inert(value)


_CHART_CHARACTERS = frozenset("0123456789.,-–[]() %")


def chart_text(value: object) -> Markup:
    """A label or count the bot computed, verbatim inside a Mermaid block (where escaping would show);
    anything but digits and range punctuation becomes `?`, so nothing else can ever get in."""
    text = str(value)
    return Markup(text if set(text) <= _CHART_CHARACTERS else "?")


def _term_finalize(value: object) -> str:
    return str(value) if isinstance(value, Markup) else escape_terminal(value)


def term_block(text: str, indent: str) -> Markup:
    """Multi-line PR text for the terminal: escaped, each line indented."""
    lines = escape_terminal(text, single_line=False).split("\n")
    return Markup(("\n" + indent).join(lines))


@cache
def _environment(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("gym_review_bot", "render/templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_md_finalize if markdown else _term_finalize,
    )
    env.filters.update(
        icon=finding_icon,
        server_icon=server_icon,
        skip_groups=skip_groups,
        with_fix=with_fix,
        md_message=md_message,
        term_block=term_block,
        cut=_cut,
        chart_text=chart_text,
    )
    env.tests["needing_fix"] = needs_fix
    env.globals.update(incomplete_reasons=incomplete_reasons, count=_count, ICONS=ICONS)
    return env


def render_comment(report: Report, detail: Detail) -> str:
    """The comment at one level of detail (see `fit.fit_comment` for the one that fits)."""
    template = _environment(markdown=True).get_template("comment.md.j2")
    return template.render(report=report, detail=detail)


def render_markdown(report: Report) -> str:
    """The sticky PR comment: verdict, then each server's problems; never over GitHub's size limit."""
    from gym_review_bot.render.fit import fit_comment

    return fit_comment(report)


# --- Terminal ---------------------------------------------------------------------------------


def render_terminal(report: Report, color: bool = False) -> str:
    """The terminal summary; no line of it can act as a GitHub Actions workflow command."""
    template = _environment(markdown=False).get_template("terminal.txt.j2")
    text = neutralise_commands(template.render(report=report))
    return _colorize(text) if color else text


_COLORS = {
    "FAIL": "\033[31m",
    "ERR ": "\033[35m",
    "PASS": "\033[32m",
    "WARN": "\033[33m",
    "SKIP": "\033[2m",
    "OLD ": "\033[2m",
    "WAIV": "\033[2m",
}
_TAG = re.compile(r"^  \[(FAIL|ERR |PASS|WARN|SKIP|OLD |WAIV)\]", re.MULTILINE)


def _colorize(text: str) -> str:
    # Only our own tags at the start of a line: the same word inside PR text stays uncoloured.
    return _TAG.sub(lambda m: f"  {_COLORS[m.group(1)]}[{m.group(1)}]\033[0m", text)
