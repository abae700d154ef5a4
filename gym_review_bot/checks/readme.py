"""Check README.md's licensing information (GR109) and that it covers code and data (GR114)."""

from __future__ import annotations

from dataclasses import dataclass

import re2

from gym_review_bot.checks.base import Check, CheckError, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext

# Every pattern here runs on PR text: re2, linear time whatever the input.
LICENCE_HEADING = re2.compile(r"(?i)\blicen[cs]")
LABELLED = re2.compile(r"(?i)^[\s>*_-]*licen[cs](e|es|ing)?( information)?[*_\s]*:\s*\S")
LICENCE_NAME = re2.compile(
    r"(?i)\b(apache|mit\b|bsd|[al]?gpl|gnu (general|lesser|affero)|mpl|mozilla public|cc[- ]?by|cc0|"
    r"creative commons|unlicen[cs]e|isc\b|public domain|odc[- ]?by|odbl|pddl|openrail|llama \d|"
    r"python software foundation|psf\b|eclipse public|epl\b|artistic licen|zlib|boost software|wtfpl|"
    r"cdla|nvidia [\w ]*licen[cs]e|nvidia open model|gemma terms|eupl|bsl-1\.0|upl-1\.0|ms-pl|0bsd)"
)
UPSTREAM = re2.compile(
    r"(?i)(upstream|original|source)[^.\n]{0,60}licen[cs]e|licen[cs]e[^.\n]{0,60}(upstream|original)|"
    r"see [^.\n]{0,80}licen[cs]e|\]\([^)]*licen[cs]e[^)]*\)"
)
LICENCE_FILE = re2.compile(r"\bLICEN[CS]E(\.md|\.txt)?\b")  # a pointer to the licence file, in capitals
# A link to the upstream dataset is where its licence is found: good enough for the data.
DATASET_LINK = re2.compile(r"(?i)https?://|\]\(")
SPDX = re2.compile(r"SPDX-License-Identifier:\s*[\w.+-]+")
MENTIONS_CODE = re2.compile(r"(?i)\b(code|software|implementation)\b")
MENTIONS_DATA = re2.compile(r"(?i)\b(data|datasets?|benchmark|prompts?|tasks?|examples?)\b")
TOPIC_LABEL = re2.compile(r"(?i)\b(code|software|implementation|data|datasets?|licen[cs]e|licensing)\b")
# Values that stand where a licence belongs (compared after normalising: lower case, decoration stripped).
PLACEHOLDERS = frozenset(
    {
        "?", "-", "--", "---", "\u2014", "\u2013", "...", "\u2026", "tbd", "tba", "tbc", "todo", "to do", "n/a", "na",
        "none", "unknown", "pending", "pending legal", "pending legal review", "to be determined", "to be decided",
        "to be announced", "to be confirmed", "coming soon", "later", "xxx", "license", "licence", "fill in",
        "insert license", "your license", "placeholder",
    }
)  # fmt: skip
MAX_CONTINUATION = 5
MAX_SECTION_LINES = 500  # non-blank lines of a licensing section; real ones have a handful
PLACEHOLDER_WORDS = frozenset({"tbd", "tba", "tbc", "todo", "pending", "unknown", "fixme"})
PLACEHOLDER_PHRASES = ("to be determined", "to be decided", "to be announced", "to be confirmed", "coming soon")


# First characters of the lines that can start or end a heading, a code fence, an HTML comment or a quote.
_BLOCK_STARTS = frozenset("#=-`~<> \t")


@dataclass
class Licensing:
    """The README's licensing text: a section under a licence heading, or labelled paragraphs."""

    text: str
    first_line: int  # 1-based line in README.md


def _heading_spans(lines: list[str]) -> list[tuple[int, int, str]]:
    """(level, line index, heading text) of every Markdown heading outside code fences and HTML comments.

    A line scanner for the block structure GR109 needs (CommonMark's ATX and setext headings, fences,
    comments, block quotes): one pass, a few string operations a line, whatever the README holds.
    """
    spans: list[tuple[int, int, str]] = []
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
            spans.append((level, i - 1 if line[:1] in "=-" else i, title))
            after_text = False
        elif line.startswith(("```", "~~~")):
            fence = line[0] * (len(line) - len(line.lstrip(line[0])))
            after_text = False
        elif line.startswith("<!--"):
            in_comment = "-->" not in line[4:]
            after_text = False
        else:
            after_text = True
    return spans


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


