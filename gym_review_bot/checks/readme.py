"""Check README.md's licensing information (GR109) and that it covers code and data (GR114)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import re2

from gym_review_bot.checks import quote
from gym_review_bot.checks.base import Check, CheckError, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.licence import (
    DATASET_LINK,
    LICENCE_NAME,
    UPSTREAM,
    is_placeholder,
    is_rule_line,
    is_table_rule,
    names_licence,
    normalise,
    says_synthetic,
    split_label,
    table_cells,
)
from gym_review_bot.models import Location

# Every pattern here runs on PR text: re2, linear time whatever the input. The placeholder list and the rule that
# reads a licence statement are licence.py's, shared with GR113, GR119 and GR304.
LICENCE_HEADING = re2.compile(r"(?i)\blicen[cs]")
LABELLED = re2.compile(r"(?i)^[\s>*_-]*licen[cs](e|es|ing)?( information)?[*_\s]*:\s*\S")
SPDX = re2.compile(r"SPDX-License-Identifier:\s*[\w.+-]+")
MENTIONS_CODE = re2.compile(r"(?i)\b(code|software|implementation)\b")
MENTIONS_DATA = re2.compile(r"(?i)\b(data|datasets?|benchmark|prompts?|tasks?|examples?)\b")
MAX_CONTINUATION = 5
MAX_SECTION_LINES = 500  # non-blank lines of a licensing section; real ones have a handful
MAX_LISTED = 10  # problems quoted in one message (every one is a location)


# First characters of the lines that can start or end a heading, a code fence, an HTML comment or a quote.
_BLOCK_STARTS = frozenset("#=-`~<> \t")


@dataclass
class Licensing:
    """The README's licensing text: a section under a licence heading, or labelled paragraphs."""

    text: str
    first_line: int  # 1-based line in README.md
    spdx: bool = False  # only an `SPDX-License-Identifier:` line (often inside an HTML comment): read as it is

    def lines(self) -> list[str]:
        """The text's lines, HTML comments blanked (a licence only inside a comment states nothing)."""
        return self.text.splitlines() if self.spdx else without_comments(self.text).splitlines()


@dataclass
class Problem:
    """One line of a licensing statement that fails GR109, with its own stable key."""

    line: int
    text: str
    why: str

    @property
    def key(self) -> str:
        return f"{self.why}: {normalise(self.text)[:500]}"


