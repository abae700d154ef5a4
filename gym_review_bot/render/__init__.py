"""Turn a Report into text: the PR checklist (Markdown) and the terminal summary, both from templates.

Everything from the PR passes through `render.safety` on its way out: each template's `finalize`
escapes every expression, and only text built here from escaped parts (a `Markup`) goes out as is.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render import layout
from gym_review_bot.render.layout import Delta, Links
from gym_review_bot.render.safety import (
    escape_terminal,
    fence,
    md_inert,
    neutralise_commands,
    split_fenced,
    stop_commands,
)

__all__ = [
    "MARKER",
    "CommentContext",
    "Delta",
    "Links",
    "escape_terminal",
    "md_inert",
    "fence",
    "render_markdown",
    "render_terminal",
    "stop_commands",
]

MARKER = "<!-- gym-review-bot -->"
ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "pre": "🕰️", "error": "🚫", "waived": "🔒"}
SKIP_KINDS = {
    "not_applicable": "",  # its reason says why
    "prerequisite_failed": "",  # its reason says it: "waits on GR109"
    "not_requested": "not requested",
    "disabled_by_policy": "off by policy",
}
FIX_PREFIX = "How to fix:"
POLICY_OFF = "this registry's rules (.gym-review.yaml) do not ask for them"


@dataclass
class Detail:
    """How much of the report a comment shows; `fit.fit_comment` lowers it until the comment fits."""

    passing: bool = True  # list passing checks
    logs: bool = True  # show log excerpts
    message_chars: int | None = None  # cut prose to this many characters (0: id and title only)
    hints: bool = True  # fix hints and skip reasons
    cut: list[str] = field(default_factory=list)  # what was left out, said in the comment


@dataclass
class CommentContext:
    """What the bot knows beyond the report: all of it from the bot's own inputs, never from the PR."""

    links: Links = field(default_factory=Links)  # the repository and head SHA file links point at
    delta: Delta | None = None  # what changed since the previous review; None on the first one
    run_url: str | None = None
    first_comment: bool = False  # the guide's link goes on the first comment only
    override_help: bool = False  # the bot publishes and something blocks: say how maintainers override
    guide_url: str = layout.GUIDE_URL


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
    """Skipped findings as (ids, kind, reason): all with the same kind and reason on one line, runs as ranges."""
    groups: dict[tuple[str, str], list[list[str]]] = {}
    previous: tuple[str, str] | None = None
    for f in findings:
        reason = POLICY_OFF if f.skip_kind == "disabled_by_policy" else skip_reason(f)
        key = (SKIP_KINDS.get(f.skip_kind or "", ""), reason) if f.status == "skip" else None
        if key is not None:
            runs = groups.setdefault(key, [])
            if previous == key:
                runs[-1].append(f.id)
            else:
                runs.append([f.id])
        previous = key
    return [(", ".join(_run(r) for r in runs), kind, reason) for (kind, reason), runs in groups.items()]


_WAITS_ON = re.compile(r"^(?:Not run: )?(waits on GR[0-9]+(?:, GR[0-9]+)*)")


def skip_reason(finding: Finding) -> str:
    """Why a check was skipped, short: "waits on GR109" for a failed prerequisite, else the first sentence."""
    waits = _WAITS_ON.match(finding.message)
    if finding.skip_kind == "prerequisite_failed" and waits:
        return waits.group(1)
    text = finding.message.removeprefix("Not run: ").removeprefix("Not applicable: ")
    first, _ = layout.split_message(text[:1].upper() + text[1:])
    return first


_SAID_ONCE = ("not requested", "off by policy")  # the run's or the registry's choice, the same for every check