def _section_ends(spans: list[tuple[int, int, str]], end: int) -> list[int]:
    """Where each heading's section ends: the next heading of the same or a higher level (one pass, a stack)."""
    ends = [end] * len(spans)
    open_spans: list[int] = []
    for n, (level, start, _) in enumerate(spans):
        while open_spans and spans[open_spans[-1]][0] >= level:
            ends[open_spans.pop()] = start
        open_spans.append(n)
    return ends


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


def find_licensing(text: str) -> Licensing | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    spans = _heading_spans(lines)
    for (_, start, title), end in zip(spans, _section_ends(spans, len(lines)), strict=True):
        if "licen" in title.lower() and LICENCE_HEADING.search(title):
            if end > start + 1 and any(line.strip() for line in lines[start + 1 : end]) or ":" in title:
                return Licensing("\n".join(lines[start:end]), start + 1)
    lowered = text.lower()
    for i in _lines_with(text, lowered, "licen"):
        if ":" in lines[i] and LABELLED.search(lines[i]):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            return Licensing("\n".join(lines[i:end]), i + 1)
    for i in _lines_with(text, lowered, "spdx-license-identifier"):  # thin, but it does state the code's licence
        if SPDX.search(lines[i]):
            return Licensing(lines[i].strip(), i + 1)
    return None


def _readme(ctx: ServerContext) -> tuple[str, str | None]:
    return ctx.full("README.md"), ctx.memo("readme", lambda: ctx.text("README.md"))


def _licensing(ctx: ServerContext) -> Licensing | None:
    return ctx.memo("licensing", lambda: find_licensing(_readme(ctx)[1] or ""))


def _normalise(text: str) -> str:
    """A licence value without Markdown decoration, line breaks or closing punctuation, lower-cased."""
    text = text.replace("<br>", " ").replace("<br/>", " ").replace("<br />", " ")
    text = text.strip().strip("*_`>#").strip()
    if text[:2] in ("- ", "* ", "+ "):
        text = text[2:]
    return " ".join(text.strip().strip("*_`").strip().rstrip(".,;:!").lower().split())


def _split_label(line: str) -> tuple[str | None, str]:
    """`**Code**: Apache 2.0` as ("code", "Apache 2.0"); a line with no short label as (None, line)."""
    body = _normalise(line) if line.strip() else ""
    colon = line.find(":")
    if colon == -1 or colon > 80 or "://" in line[: colon + 3]:
        return None, body
    label = _normalise(line[:colon])
    if not label or len(label) > 60:
        return None, body
    return label, line[colon + 1 :]


def _is_placeholder(value: str) -> bool:
    norm = _normalise(value)
    if norm in PLACEHOLDERS or (norm.startswith("<") and norm.endswith(">")):
        return True
    if norm.startswith("[") and norm.endswith("]") and "licen" in norm:
        return True
    words = set("".join(c if c.isalnum() else " " for c in norm).split())
    return bool(words & PLACEHOLDER_WORDS) or any(phrase in norm for phrase in PLACEHOLDER_PHRASES)


def names_licence(text: str, known: tuple[str, ...] = (), links: bool = True) -> bool:
    """Whether text names a recognised licence (SPDX id, spelled-out name, a DatasetConfig value) or links to one."""
    if LICENCE_NAME.search(text) or UPSTREAM.search(text) or LICENCE_FILE.search(text):
        return True
    if links and DATASET_LINK.search(text):
        return True
    lowered = text.lower()
    return any(value.lower() in lowered for value in known)


def _known_licences(ctx: ServerContext) -> tuple[str, ...]:
    values = ctx.checkout.dataset_licences or ()
    return tuple(v for v in values if len(v.strip()) > 2 and not _is_placeholder(v))


def _continued(value: str, lines: list[str], offset: int) -> str:
    """A labelled value with the unlabelled lines that continue it (a few at most: bounded work)."""
    parts = [value]
    for following in lines[offset + 1 : offset + 1 + MAX_CONTINUATION]:
        if not following.strip() or _split_label(following)[0] is not None:
            break
        parts.append(following)
    return " ".join(parts)


