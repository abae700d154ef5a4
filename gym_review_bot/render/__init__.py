"""Turn a Report into text: the PR checklist (Markdown) and the terminal summary, both from templates."""

from __future__ import annotations

import html
import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from gym_review_bot.models import Finding, Report

MARKER = "<!-- gym-review-bot -->"
ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "pre": "🕰️"}
_CODE_SPAN = re.compile(r"(`[^`\n]*`)")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def _escape_plain(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = html.escape(text, quote=False)  # no raw HTML, and no `-->` that closes our marker
    return text.replace("@", "@&#8203;")  # no @-mentions


def md_escape(value: object) -> str:
    """Make text from a PR inert in a GitHub comment; `code spans` stay code."""
    if value is None:
        return ""
    text = str(value).replace("\r", " ").replace("\n", " ")
    parts = _CODE_SPAN.split(text)
    return "".join(
        f"<code>{_escape_plain(p[1:-1])}</code>" if _CODE_SPAN.fullmatch(p) else _escape_plain(p) for p in parts
    )


def finding_icon(finding: Finding) -> str:
    if finding.status == "pass":
        return ICONS["pass"]
    if finding.status == "skip":
        return ICONS["skip"]
    if finding.pre_existing:
        return ICONS["pre"]
    return ICONS["fail"] if finding.severity == "error" else ICONS["warn"]


@cache
def _environment(escape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("gym_review_bot", "render/templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=md_escape if escape else None,
    )
    env.filters["icon"] = finding_icon
    env.filters["skip_groups"] = skip_groups
    return env


def skip_groups(findings: list[Finding]) -> list[tuple[str, str]]:
    """Skipped findings as (ids, reason), runs of the same reason folded into one line."""
    groups: list[tuple[list[str], str]] = []
    for f in findings:
        if f.status != "skip":
            continue
        if groups and groups[-1][1] == f.message:
            groups[-1][0].append(f.id)
        else:
            groups.append(([f.id], f.message))
    return [(ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]}", reason) for ids, reason in groups]


def render_markdown(report: Report) -> str:
    """The sticky PR comment: verdict, then each server's problems, passing checks folded away."""
    template = _environment(escape=True).get_template("comment.md.j2")
    return template.render(report=report)


def render_terminal(report: Report, color: bool = False) -> str:
    template = _environment(escape=False).get_template("terminal.txt.j2")
    text = template.render(report=report)
    return _colorize(text) if color else text


_COLORS = {"FAIL": "\033[31m", "PASS": "\033[32m", "WARN": "\033[33m", "SKIP": "\033[2m", "OLD ": "\033[2m"}


def _colorize(text: str) -> str:
    for word, code in _COLORS.items():
        text = text.replace(f"[{word}]", f"{code}[{word}]\033[0m")
    return text
