"""Facts about the whole checkout that checks share: allowed values and parsed Python modules."""

from __future__ import annotations

import ast
import warnings
from functools import cached_property

from gym_review_bot.discover import CONFIG_TYPES
from gym_review_bot.git import GitError
from gym_review_bot.sources import SourceTree

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
# Python sources larger than this are never given to ast.parse. ast.parse costs about 370 MB of
# memory and 1.6 s per MB of dense code here (a 10 MB file took 34 s and 5.5 GB), so a 2 MB cap
# would let one file take ~750 MB; 512 KiB keeps a whole review under 300 MB. The largest Python
# file of any server in the nemo-gym 0.4.0 wheel is under 100 KB.
MAX_PYTHON_BYTES = 512 * 1024
MAX_PYTHON_LABEL = "512 KiB"
# Deeper ASTs are refused, not walked: no real server nests this far (a 600-term `a+a+...` does).
MAX_AST_DEPTH = 200


class UnreviewablePython(Exception):
    """Python source the review will not walk (too big, too deeply nested); the message says why."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.line = line


def parse_python(source: str | bytes, filename: str) -> ast.Module:
    """An AST under the nesting cap: SyntaxError for broken code, UnreviewablePython for absurd code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings from PR code are not ours
            module = ast.parse(source, filename=filename)
    except (RecursionError, MemoryError) as exc:
        raise UnreviewablePython(
            f"is too deeply nested to review (the Python parser gave up: {type(exc).__name__})"
        ) from None
    except ValueError as exc:  # e.g. NUL bytes in the source
        raise UnreviewablePython(f"cannot be parsed as Python ({str(exc)[:200]})") from None
    line = too_deep_at(module)
    if line is not None:
        raise UnreviewablePython(f"is too deeply nested to review (past {MAX_AST_DEPTH} levels)", line)
    return module


# Fields that never hold a subtree (names, flags) or hold only a leaf (ctx, op): not worth visiting.
_LEAF_FIELDS = {"ctx", "op", "ops", "id", "arg", "attr", "name", "module", "level", "kind", "conversion", "is_async"}
_SUBTREE_FIELDS: dict[type, tuple[str, ...]] = {}


def too_deep_at(module: ast.AST) -> int | None:
    """The line where the AST first nests past MAX_AST_DEPTH, walked level by level; None when it does not."""
    level: list[ast.AST] = [module]
    for _ in range(MAX_AST_DEPTH + 1):
        below: list[ast.AST] = []
        for node in level:  # ast.iter_child_nodes, inlined: this runs on every node of every file parsed
            fields = _SUBTREE_FIELDS.get(type(node))
            if fields is None:
                fields = _SUBTREE_FIELDS[type(node)] = tuple(f for f in node._fields if f not in _LEAF_FIELDS)
            for name in fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    below.extend([item for item in value if isinstance(item, ast.AST)])
                elif isinstance(value, ast.AST):
                    below.append(value)
        if not below:
            return None
        level = below
    return next((n.lineno for n in level if isinstance(getattr(n, "lineno", None), int)), None)


class Checkout:
    """One checkout state, parsed lazily and at most once per file.

    Facts that decide policy (the Domain enum, the licence list) come from `trusted`: in PR mode the
    merge base, so a PR cannot widen what it is checked against.
    """

    def __init__(self, tree: SourceTree, trusted: SourceTree | None = None):
        self.tree = tree
        self._modules: dict[str, tuple[str, ast.Module] | None] = {}
        self.rejected: dict[str, str] = {}  # Python files not parsed, and why (too big, too deep)
        self._facts = self if trusted is None or trusted is tree else Checkout(trusted)

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
        if entry is None or entry.kind != "file" or entry.missing:
            return None  # a missing object outside the reviewed server is ignored; inside, GR100 reports it
        if entry.size > MAX_PYTHON_BYTES:
            self.rejected[path] = f"is {entry.size / 1024:,.0f} KiB, over the {MAX_PYTHON_LABEL} cap for Python sources"
            return None
        try:
            return path, parse_python(self.tree.read(entry), path)
        except UnreviewablePython as exc:
            self.rejected[path] = str(exc)
            return None
        except (SyntaxError, GitError):
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
        return self._facts.parse(CONFIG_TYPES)

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
                        where = "" if self._facts is self else " at the merge base"
                        return values, f"{CONFIG_TYPES}{where}"
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