def licensing_problem(licensing: Licensing, known: tuple[str, ...] = ()) -> tuple[int, str, str] | None:
    """The first line of a licensing section that is a placeholder or names no licence: (line, text, why)."""
    lines = licensing.text.splitlines()
    filled = sum(1 for line in lines if line.strip())
    if filled > MAX_SECTION_LINES:
        why = f"starts a licensing section of {filled:,} non-blank lines (the review reads {MAX_SECTION_LINES} at most)"
        return licensing.first_line, lines[0].strip(), why
    for offset, line in enumerate(lines):
        if not line.strip() or (offset == 0 and line.lstrip().startswith("#")):
            continue
        label, value = _split_label(line)
        number = licensing.first_line + offset
        if label is None:
            if _is_placeholder(line):
                return number, line.strip(), "is a placeholder where a licence belongs"
            continue
        if not value.strip() or _normalise(value) == "":
            continue  # `Data:` followed by a list: the list's lines are read in turn
        if _is_placeholder(value):
            return number, line.strip(), "is a placeholder where a licence belongs"
        if TOPIC_LABEL.search(label) and not names_licence(_continued(value, lines, offset), known):
            return number, line.strip(), "names no recognised licence"
    if not any(names_licence(line, known) for line in lines):
        return licensing.first_line, lines[0].strip() if lines else "", "the licensing section names no licence"
    return None


def check_licensing(ctx: ServerContext) -> Outcome:
    file, text = _readme(ctx)
    if text is None:
        return failed(
            f"{file} is missing. Complete the README that ng_init_resources_server generates, "
            "including its `# Licensing information` section (Code: ..., Data: ...).",
            file=file,
            key="missing",
        )
    licensing = _licensing(ctx)
    if licensing is None:
        return failed(
            f"{file} has no licensing information. Add a `# Licensing information` section naming the "
            "licence of the code and of the data (e.g. `Code: Apache 2.0`, `Data: CC BY 4.0`).",
            file=file,
            key="no licensing section",
        )
    problem = licensing_problem(licensing, _known_licences(ctx))
    if problem:
        line, shown, why = problem
        return failed(
            f"{file} line {line}: `{shown[:120]}` {why}. Name the licence (an SPDX id or name, "
            "e.g. Apache-2.0, MIT, CC-BY-SA-4.0) or link to the upstream one.",
            file=file,
            line=line,
            key=f"{why}: {_normalise(shown)[:500]}",
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


def check_code_and_data(ctx: ServerContext) -> Outcome:
    file = ctx.full("README.md")
    licensing = _licensing(ctx)
    if licensing is None:
        raise CheckError("GR114 ran without the licensing section GR109 found")
    lines = licensing.text.splitlines()
    body = lines[1:] if len(lines) > 1 else lines  # past the heading
    missing = [
        what
        for what, topic, other, pointer in (
            ("the code", MENTIONS_CODE, MENTIONS_DATA, UPSTREAM),
            ("the data", MENTIONS_DATA, MENTIONS_CODE, DATASET_LINK),
        )
        if not _names_licence_for(body, topic, other, pointer)
    ]
    if missing:
        return failed(
            f"{file} line {licensing.first_line}: the licensing information does not say what licenses "
            f"{' or '.join(missing)}. State both, e.g. `Code: Apache 2.0` and `Data: CC BY 4.0` "
            "(or where the data's licence is found).",
            file=file,
            line=licensing.first_line,
            key="does not license " + " or ".join(missing),
        )
    return passed(f"{file} states the licence of both the code and the data.", file=file)


CHECKS = [
    Check(
        "GR109",
        "error",
        "README.md states licensing information",
        "Name a recognised licence (SPDX id or name, e.g. Apache-2.0, CC-BY-4.0) or link the upstream one; "
        "never TBD, N/A, unknown, `?`.",
        family="licence",
        run=check_licensing,
    ),
    Check(
        "GR114",
        "warning",
        "Licensing covers both code and data",
        "Say what licenses the code and what licenses the data, e.g. `Code: Apache 2.0` / `Data: MIT`.",
        family="licence",
        run=check_code_and_data,
        needs=("GR109",),
    ),
]
