"""The terminal summary: the family table, one line per failure, then the judge's verdict line.

Plain Python, no template engine and no table library: `gym-review check` prints this on every run, and
loading Jinja2 and rich cost it about 70 ms. PR text is escaped for the terminal (`escape_terminal`), and
no line can act as a GitHub Actions workflow command (`neutralise_commands` over the whole output).
"""

from __future__ import annotations

import re

from gym_review_bot.catalogue import FAMILIES, PR_FAMILIES
from gym_review_bot.judge import Judgement
from gym_review_bot.models import Finding, Report, ServerReport, Summary
from gym_review_bot.render import layout
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
INDENT = " " * 9  # under a failure's line: its rest, its log, its fix
CELL_WORDS = {"❌": "FAIL", "🚫": "ERR", "⚠️": "warn", "⏭️": "skip", "🔒": "waiv", "🕰️": "old", "✅": "ok", "–": "-"}
_ANSI = {"FAIL": "\033[31m", "ERR": "\033[35m", "warn": "\033[33m", "ok": "\033[32m"}
_RESET = "\033[0m"


def render_terminal(
    report: Report, judgement: Judgement | None = None, color: bool = False, verbose: bool = False
) -> str:
    """The summary table, then each server's failures one line each, then the verdict; `verbose` adds each
    failure's fix and log excerpt and the skipped and passing checks. No line can act as a workflow command.
    Without a judgement, the report is judged with the config waivers it records."""
    if judgement is None:
        from gym_review_bot.render.markdown import judge_recorded

        judgement = judge_recorded(report)
    lines = table(report, judgement, color) if report.servers else []
    for server in layout.servers_in_order(report, judgement):
        lines += _server(server, judgement, verbose)
    if report.pr and any(f.status in ("fail", "error") for f in report.pr.findings):
        lines += _pull_request(report.pr.findings, judgement, verbose)
    lines += [f"note: {_block(note, ' ' * 6)}" for note in report.notes]
    if not judgement.complete:
        lines.append(f"incomplete: {escape_terminal('; '.join(judgement.incomplete))}")
    if not verbose and report.servers:
        lines.append("more: --verbose adds each failure's fix and log excerpt, and the skipped and passing checks")
    lines.append(verdict_line(judgement))
    text = neutralise_commands("\n".join(lines) + "\n")
    return _colorize(text) if color else text


def verdict_line(judgement: Judgement) -> str:
    """The last line: the judge's verdict and the counts (no PR text in it)."""
    s = judgement.summary
    if judgement.headline == "error":
        return (
            f"verdict: ERROR: review incomplete: {count(s.not_run, 'check')} could not run; the merge gate must not "
            f"pass it ({_counts(s, always_not_run=True)})"
        )
    incomplete = "" if judgement.complete else " (incomplete)"
    return f"verdict: {judgement.verdict.upper()}{incomplete} ({_counts(s, always_not_run=False)})"


def _counts(s: Summary, always_not_run: bool) -> str:
    parts = [count(s.errors, "error"), count(s.warnings, "warning")]
    if s.not_run or always_not_run:
        parts.append(f"{s.not_run} not run")
    parts += [f"{s.skipped} skipped", f"{s.passed} passed"]
    if s.pre_existing:
        parts.append(f"{s.pre_existing} pre-existing")
    return f"{count(s.servers, 'server')}; {', '.join(parts)}"


