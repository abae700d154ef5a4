"""The README's architecture stays true: layers, lowest first, import only downwards; one import circle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gym_review_bot"
LAYERS = [  # lowest first, as README.md's "Architecture" lists them
    ["errors", "text", "models", "waiver", "git", "sources", "safeload", "reqfile", "argtypes", "schema", "__init__"],
    ["config", "discover", "renames"],
    ["checks", "evidence", "sandbox"],
    ["catalogue"],
    ["judge", "review", "trust", "plan", "audit", "blast"],
    ["render", "audit.dashboard", "audit.progress"],  # the audit's dashboard and progress lines are output
    ["github"],
    ["cli", "demo", "__main__", "github.action", "audit.cli"],  # entry points: the Action's runs the CLI
]
KNOWN_CIRCLES = [{"checks.config", "checks.context"}]  # a check module and the context that reads its files


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "fixtures" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)] = path
    return found


def _graph() -> dict[str, set[str]]:
    """Every import of one of the package's modules by another, at any depth of the file (lazy ones too)."""
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for full in names:
                if not full.startswith("gym_review_bot."):
                    continue
                target = full.removeprefix("gym_review_bot.")
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name:
                    edges[name].add(target)
    return edges


def _layer(module: str) -> int:
    best = (-1, -1)
    for n, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[1]:
                best = (n, len(prefix))
    assert best[0] >= 0, f"{module} is in no layer: add it to README.md's architecture and to LAYERS"
    return best[0]


def _circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for module in list(edges):
        if module not in index:
            visit(module)
    return out


def test_there_is_one_import_circle_the_two_file_context_config_read() -> None:
    assert _circles(_graph()) == KNOWN_CIRCLES


def test_no_module_imports_from_a_higher_layer() -> None:
    edges = _graph()
    upwards = sorted((a, b) for a, targets in edges.items() for b in targets if _layer(b) > _layer(a))
    assert upwards == [], upwards
