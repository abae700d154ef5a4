"""NeMo Gym's own re-verification mark: the `REVERIFY_MODE` a server's config class declares, read with `ast`.

`gym eval reverify` asks each server `GET /reverify_mode`, which answers its config class's
`REVERIFY_MODE` (`ReverifyMode.STATELESS`, `UNSUPPORTED` or the default `UNKNOWN`). A server marked
`UNSUPPORTED` reads per-rollout session state seeded during the original run, so replaying its stored
rollouts cannot reproduce their rewards: the audit reports it as "not replayable", never as stale.
Only the server's own Python files are read (tests aside); nothing is imported or run.
"""

from __future__ import annotations

import ast

from gym_review_bot.audit.models import ReverifyMode
from gym_review_bot.checks.checkout import MAX_PYTHON_BYTES, UnreviewablePython, parse_python
from gym_review_bot.sources import SourceTree

ATTRIBUTE = "REVERIFY_MODE"
_MODES: dict[str, ReverifyMode] = {"stateless": "stateless", "unsupported": "unsupported", "unknown": "unknown"}


def _declared(value: ast.expr) -> ReverifyMode | None:
    """`ReverifyMode.UNSUPPORTED`, `nemo_gym.ReverifyMode.UNSUPPORTED` or the string "unsupported"."""
    if isinstance(value, ast.Attribute):
        return _MODES.get(value.attr.lower())
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return _MODES.get(value.value.lower())
    return None


def _class_marks(module: ast.Module) -> list[ReverifyMode]:
    marks = []
    for node in ast.walk(module):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.Assign):
                named = any(isinstance(t, ast.Name) and t.id == ATTRIBUTE for t in stmt.targets)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                named = isinstance(stmt.target, ast.Name) and stmt.target.id == ATTRIBUTE
            else:
                continue
            mode = _declared(stmt.value) if named and stmt.value is not None else None
            if mode:
                marks.append(mode)
    return marks


def reverify_mode(tree: SourceTree, server_path: str) -> ReverifyMode | None:
    """What the server declares (`unsupported` wins over the others), or None when it declares nothing."""
    marks: list[ReverifyMode] = []
    for entry in tree.walk(server_path):
        rel = entry.path[len(server_path) + 1 :]
        if entry.kind != "file" or not rel.endswith(".py") or rel.startswith("tests/") or entry.missing:
            continue
        if entry.size > MAX_PYTHON_BYTES:
            continue
        try:
            source = tree.read(entry)
            if ATTRIBUTE.encode() not in source:
                continue  # most files never name it: no need to parse them
            module = parse_python(source, entry.path)
        except (SyntaxError, UnreviewablePython, OSError, ValueError):
            continue  # GR101 reports what cannot be parsed
        marks += _class_marks(module)
    for mode in ("unsupported", "stateless", "unknown"):
        if mode in marks:
            return mode
    return None