def table(report: Report, judgement: Judgement, color: bool) -> list[str]:
    """The comment's family table as text: the server's name, then one word per family, centred."""
    rows = []
    for server in layout.servers_in_order(report, judgement):
        if server.status != "removed":
            cells = layout.family_cells(server.findings, judgement, judgement.catalogue)
            rows.append((escape_terminal(server.name), [CELL_WORDS[icon] for icon in cells]))
    width = max([len("server"), *(len(name) for name, _ in rows)])
    head = "  ".join(["server".ljust(width), *FAMILIES])
    lines = [head, "─" * len(head)]
    for name, words in rows:
        cells = [_cell(word.center(len(family)), word, color) for word, family in zip(words, FAMILIES, strict=True)]
        lines.append("  ".join([name.ljust(width), *cells]).rstrip())
    if report.pr:
        for family, label in zip(PR_FAMILIES, ("PR description", "commits", "core change"), strict=True):
            own = [f for f in report.pr.findings if judgement.catalogue.family(f.id) == family]
            quiet = ("disabled_by_policy", "not_applicable") if family == "core" else ("disabled_by_policy",)
            if own and not all(f.skip_kind in quiet for f in own):  # no shared code changed: no core line
                word = CELL_WORDS[layout.cell_icon(own, judgement)]
                lines.append(f"{label}: {_cell(word, word, color)}")
    return [*lines, ""]


def _cell(text: str, word: str, color: bool) -> str:
    return f"{_ANSI[word]}{text}{_RESET}" if color and word in _ANSI else text


def _server(server: ServerReport, judgement: Judgement, verbose: bool) -> list[str]:
    tag = "FAIL" if judgement.server_blocks(server.name) else "ERR " if _errors(server.findings) else "ok  "
    lines = [f"{tag} {escape_terminal(server.path)} ({server.status})"]
    if server.status == "removed":
        lines.append("       removed by this PR; not checked")
    for finding in server.findings:
        if finding.status in ("fail", "error"):
            lines += _problem(finding, server.path, judgement, verbose)
    if verbose:
        for ids, kind, reason in skip_groups(server.findings):
            kind_part = f" ({kind})" if kind else ""
            lines.append(f"  [SKIP] {escape_terminal(ids)}{kind_part}: {_block(reason, INDENT)}")
        passing = [f.id for f in server.findings if f.status == "pass"]
        if passing:
            lines.append(f"  [PASS] {escape_terminal(' '.join(passing))}")
        if server.timings:
            t = server.timings
            phases = [("build", t.build_s), ("boot", t.boot_s), ("replay", t.replay_s), ("tests", t.tests_s)]
            lines.append("  timings:" + "".join(f" {p} {'-' if s is None else f'{s:.1f} s'}" for p, s in phases))
            lines.append("")
    return [*lines, ""]


def _pull_request(findings: list[Finding], judgement: Judgement, verbose: bool) -> list[str]:
    tag = "FAIL" if judgement.server_blocks(None) else "ERR " if _errors(findings) else "warn"
    lines = [f"{tag} pull request (description and commits)"]
    for finding in findings:
        if finding.status in ("fail", "error"):
            lines += _problem(finding, "", judgement, verbose)
    return [*lines, ""]


def _errors(findings: list[Finding]) -> bool:
    return any(f.status == "error" for f in findings)


def _problem(finding: Finding, server_path: str, judgement: Judgement, verbose: bool) -> list[str]:
    """`  [FAIL] GR109 title (file:line): the first sentence`, then (verbose) the rest, indented."""
    first, more = _parts(finding, server_path, judgement)
    not_run = " (could not run)" if finding.status == "error" else ""
    where = ""
    if finding.file:
        where = f" ({escape_terminal(finding.file)}{f':{finding.line}' if finding.line else ''})"
    title = f"{escape_terminal(finding.id)} {escape_terminal(finding.title)}"
    lines = [f"  [{TAGS[judgement.klass(finding)]}] {title}{not_run}{where}: {escape_terminal(first)}"]
    if verbose and more:
        lines.append(INDENT + _block(more, INDENT))
    return lines


def _parts(finding: Finding, server_path: str, judgement: Judgement) -> tuple[str, str]:
    """A failure's message as (first sentence, the rest with any log, the fix, the waiver)."""
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


def _block(text: str, indent: str) -> str:
    """Multi-line PR text for the terminal: escaped, each line indented."""
    return ("\n" + indent).join(escape_terminal(text, single_line=False).split("\n"))


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
    return _TAG.sub(lambda m: f"  {_COLORS[m.group(1)]}[{m.group(1)}]{_RESET}", text)
