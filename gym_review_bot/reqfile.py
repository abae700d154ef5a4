"""pip requirements files as pip reads them: comments dropped, backslash continuations joined."""

from __future__ import annotations

import re


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with comments stripped and backslash continuations joined, numbered from 1."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            out.append((start, full))
    if pending.strip():
        out.append((start, pending.strip()))
    return out
