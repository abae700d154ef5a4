"""The terminal summary: the family table (rich), then one line per failure, then the judge's verdict line.

PR text is escaped for the terminal, and no line can act as a GitHub Actions workflow command.
"""

from __future__ import annotations

import io
import re
from functools import cache

from jinja2 import Environment
from markupsafe import Markup

from gym_review_bot.catalogue import FAMILIES, PR_FAMILIES
from gym_review_bot.judge import Judgement
from gym_review_bot.models import Finding, Report
from gym_review_bot.render import layout
from gym_review_bot.render.jinja import environment
from gym_review_bot.render.safety import escape_terminal, neutralise_commands, split_fenced
from gym_review_bot.render.words import FIX_PREFIX, count, needs_fix, skip_groups, split_message

# The judge's classes as the terminal's tags.
TAGS = {
    "blocking": "FAIL",
    "not_run": "ERR ",
    "warning": "WARN",
    "waived": "WAIV",
    "pre_existing": "OLD ",
    "skipped": "SKIP",
    "passed": "PASS",
}


def _term_finalize(value: object) -> str:
    return str(value) if isinstance(value, Markup) else escape_terminal(value)


def _term_parts(finding: Finding, server_path: str, judgement: Judgement) -> tuple[str, str]:
    """A failure's message for the terminal as (first sentence, the rest with any log, the fix, the waiver)."""
    before, log, after = split_fenced(layout.short_message(finding, server_path))
    first, rest = split_message(before.strip())
    parts = [rest] if rest else []
    if log is not None:
        parts.append(f"```\n{log}\n```")
    if after.strip():
        parts.append(after.strip())
    if needs_fix(finding) and not rest:
        parts.append(f"{FIX_PREFIX} {finding.fix}")
    waiver = judgement.of(finding).waiver
    if waiver is not None:
        who = "this registry's .gym-review.yaml" if waiver.source == "config" else "a maintainer's override"
        parts.append(f"Waived by {who}: {waiver.reason}")
    return first, "\n".join(parts)


def term_first(finding: Finding, server_path: str, judgement: Judgement) -> Markup:
    """The failure's one line: its first sentence, escaped for the terminal (PR text on one line)."""
    return Markup(escape_terminal(_term_parts(finding, server_path, judgement)[0]))


def term_more(finding: Finding, server_path: str, judgement: Judgement) -> str:
    return _term_parts(finding, server_path, judgement)[1]


def term_block(text: str, indent: str) -> Markup:
    """Multi-line PR text for the terminal: escaped, each line indented."""
    lines = escape_terminal(text, single_line=False).split("\n")
    return Markup(("\n" + indent).join(lines))


def tag(finding: Finding, judgement: Judgement) -> str:
    return TAGS[judgement.klass(finding)]


def server_tag(server: object, judgement: Judgement) -> str:
    name = getattr(server, "name", "")
    if judgement.server_blocks(name):
        return "FAIL"
    return "ERR " if any(f.status == "error" for f in getattr(server, "findings", [])) else "ok  "


@cache
def _environment() -> Environment:
    env = environment(_term_finalize)
    env.filters.update(
        tag=tag,
        server_tag=server_tag,
        skip_groups=skip_groups,
        term_block=term_block,
        term_first=term_first,
        term_more=term_more,
    )
    env.globals.update(count=count, servers_in_order=layout.servers_in_order)
    return env


def render_terminal(
    report: Report, judgement: Judgement | None = None, color: bool = False, verbose: bool = False
) -> str:
    """The summary table, then each server's failures one line each, then the verdict; `verbose` adds each
    failure's fix and log excerpt and the skipped and passing checks. No line can act as a workflow command.
    Without a judgement, the report is judged with the config waivers it records."""
    if judgement is None:
        from gym_review_bot.render.markdown import judge_recorded

        judgement = judge_recorded(report)
    template = _environment().get_template("terminal.txt.j2")
    table = terminal_table(report, judgement, color) if report.servers else ""
    text = neutralise_commands(table + template.render(report=report, j=judgement, verbose=verbose))
    return _colorize(text) if color else text


_CELL_WORDS = {"❌": "FAIL", "🚫": "ERR", "⚠️": "warn", "⏭️": "skip", "🔒": "waiv", "🕰️": "old", "✅": "ok", "–": "-"}
_CELL_STYLES = {"FAIL": "red", "ERR": "magenta", "warn": "yellow", "ok": "green"}


def terminal_table(report: Report, judgement: Judgement, color: bool) -> str:
    """The comment's family table, drawn by rich: colours only when `color` (a terminal), plain text otherwise."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("server", overflow="fold")
    for name in FAMILIES:
        table.add_column(name, justify="center", no_wrap=True)
    for server in layout.servers_in_order(report, judgement):
        if server.status == "removed":
            continue
        cells = [_CELL_WORDS[icon] for icon in layout.family_cells(server.findings, judgement, judgement.catalogue)]
        # Text, never a str: rich would read `[...]` in a server name as its own markup.
        row = [Text(escape_terminal(server.name))]
        row += [Text(cell, style=_CELL_STYLES.get(cell, "") if color else "") for cell in cells]
        table.add_row(*row)
    out = io.StringIO()
    console = Console(
        file=out,
        width=120,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )
    console.print(table)
    if report.pr:
        for family, name in zip(PR_FAMILIES, ("PR description", "commits"), strict=True):
            own = [f for f in report.pr.findings if judgement.catalogue.family(f.id) == family]
            if own and not all(f.skip_kind == "disabled_by_policy" for f in own):
                console.print(Text(f"{name}: {_CELL_WORDS[layout.cell_icon(own, judgement)]}"))
    return "\n".join(line.rstrip() for line in out.getvalue().split("\n")).rstrip("\n") + "\n\n"


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
