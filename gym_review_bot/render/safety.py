"""Make PR text inert: in a terminal or an Actions log (text.py's one escape), and in a GitHub Markdown comment."""

from __future__ import annotations

import html
import re

from gym_review_bot.text import ZWSP as _ZWSP
from gym_review_bot.text import escape_chars, escape_output, escape_terminal, neutralise_commands

__all__ = ["escape_chars", "escape_output", "escape_terminal", "fence", "md_inert", "neutralise_commands"]


def stop_commands(text: str) -> str:
    """Wrap untrusted text for GitHub Actions: no workflow command inside is processed."""
    import secrets  # only under Actions

    token = secrets.token_hex(16)  # per run, unguessable: the text cannot end the block early
    return f"::stop-commands::{token}\n{text}\n::{token}::"


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~!])")
_BACKTICKS = re.compile(r"`+")
# What GitHub turns into links: the GFM autolink extension (scheme:// URLs, www., e-mail addresses)
# and GitHub's own pass over the rendered HTML (@mentions, #123, owner/repo#123, GH-123). cmark-gfm
# decodes entities before it autolinks, so a zero-width space (as `&#8203;`) in the right place
# leaves the text readable and breaks the match: after the scheme's colon, inside `www.`, after
# `@` and `#`, and between `GH` and `-`. No word boundaries: GitHub links `_https://x` and `a_www.x` too.
_SCHEME = re.compile(r":(?=/)")
_WWW = re.compile(r"(?i)(www)\.")
_GH_REF = re.compile(r"(?i)(gh)-(?=\d)")
_BREAK = "&#8203;"
_ISSUE_REF = re.compile(r"\\#(?=\d)")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_BLOCK_START = re.compile(r"^(\d*)([-+=.)])")  # a list item, an ordered one, a heading underline


def code_spans(text: str) -> list[tuple[bool, str]]:
    """(is code, text) pieces, code spans read as CommonMark does: a run of backticks opens a span that the next
    run of the same length closes (a run with no match is literal text); a span's content loses one space at
    each end when it has one at both (and is not all spaces). Linear: each run is looked up once."""
    if "`" not in text:
        return [(False, text)] if text else []
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(i)
    cursor = {length: 0 for length in by_length}
    pieces: list[tuple[bool, str]] = []
    plain_from, i = 0, 0
    while i < len(runs):
        start, end = runs[i]
        same = by_length[end - start]
        while cursor[end - start] < len(same) and same[cursor[end - start]] <= i:
            cursor[end - start] += 1
        if cursor[end - start] == len(same):
            i += 1  # no closing run: literal backticks
            continue
        close = same[cursor[end - start]]
        content = text[end : runs[close][0]]
        if len(content) > 1 and content[0] == " " and content[-1] == " " and content.strip(" "):
            content = content[1:-1]
        if start > plain_from:
            pieces.append((False, text[plain_from:start]))
        pieces.append((True, content))
        plain_from, i = runs[close][1], close + 1
    if plain_from < len(text):
        pieces.append((False, text[plain_from:]))
    return pieces


def md_inert(value: object) -> str:
    """Text from a PR, as inline Markdown that GitHub shows literally: no HTML, links, mentions or refs.

    Its code spans (checks quote PR text in them, checks/quote.py) become <code> holding exactly their text."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    inline = "".join(
        f"<code>{_inert_plain(part)}</code>" if is_code else _inert_plain(part)
        for is_code, part in code_spans(text.lstrip())
    )
    # Where the text starts a line it must not start a block (a list, a heading underline).
    return _BLOCK_START.sub(r"\1\\\2", inline, count=1)


def _inert_plain(text: str) -> str:
    text = escape_chars(text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = html.escape(text, quote=False)  # no raw HTML, and no `-->` that closes our marker
    text = _SCHEME.sub(f":{_BREAK}", text)
    text = _WWW.sub(rf"\1{_BREAK}.", text)
    text = _GH_REF.sub(rf"\1{_BREAK}-", text)
    # `#` is backslash-escaped above; GitHub's reference pass sees the rendered `#123` all the same. Only where a
    # reference or a mention could start (a digit after `#`, a name after `@`): `# Licensing` stays pasteable.
    if "\\#" in text:
        text = _ISSUE_REF.sub(f"\\\\#{_BREAK}", text)
    return _MENTION.sub(f"@{_BREAK}", text) if "@" in text else text


_TILDES = re.compile(r"~+")


def fence(text: str, indent: str = "") -> str:
    """A fenced code block holding text verbatim, with a fence no line of the text can close.

    Only what a code block cannot hold safely changes: control characters are spelled out (a lone
    CR would end the line and with it an enclosing list item), tabs become spaces (so the indent
    of an enclosing list item stays exact), and `<!--` gets a zero-width space so the block never
    shows a copy of the comment's hidden marker.
    """
    body = text.replace("\r\n", "\n").replace("\r", "\\r").replace("\t", "    ")
    body = escape_chars(body, keep="\n").replace("<!--", f"<!{_ZWSP}--")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    marker = "`" * max(3, longest + 1)
    if longest >= 3:  # a tilde fence may be shorter; info strings aside, both are the same block
        tildes = max((len(run) for run in _TILDES.findall(body)), default=0)
        marker = min(marker, "~" * max(3, tildes + 1), key=len)
    lines = [marker, *body.split("\n"), marker]
    return "\n".join(f"{indent}{line}" if line else line for line in lines)


_FENCE_LINE = "```"


def split_fenced(message: str) -> tuple[str, str | None, str]:
    """A message as (prose before, log excerpt or None, prose after).

    The sandbox appends a log as "\\n```\\n<log>\\n```"; the log itself may hold ``` lines, so the
    excerpt runs from the first fence line to the last one.
    """
    lines = message.split("\n")
    marks = [i for i, line in enumerate(lines) if line.strip() == _FENCE_LINE]
    if len(marks) < 2:
        return message, None, ""
    first, last = marks[0], marks[-1]
    return "\n".join(lines[:first]), "\n".join(lines[first + 1 : last]), "\n".join(lines[last + 1 :])