def without_comments(text: str) -> str:
    """Text with every HTML comment's content blanked, line breaks kept: one pass of str.find."""
    out: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) != -1:
        end = text.find("-->", start + 4)
        end = len(text) if end == -1 else end + 3
        out += [text[pos:start], "\n" * text.count("\n", start, end)]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _heading_spans(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(level, line index, heading text) of every Markdown heading outside code fences and HTML comments,
    yielded one at a time (a README of a million headings holds none of them in a list).

    A line scanner for the block structure GR109 needs (CommonMark's ATX and setext headings, fences,
    comments, block quotes): one pass, a few string operations a line, whatever the README holds.
    """
    fence = ""  # the fence that opened the code block we are in
    in_comment = False
    after_text = False  # the line before is paragraph text: a `===` / `---` line under it makes a heading
    for i, raw in enumerate(lines):
        if not fence and not in_comment and raw[:1] not in _BLOCK_STARTS:
            after_text = bool(raw)
            continue
        line = raw.lstrip(" ")
        if fence:
            if len(raw) - len(line) <= 3 and line.startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        if in_comment:
            in_comment = "-->" not in raw
            continue
        if not line.strip() or len(raw) - len(line) > 3:
            after_text = after_text and bool(line.strip())
            continue
        while line.startswith(">"):
            line = line[1:].lstrip(" ")
        heading = _heading(line, lines[i - 1].strip() if after_text else None)
        if heading is not None:
            level, title = heading
            yield level, i - 1 if line[:1] in "=-" else i, title
            after_text = False
        elif line.startswith(("```", "~~~")):
            fence = line[0] * (len(line) - len(line.lstrip(line[0])))
            after_text = False
        elif line.startswith("<!--"):
            in_comment = "-->" not in line[4:]
            after_text = False
        else:
            after_text = True


def _heading(line: str, text_above: str | None) -> tuple[int, str] | None:
    """(level, title) when the line is an ATX heading, or a setext underline of the text above it."""
    if line.startswith("#"):
        level = len(line) - len(line.lstrip("#"))
        rest = line[level:]
        if level <= 6 and (not rest or rest[0] in " \t"):
            return level, rest.strip().rstrip("#").strip()
        return None
    underline = line.rstrip()
    if text_above and underline and underline[0] in "=-" and not underline.strip(underline[0]):
        return (1 if underline[0] == "=" else 2), text_above
    return None


def _lines_with(text: str, lowered: str, needle: str) -> list[int]:
    """Indexes of the lines (split on newlines) that contain `needle` in `lowered`: one pass of str.find."""
    found: list[int] = []
    pos, line, counted = lowered.find(needle), 0, 0
    while pos != -1:
        line += text.count("\n", counted, pos)
        counted = pos
        if not found or found[-1] != line:
            found.append(line)
        pos = lowered.find(needle, pos + 1)
    return found


def _section(lines: list[str], start: int, end: int, title: str) -> Licensing | None:
    """A licence heading's section, when it holds text (or the heading itself says `Licence: ...`)."""
    if end > start + 1 and any(line.strip() for line in lines[start + 1 : end]) or ":" in title:
        return Licensing("\n".join(lines[start:end]), start + 1)
    return None


def find_licensing(text: str) -> Licensing | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    # The first licence heading whose section (up to the next heading of its level or higher) holds text.
    open_at: tuple[int, int, str] | None = None
    for level, start, title in chain(_heading_spans(lines), [(0, len(lines), "")]):  # the last closes any open
        if open_at is not None and level <= open_at[0]:
            section = _section(lines, open_at[1], start, open_at[2])
            if section is not None:
                return section
            open_at = None
        if open_at is None and "licen" in title.lower() and LICENCE_HEADING.search(title):
            open_at = (level, start, title)
    lowered = text.lower()
    for i in _lines_with(text, lowered, "licen"):
        if ":" in lines[i] and LABELLED.search(lines[i]):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            return Licensing("\n".join(lines[i:end]), i + 1)
    for i in _lines_with(text, lowered, "spdx-license-identifier"):  # thin, but it does state the code's licence
        if SPDX.search(lines[i]):
            return Licensing(lines[i].strip(), i + 1, spdx=True)
    return None


def readme_text(ctx: ServerContext) -> tuple[str, str | None]:
    return ctx.full("README.md"), ctx.memo("readme", lambda: ctx.text("README.md"))


def readme_licensing(ctx: ServerContext) -> Licensing | None:
    """The README's licensing statement, found once per server (GR109, GR114 and GR119 read it)."""
    return ctx.memo("licensing", lambda: find_licensing(readme_text(ctx)[1] or ""))


def _known_licences(ctx: ServerContext) -> tuple[str, ...]:
    values = ctx.checkout.dataset_licences or ()
    return tuple(v for v in values if len(v.strip()) > 2 and not is_placeholder(v))


def _continued(value: str, lines: list[str], offset: int) -> str:
    """A labelled value with the unlabelled lines that continue it (a few at most: bounded work)."""
    parts = [value]
    heads_list = not value.strip()  # `Data:` over a list: its items, labelled or not, are the value
    for following in lines[offset + 1 : offset + 1 + MAX_CONTINUATION]:
        item = following.lstrip()[:2] in ("- ", "* ", "+ ")
        if not following.strip() or (split_label(following)[0] is not None and not (heads_list and item)):
            break
        parts.append(following)
    return " ".join(parts)


def _header_row(lines: list[str], offset: int) -> bool:
    following = table_cells(lines[offset + 1]) if offset + 1 < len(lines) else None
    return following is not None and is_table_rule(following)


def licensing_problems(licensing: Licensing, known: tuple[str, ...] = ()) -> list[Problem]:
    """Every line of a licensing statement that is a placeholder (a labelled value, a table cell, a bare line);
    else, when the statement names no licence at all, that. Empty: GR109 passes."""
    lines = licensing.lines()
    filled = sum(1 for line in lines if line.strip())
    if filled > MAX_SECTION_LINES:
        why = f"starts a licensing section of {filled:,} non-blank lines (the review reads {MAX_SECTION_LINES} at most)"
        return [Problem(licensing.first_line, lines[0].strip(), why)]
    problems: list[Problem] = []
    for offset, line in enumerate(lines):
        if not line.strip() or (offset == 0 and line.lstrip().startswith("#")):
            continue
        number = licensing.first_line + offset
        cells = table_cells(line)
        if cells is not None:  # `| Data | N/A |`; the header row and the rule under it say nothing
            if not is_table_rule(cells) and not _header_row(lines, offset) and any(map(is_placeholder, cells[1:])):
                problems.append(Problem(number, line.strip(), "is a placeholder where a licence belongs"))
            continue
        label, value = split_label(line)
        if label is None:
            if is_rule_line(line):
                continue  # a setext heading's underline or a thematic break (`---`, `***`), not a value
            if is_placeholder(line):
                problems.append(Problem(number, line.strip(), "is a placeholder where a licence belongs"))
        elif value.strip() and is_placeholder(value):  # `Data:` alone heads a list: its lines are read in turn
            problems.append(Problem(number, line.strip(), "is a placeholder where a licence belongs"))
    if not problems and not any(names_licence(line, known) for line in lines):
        first = lines[0].strip() if lines else ""
        problems.append(Problem(licensing.first_line, first, "the licensing section names no licence"))
    return problems


def check_licensing(ctx: ServerContext) -> Outcome:
    file, text = readme_text(ctx)
    if text is None:
        return failed(
            f"{file} is missing. Complete the README that ng_init_resources_server generates, "
            "including its `# Licensing information` section (Code: ..., Data: ...).",
            file=file,
            key="missing",
        )
    licensing = readme_licensing(ctx)
    if licensing is None:
        return failed(
            f"{file} has no licensing information. Add a `# Licensing information` section naming the "
            "licence of the code and of the data (e.g. `Code: Apache 2.0`, `Data: CC BY 4.0`).",
            file=file,
            key="no licensing section",
        )
    problems = licensing_problems(licensing, _known_licences(ctx))
    if problems:
        listed = "; ".join(f"line {p.line}: {quote.code(p.text, 120)} {p.why}" for p in problems[:MAX_LISTED])
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        return failed(
            f"{file} {listed}{more}. Name the licence (an SPDX id or name, e.g. Apache-2.0, MIT, CC-BY-SA-4.0) "
            "or link to the upstream one.",
            file=file,
            line=problems[0].line,
            # one finding, each problem a location with its own key: one new problem makes the finding new
            locations=[Location(file=file, line=p.line, key=p.key) for p in problems],
            key="\n".join(sorted({p.key for p in problems})),
        )
    return passed(f"{file} states licensing information (line {licensing.first_line}).", file=file)


def _names_licence_for(lines: list[str], topic: re2._Regexp, other: re2._Regexp, pointer: re2._Regexp) -> bool:
    """Whether some line about `topic` (with the lines that continue it) names a licence or points to one.

    The continuation runs to a blank line or a line about the other topic, so that `Code: ?` followed
    by `Data: MIT` does not lend the data's licence to the code. One backward pass: linear in the lines.
    """
    next_stop = len(lines)  # first line at or after i that ends a block
    next_named = len(lines)  # first line at or after i that names a licence (alone or with the next line)
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not line.strip():
            next_stop = i
            continue
        is_topic = topic.search(line) is not None
        # A licence named across a line break (`see the upstream ... for the\nlicense`) counts too.
        text = f"{line} {lines[i + 1]}" if next_stop > i + 1 else line
        named = names_licence(text, links=False) or pointer.search(text) is not None
        if is_topic and (named or next_named < next_stop):
            return True
        if not line.strip() or (not is_topic and other.search(line)):
            next_stop = i
        if named:
            next_named = i
    return False


def _data_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(offset, value with its continuation) of each line labelled as being about the data."""
    found = []
    for offset, line in enumerate(lines):
        label, value = split_label(line)
        if label is not None and MENTIONS_DATA.search(label) and not MENTIONS_CODE.search(label):
            found.append((offset, _continued(value, lines, offset)))
    return found


def _own_and_upstream(body: list[str]) -> bool:
    """Whether one statement names the server's own licence and its upstream source's, e.g. `Apache 2.0 (the
    upstream human-eval-infilling library is released under the MIT license)`: the first licenses the code,
    the upstream's the data taken from it (as a link to the upstream dataset would)."""
    text = " ".join(line.strip() for line in body)
    upstream = UPSTREAM.search(text)
    if upstream is None or LICENCE_NAME.search(upstream.group(0)) is None:
        return False
    return LICENCE_NAME.search(text[: upstream.start()] + " " + text[upstream.end() :]) is not None


def check_code_and_data(ctx: ServerContext) -> Outcome:
    file, readme = readme_text(ctx)
    licensing = readme_licensing(ctx)
    if licensing is None:
        raise CheckError("GR114 ran without the licensing section GR109 found")
    lines = licensing.lines()
    body = lines[1:] if len(lines) > 1 else lines  # past the heading
    known = _known_licences(ctx)
    code = _names_licence_for(body, MENTIONS_CODE, MENTIONS_DATA, UPSTREAM)
    data = _names_licence_for(body, MENTIONS_DATA, MENTIONS_CODE, DATASET_LINK)
    data_lines = _data_lines(body)
    # A `Data:` line that names neither a licence (nor where it is found) nor a synthetic origin leaves the data
    # uncovered, whatever else the section says.
    bare = [(o, v) for o, v in data_lines if not names_licence(v, known) and not says_synthetic(v)]
    statement = [line for line in body if names_licence(line, known, links=False)]
    made_here = says_synthetic(readme or "") or any(says_synthetic(v) for _, v in data_lines)
    # One licence statement covers data made for this server; an SPDX header licenses its own file, not the data.
    if made_here and statement and not bare and not licensing.spdx:
        data = True
        code = code or any(split_label(line)[0] is None or not MENTIONS_DATA.search(split_label(line)[0] or "")
                           for line in statement)  # fmt: skip
    if not (code and data) and not bare and not licensing.spdx and _own_and_upstream(body):
        code = data = True
    if bare:
        data = False
    missing = [what for what, ok in (("the code", code), ("the data", data)) if not ok]
    if missing:
        where = licensing.first_line + 1 + bare[0][0] if bare else licensing.first_line
        shown = quote.code(body[bare[0][0]].strip(), 120) if bare else ""
        said = f" {shown} names neither a licence nor a synthetic origin." if bare else ""
        return failed(
            f"{file} line {where}: the licensing information does not say what licenses "
            f"{' or '.join(missing)}.{said} State both, e.g. `Code: Apache 2.0` and `Data: CC BY 4.0` "
            "(or where the data's licence is found, or that the data is synthetic, made for this server).",
            file=file,
            line=where,
            key="does not license " + " or ".join(missing),
        )
    return passed(f"{file} states the licence of both the code and the data.", file=file)


CHECKS = [
    Check(
        "GR109",
        "error",
        "README.md states licensing information",
        "Name a recognised licence (SPDX id or name, e.g. Apache-2.0, CC-BY-4.0) or link the upstream one; "
        "never TBD, N/A, unknown, `?` (in a line, a label or a table cell).",
        family="licence",
        run=check_licensing,
    ),
    Check(
        "GR114",
        "warning",
        "Licensing covers both code and data",
        "Say what licenses the code and what licenses the data, e.g. `Code: Apache 2.0` / `Data: MIT`, or that "
        "the data is synthetic (made for this server) under the one licence stated.",
        family="licence",
        run=check_code_and_data,
        needs=("GR109",),
    ),
]