def fold_skips(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Skip lines for the comment: one line per kind where the reason is the run's or the registry's
    choice (said once in the comment's head), one per reason otherwise."""
    merged: dict[str, list[str]] = {}
    lines: list[tuple[str, str, str]] = []
    for ids, kind, reason in skip_groups(findings):
        if kind in _SAID_ONCE:
            merged.setdefault(kind, []).append(ids)
        else:
            lines.append((ids, kind, reason))
    return [(", ".join(ids), kind, "") for kind, ids in merged.items()] + lines


def _run(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]}"


_NUMBERED = re.compile(r"^([A-Z]+)([0-9]+)$")


def id_runs(findings: list[Finding]) -> str:
    """Check ids as runs of consecutive numbers: `GR100–GR103, GR105, GR110–GR113`."""
    runs: list[list[str]] = []
    last: tuple[str, int] | None = None
    for f in findings:
        m = _NUMBERED.match(f.id)
        key = (m.group(1), int(m.group(2))) if m else None
        if key and last and runs and key == (last[0], last[1] + 1):
            runs[-1].append(f.id)
        else:
            runs.append([f.id])
        last = key
    return ", ".join(_run(r) for r in runs)


def problem_counts(report: Report, not_run: bool = True) -> str:
    """The heading's counts: "3 errors, 1 warning in 1 server", only the kinds there are."""
    s = report.summary
    parts = [_count(s.errors, "error"), _count(s.warnings, "warning"), f"{s.not_run if not_run else 0} not run"]
    parts.append(f"{s.pre_existing} pre-existing")
    shown = [part for part in parts if not part.startswith("0 ")]
    servers = _count(s.servers, "server")
    return f"{', '.join(shown)} in {servers}" if shown else servers


def incomplete_reasons(report: Report) -> list[str]:
    """Why `complete` is false, in words; empty when it is true."""
    if report.complete:
        return []
    not_run = report.summary.not_run
    not_requested = sum(f.skip_kind == "not_requested" for s in report.servers for f in s.findings)
    no_sandbox = [s for s in report.servers if s.status in ("added", "changed") and not s.sandbox_ran]
    reasons = []
    if no_sandbox:
        reasons.append(f"sandbox not run ({_count(len(no_sandbox), 'server')})")
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


def md_where(finding: Finding, server_path: str, links: Links) -> str:
    """` · file:line`, a link to the line at the head SHA when the bot knows the repository and SHA."""
    shown = layout.relative(finding.file, server_path)
    if not shown:
        return ""
    if finding.line:
        shown += f":{finding.line}"
    url = links.to(finding.file, finding.line)
    return f" · [{md_inert(shown)}]({url})" if url else f" · <code>{md_inert(shown)}</code>"


def md_problem(finding: Finding, server_path: str, detail: Detail, links: Links) -> Markup:
    """One problem as one list item: icon, id, title, link, the message's first sentence; the rest folded."""
    not_run = " (could not run)" if finding.status == "error" else ""
    head = f"- {finding_icon(finding)} **{md_inert(finding.id)}** {md_inert(finding.title)}{not_run}"
    head += md_where(finding, server_path, links)
    if detail.message_chars == 0:
        return Markup(head)
    before, log, after = split_fenced(layout.short_message(finding, server_path))
    first, rest = layout.split_message(before)
    head += f": {md_inert(_cut(first, detail.message_chars))}"
    folded = []  # in the message's own order: its rest, the log, what follows the log, then the fix
    if detail.hints and rest.strip():
        folded.append(md_inert(_cut(rest, detail.message_chars)))
    if log is not None:
        folded.append(fence(log, "  ") if detail.logs else "(log excerpt cut)")
    if detail.hints and after.strip():
        folded.append(md_inert(_cut(after, detail.message_chars)))
    # The check's generic fix hint only where the message gives no advice of its own past its first sentence.
    if detail.hints and needs_fix(finding) and not rest.strip():
        fix = md_inert(_cut(finding.fix, detail.message_chars))
        folded.append(f"{FIX_PREFIX} {fix}" if folded else fix)  # alone under "Fix", it needs no label
    if not folded:
        return Markup(head)
    label = "Fix" if needs_fix(finding) or FIX_PREFIX in after else "Details"
    label += " and log" if log is not None and detail.logs else ""
    body = "\n\n".join(part if part.startswith("  ") else f"  {part}" for part in folded)
    return Markup(f"{head}\n  <details><summary>{label}</summary>\n\n{body}\n\n  </details>")


def table_row(server: ServerReport) -> Markup:
    """A server's row: its name (escaped; `|` too, so the row keeps its cells) and one icon per family."""
    cells = " | ".join(layout.family_cells(server.findings, ICONS))
    return Markup(f"| <code>{md_inert(server.name)}</code> | {cells} |")


def pr_line(findings: list[Finding]) -> Markup:
    """The PR description's line under the table: its worst outcome, the failing ids, or why it was skipped."""
    icon = layout.cell_icon(findings, ICONS)
    failing = [f.id for f in findings if f.status in ("fail", "error")]
    if failing:
        return Markup(f"PR description: {icon} ({', '.join(md_inert(i) for i in failing)})")
    skipped = [f"{ids} {kind or reason}".strip() for ids, kind, reason in skip_groups(findings)]
    return Markup(f"PR description: {icon}" + (f" ({md_inert('; '.join(skipped))})" if skipped else ""))


def delta_line(delta: Delta) -> Markup:
    """ "Since abc1234: 3 fixed, 1 new (GR109), 2 still failing", or that nothing changed."""
    since = f"Since {md_inert(delta.head[:7])}"
    if not delta.fixed and not delta.new and not delta.new_more:
        still = f" ({_count(delta.still, 'failure')} still failing)" if delta.still else ""
        return Markup(f"**{since}:** no change{still}.")
    parts = []
    if delta.fixed:
        parts.append(f"{delta.fixed}{'+' if delta.partial else ''} fixed")
    if delta.new or delta.new_more:
        ids = sorted(dict.fromkeys(delta.new))
        more = ", …" if delta.new_more else ""
        parts.append(f"{len(delta.new) + delta.new_more} new ({', '.join(md_inert(i) for i in ids)}{more})")
    if delta.still:
        parts.append(f"{delta.still} still failing")
    return Markup(f"**{since}:** {', '.join(parts)}.")


def legend(text: str) -> Markup:
    """Only the icons the comment uses, each said once."""
    words = {
        "fail": "blocks merge",
        "error": "could not run (never a pass)",
        "warn": "warning",
        "skip": "skipped",
        "pre": "pre-existing (base fails it too)",
        "waived": "waived or overridden",
    }
    # ⏭️ says itself, and ❌ only needs saying next to ⚠️ (which does not block).
    shown = [k for k in words if ICONS[k] in text and k != "skip" and (k != "fail" or ICONS["warn"] in text)]
    return Markup(" · ".join(f"{ICONS[k]} {words[k]}" for k in shown))


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


def _term_parts(finding: Finding, server_path: str) -> tuple[str, str]:
    """A failure's message for the terminal as (first sentence, the rest with any log and the fix)."""
    before, log, after = split_fenced(layout.short_message(finding, server_path))
    first, rest = layout.split_message(before.strip())
    parts = [rest] if rest else []
    if log is not None:
        parts.append(f"```\n{log}\n```")
    if after.strip():
        parts.append(after.strip())
    if needs_fix(finding) and not rest:
        parts.append(f"{FIX_PREFIX} {finding.fix}")
    return first, "\n".join(parts)


def term_first(finding: Finding, server_path: str) -> Markup:
    """The failure's one line: its first sentence, escaped for the terminal (PR text on one line)."""
    return Markup(escape_terminal(_term_parts(finding, server_path)[0]))


def term_more(finding: Finding, server_path: str) -> str:
    return _term_parts(finding, server_path)[1]


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
        id_runs=id_runs,
        fold_skips=fold_skips,
        with_fix=with_fix,
        md_message=md_message,
        term_block=term_block,
        term_first=term_first,
        term_more=term_more,
        cut=_cut,
        chart_text=chart_text,
        md_problem=md_problem,
        table_row=table_row,
        pr_line=pr_line,
        delta_line=delta_line,
    )
    env.tests["needing_fix"] = needs_fix
    env.tests["has_problem"] = layout.has_problem
    env.globals.update(
        incomplete_reasons=incomplete_reasons,
        problem_counts=problem_counts,
        count=_count,
        ICONS=ICONS,
        TABLE_HEAD=Markup(f"| server | {' | '.join(layout.FAMILIES)} |\n|-|{':-:|' * len(layout.FAMILIES)}"),
        FOLD_SERVERS=layout.FOLD_SERVERS,
        RECHECK=layout.RECHECK,
        REPRODUCE=layout.REPRODUCE,
        servers_in_order=layout.servers_in_order,
        has_problem=layout.has_problem,
        page_url=layout.page_url,
        legend=legend,
    )
    return env


