"""Facts about the whole checkout that checks share: allowed values and parsed Python modules."""

from __future__ import annotations

import ast
import warnings
from functools import cached_property

from gym_review_bot.sources import SourceTree

CONFIG_TYPES = "nemo_gym/config_types.py"
BUNDLED_DOMAINS = (
    "math",
    "coding",
    "agent",
    "knowledge",
    "instruction_following",
    "long_context",
    "safety",
    "games",
    "translation",
    "e2e",
    "rlhf",
    "other",
)
MAX_MODULE_BYTES = 2 * 1024 * 1024


class Checkout:
    """One checkout state, parsed lazily and at most once per file."""

    def __init__(self, tree: SourceTree):
        self.tree = tree
        self._modules: dict[str, tuple[str, ast.Module] | None] = {}

    def parse(self, path: str) -> ast.Module | None:
        """A Python file of the checkout as an AST; None when absent, too big or broken."""
        if path not in self._modules:
            self._modules[path] = self._parse(path)
        found = self._modules[path]
        return found[1] if found else None

    def remember(self, path: str, module: ast.Module) -> None:
        """Keep an AST a check already parsed, so the class resolver does not parse it again."""
        self._modules.setdefault(path, (path, module))

    def _parse(self, path: str) -> tuple[str, ast.Module] | None:
        entry = self.tree.get(path)
        if entry is None or entry.kind != "file" or entry.size > MAX_MODULE_BYTES:
            return None
        source = self.tree.read(entry)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarnings from PR code are not ours
                return path, ast.parse(source, filename=path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    def module_path(self, module: str) -> str | None:
        """The file that defines a dotted module name in this checkout, if any."""
        base = module.replace(".", "/")
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if self.tree.get(candidate) is not None:
                return candidate
        return None

    @cached_property
    def _config_types(self) -> ast.Module | None:
        return self.parse(CONFIG_TYPES)

    @cached_property
    def domains(self) -> tuple[tuple[str, ...], str]:
        """Allowed `domain` values and where they come from."""
        module = self._config_types
        if module is not None:
            for node in module.body:
                if isinstance(node, ast.ClassDef) and node.name == "Domain":
                    values = tuple(
                        stmt.value.value
                        for stmt in node.body
                        if isinstance(stmt, ast.Assign)
                        and isinstance(stmt.value, ast.Constant)
                        and isinstance(stmt.value.value, str)
                    )
                    if values:
                        return values, f"the Domain enum in {CONFIG_TYPES}"
        return BUNDLED_DOMAINS, "the bot's bundled list (no Domain enum in this checkout)"

    @cached_property
    def dataset_licences(self) -> tuple[str, ...] | None:
        """The values DatasetConfig.license admits in this checkout, or None if it defines none."""
        module = self._config_types
        if module is None:
            return None
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef) and node.name == "DatasetConfig":
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.AnnAssign)
                        and isinstance(stmt.target, ast.Name)
                        and stmt.target.id == "license"
                    ):
                        values = [
                            n.value
                            for n in ast.walk(stmt.annotation)
                            if isinstance(n, ast.Constant) and isinstance(n.value, str)
                        ]
                        return tuple(values) or None
        return None
