"""PR text quoted in a finding's message: one CommonMark code span that shows exactly the text.

The message is plain text with Markdown code spans; the terminal shows it as it is and the comment renders
it (render/safety.md_inert reads code spans as CommonMark does). A backtick run inside the text is wrapped
in a longer run, so the span never ends early and never inverts; a value of several lines keeps its line
breaks visible as LINE_BREAK (a list stays readable as one, item by item).
"""

from __future__ import annotations

LINE_BREAK = " ↵ "


def _longest_run(text: str, char: str = "`") -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


def code(text: object, limit: int | None = None) -> str:
    """`text` as a code span (`limit` characters at most, with an ellipsis past them)."""
    value = LINE_BREAK.join(str(text).strip("\r\n").splitlines()) or str(text)
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    ticks = "`" * (_longest_run(value) + 1)
    # CommonMark strips one space from each end of a span that has both: pad a value that starts or ends
    # with a backtick, or with a space on both sides, so what shows is the value itself.
    pad = " " if value[:1] == "`" or value[-1:] == "`" or (value[:1] == " " and value[-1:] == " ") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def values(items: list[str] | tuple[str, ...]) -> str:
    """A list of values, each its own code span: a value holding a comma stays one value."""
    return ", ".join(code(item) for item in items)
