"""Check README.md's licensing information (GR109) and that it covers code and data (GR114)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext

LICENCE_HEADING = re.compile(r"\blicen[cs]", re.IGNORECASE)
LABELLED = re.compile(r"^[\s>*_-]*licen[cs](e|es|ing)?( information)?[*_\s]*:\s*\S", re.IGNORECASE)
PLACEHOLDER_VALUE = re.compile(
    r"^[\s>*_-]*((\*\*)?(code|data|datasets?|software|licen[cs]e|licensing)\b[^:\n]{0,40}:(\*\*)?\s*)?"
    r"(\?+|tbd|tba|todo|coming soon|<[^>]*(licen|tbd|todo|insert|your|fill)[^>]*>|\[[^\]]*licen[^\]]*\])"
    r"\s*(<br\s*/?>)?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
LICENCE_NAME = re.compile(
    r"\b(apache|mit\b|bsd|[al]?gpl|gnu (general|lesser|affero)|mpl|mozilla public|cc[- ]?by|cc0|"
    r"creative commons|unlicen[cs]e|isc\b|public domain|odc[- ]?by|odbl|pddl|openrail|llama \d|"
    r"python software foundation|psf\b|eclipse public|epl\b|artistic licen|zlib|boost software|wtfpl|"
    r"cdla|nvidia [\w ]*licen[cs]e|nvidia open model)",
    re.IGNORECASE,
)
UPSTREAM = re.compile(
    r"(upstream|original|source)[^.\n]{0,60}licen[cs]e|licen[cs]e[^.\n]{0,60}(upstream|original)|"
    r"see [^.\n]{0,80}licen[cs]e|\]\([^)]*licen[cs]e[^)]*\)|\bLICEN[CS]E\b",
    re.IGNORECASE,
)
# A link to the upstream dataset is where its licence is found: good enough for the data.
DATASET_LINK = re.compile(r"https?://|\]\(", re.IGNORECASE)
SPDX = re.compile(r"SPDX-License-Identifier:\s*[\w.+-]+")
MENTIONS_CODE = re.compile(r"\b(code|software|implementation)\b", re.IGNORECASE)
MENTIONS_DATA = re.compile(r"\b(data|datasets?|benchmark|prompts?|tasks?|examples?)\b", re.IGNORECASE)


# Block structure only (headings, and the code blocks and HTML that hide them): that is all GR109 needs.
_BLOCK_PARSER = MarkdownIt("zero").enable(["heading", "lheading", "fence", "code", "html_block", "list", "blockquote"])


@dataclass
class Licensing:
    """The README's licensing text: a section under a licence heading, or labelled paragraphs."""

    text: str
    first_line: int  # 1-based line in README.md


def _heading_spans(text: str) -> list[tuple[int, int, str]]:
    """(level, first line index, heading text) for every Markdown heading outside code blocks."""
    tokens = _BLOCK_PARSER.parse(text)
    spans = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map:
            spans.append((int(tok.tag[1]), tok.map[0], tokens[i + 1].content))
    return spans


def find_licensing(text: str) -> Licensing | None:
    lines = text.splitlines()
    spans = _heading_spans(text)
    for n, (level, start, title) in enumerate(spans):
        if LICENCE_HEADING.search(title):
            end = next((s for lv, s, _ in spans[n + 1 :] if lv <= level), len(lines))
            body = "\n".join(lines[start:end])
            if body.strip() != lines[start].strip() or ":" in title:
                return Licensing(body, start + 1)
    for i, line in enumerate(lines):
        if LABELLED.match(line):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip()), len(lines))
            return Licensing("\n".join(lines[i:end]), i + 1)
    for i, line in enumerate(lines):  # an SPDX header is thin, but it does state the code's licence
        if SPDX.search(line):
            return Licensing(line.strip(), i + 1)
    return None


def _readme(ctx: ServerContext) -> tuple[str, str | None]:
    return ctx.full("README.md"), ctx.memo("readme", lambda: ctx.text("README.md"))


def _licensing(ctx: ServerContext) -> Licensing | None:
    return ctx.memo("licensing", lambda: find_licensing(_readme(ctx)[1] or ""))


def check_licensing(ctx: ServerContext) -> Outcome:
    file, text = _readme(ctx)
    if text is None:
        return failed(
            f"{file} is missing. Complete the README that ng_init_resources_server generates, "
            "including its `# Licensing information` section (Code: ..., Data: ...).",
            file=file,
        )
    licensing = _licensing(ctx)
    if licensing is None:
        return failed(
            f"{file} has no licensing information. Add a `# Licensing information` section naming the "
            "licence of the code and of the data (e.g. `Code: Apache 2.0`, `Data: CC BY 4.0`).",
            file=file,
        )
    placeholder = PLACEHOLDER_VALUE.search(licensing.text)
    if placeholder:
        line = licensing.first_line + licensing.text.count("\n", 0, placeholder.start())
        shown = placeholder.group(0).strip()
        return failed(
            f"{file} line {line}: `{shown}` is a placeholder where a licence belongs. Name the actual "
            "licence (e.g. Apache 2.0, MIT, CC BY-SA 4.0) or point to the upstream licence.",
            file=file,
            line=line,
        )
    if not (LICENCE_NAME.search(licensing.text) or UPSTREAM.search(licensing.text)):
        return failed(
            f"{file} line {licensing.first_line}: the licensing section names no licence. Name one "
            "(e.g. Apache 2.0, MIT, CC BY 4.0) or point to the upstream licence.",
            file=file,
            line=licensing.first_line,
        )
    return passed(f"{file} states licensing information (line {licensing.first_line}).", file=file)


def _names_licence_for(lines: list[str], topic: re.Pattern, other: re.Pattern, pointer: re.Pattern) -> bool:
    """Whether some line about `topic` (with the lines that continue it) names a licence or points to one.

    The continuation runs to a blank line or a line about the other topic, so that `Code: ?` followed
    by `Data: MIT` does not lend the data's licence to the code.
    """
    for i, line in enumerate(lines):
        if not topic.search(line):
            continue
        block = [line]
        for following in lines[i + 1 :]:
            if not following.strip() or (other.search(following) and not topic.search(following)):
                break
            block.append(following)
        joined = " ".join(block)
        if LICENCE_NAME.search(joined) or UPSTREAM.search(joined) or pointer.search(joined):
            return True
    return False


def check_code_and_data(ctx: ServerContext) -> Outcome:
    file = ctx.full("README.md")
    licensing = _licensing(ctx)
    assert licensing is not None  # GR114 needs GR109
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
        )
    return passed(f"{file} states the licence of both the code and the data.", file=file)


CHECKS = [
    Check(
        "GR109",
        "error",
        "README.md states licensing information",
        "Fill in README's `# Licensing information` section with real licences (no `?`, TBD, TODO).",
        check_licensing,
    ),
    Check(
        "GR114",
        "warning",
        "Licensing covers both code and data",
        "Say what licenses the code and what licenses the data, e.g. `Code: Apache 2.0` / `Data: MIT`.",
        check_code_and_data,
        needs=("GR109",),
    ),
]