def render_comment(report: Report, detail: Detail, context: CommentContext | None = None) -> str:
    """The comment at one level of detail (see `fit.fit_comment` for the one that fits)."""
    context = context or CommentContext()
    body = _environment(markdown=True).get_template("comment.md.j2").render(report=report, detail=detail, ctx=context)
    return body.rstrip("\n") + "\n\n" + footer(report, context, body) + "\n"


_VERSION = re.compile(r"^[0-9A-Za-z.+-]{1,40}$")


def footer(report: Report, context: CommentContext, body: str) -> str:
    """The legend for the icons used, then version, run, how to re-run and reproduce; the guide on the first comment."""
    shown = report.tool_version if _VERSION.match(report.tool_version) else md_inert(report.tool_version)
    version = f"gym-review {shown}" if report.tool_version else "gym-review"
    if report.head_sha and layout.is_sha(report.head_sha):
        version += f" at {report.head_sha[:7]}"
    parts = [version]
    run = layout.page_url(context.run_url)
    if run:
        parts.append(f"[logs]({run})")
    parts.append(f"re-run: `{layout.RECHECK}`")
    parts.append(f"locally: `{layout.REPRODUCE}`")
    guide = layout.page_url(context.guide_url)
    if context.first_comment and guide:
        parts.append(f"new here? [guide]({guide})")
    if context.override_help:
        parts.append(f"maintainers: `{layout.OVERRIDE}`")
    lines = [f"<sub>{' · '.join(parts)}</sub>"]
    used = legend(body)
    return "\n\n".join([f"<sub>{used}</sub>", *lines] if used else lines)


