"""Text from a PR, the two ways it leaves the bot: hashed (fingerprints) and shown (terminal, log, comment).

- `hash_text`: one lossless encoding. Ordinary text is its UTF-8, so fingerprints of ordinary text never
  change (stored override records depend on them); a lone surrogate (JSON can spell `\\ud800`, a file
  name's undecodable byte becomes one) is encoded as itself, never dropped, so distinct values keep
  distinct digests.
- `escape_output` (`escape_terminal`): one escape, never a strip, before printing, rendering or
  annotating: Unicode categories Cc, Cf (the bidi controls such as U+061C and U+202E, ZWJ) and Cs, the
  line and paragraph separators, and every workflow-command start (`::` at a line's start, `##[`).
  The Markdown escapes (render/safety.py) spell characters out with the same `escape_chars`.
"""

from __future__ import annotations

import re
import unicodedata

# What a terminal, a log viewer or a browser acts on, or what hides text: every character of Unicode
# categories Cc (C0, DEL, C1), Cf (format: bidi marks and overrides such as U+061C and U+202E, zero-width
# joiners, the BOM, tag characters) and Cs (lone surrogates), and the line and paragraph separators.
# Each is shown as its escape, never dropped: a ZWJ in a name stays visible.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SUSPECT = re.compile(r"[^\t\n\x20-\x7e]")  # what may be one of those: the rest is printable ASCII
LEGACY_COMMAND = "##["  # the runner finds `##[command]` anywhere in a line
ZWSP = "\u200b"


def hash_text(value: str) -> bytes:
    """Text from a PR as bytes to hash: UTF-8, with any lone surrogate encoded as itself (lossless)."""
    return value.encode("utf-8", "surrogatepass")


def visible(char: str) -> str:
    """A character as its escape: `\\x1b`, `\\u061c`, `\\U000e0041`."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape_match(match: re.Match[str]) -> str:
    char = match.group()
    return visible(char) if unicodedata.category(char) in ESCAPED_CATEGORIES else char


def escape_chars(text: str, keep: str = "\t\n") -> str:
    """Every control, format and surrogate character spelled out as its escape (tab and newline kept)."""
    out = _SUSPECT.sub(_escape_match, text)
    for char in "\t\n":
        if char not in keep:
            out = out.replace(char, visible(char))
    return out


def escape_output(value: object, single_line: bool = True) -> str:
    """Text from a PR as it may be printed, annotated or logged: the one output escape.

    Escapes (never strips) control, format (bidi) and surrogate characters, and every workflow-command
    start: `##[` anywhere, `::` at a line's start. A single-line field (a server name, a file name) also
    has its newlines and tabs spelled out; a multi-line one keeps newlines (CRLF becomes LF) and tabs,
    and the caller indents each line.
    """
    text = "" if value is None else str(value)
    if single_line:
        text = text.replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\\r")
    return neutralise_commands(escape_chars(text))


escape_terminal = escape_output  # the name the render and CLI code use


def neutralise_commands(text: str) -> str:
    """No line may be read as a workflow command: `::` after leading blanks, or `##[` anywhere."""
    lines = text.replace(LEGACY_COMMAND, f"#{ZWSP}#[").split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith("::"):
            lines[i] = line[: len(line) - len(stripped)] + "\\" + stripped
    return "\n".join(lines)