def render_markdown(report: Report, context: CommentContext | None = None) -> str:
    """The sticky PR comment: summary first, then one line per problem; never over GitHub's size limit."""
    from gym_review_bot.render.fit import fit_comment

    return fit_comment(report, context=context)


# --- Terminal ---------------------------------------------------------------------------------


def render_terminal(report: Report, color: bool = False, verbose: bool = False) -> str:
    """The summary table, then each server's failures one line each, then the verdict; `verbose` adds each
    failure's fix and log excerpt and the skipped and passing checks. No line can act as a workflow command."""
    template = _environment(markdown=False).get_template("terminal.txt.j2")
    table = terminal_table(report, color) if report.servers else ""
    text = neutralise_commands(table + template.render(report=report, verbose=verbose))
    return _colorize(text) if color else text


_CELL_WORDS = {"❌": "FAIL", "🚫": "ERR", "⚠️": "warn", "⏭️": "skip", "🔒": "waiv", "🕰️": "old", "✅": "ok", "–": "-"}
_CELL_STYLES = {"FAIL": "red", "ERR": "magenta", "warn": "yellow", "ok": "green"}


def terminal_table(report: Report, color: bool) -> str:
    """The comment's family table, drawn by rich: colours only when `color` (a terminal), plain text otherwise."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("server", overflow="fold")
    for name in layout.FAMILIES:
        table.add_column(name, justify="center", no_wrap=True)
    for server in layout.servers_in_order(report):
        if server.status == "removed":
            continue
        cells = [_CELL_WORDS[icon] for icon in layout.family_cells(server.findings, ICONS)]
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
        console.print(Text(f"PR description: {_CELL_WORDS[layout.cell_icon(report.pr.findings, ICONS)]}"))
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
