"""Follow Python classes through imports and bases in a checkout, by AST only (nothing is imported)."""

from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass, field

from gym_review_bot.checks.checkout import Checkout

MAX_DEPTH = 25
MAX_SHOWN = 120  # characters of a base-class expression quoted in a message
# NeMo Gym's own base: known even when the checkout does not contain nemo_gym/ (its verify is abstract).
KNOWN_ABSTRACT_BASES = {("nemo_gym.base_resources_server", "SimpleResourcesServer")}
SERVER_BASE_NAMES = {"SimpleResourcesServer"}
# Bases that never define verify/step/reset; not worth a "cannot resolve" warning.
HARMLESS_BASES = {"object", "Generic", "ABC", "BaseModel", "Protocol"}


@dataclass(frozen=True)
class ClassRef:
    path: str
    node: ast.ClassDef

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class Unresolved:
    name: str
    module: str | None

    def describe(self) -> str:
        text = f"{self.name} (from {self.module})" if self.module else self.name
        return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


@dataclass(frozen=True)
class KnownBase:
    name: str


Resolved = ClassRef | Unresolved | KnownBase


@dataclass
class MethodHit:
    owner: ClassRef
    line: int


@dataclass
class Lineage:
    """What walking a class's bases found."""

    names: set[str] = field(default_factory=set)
    unresolved: list[Unresolved] = field(default_factory=list)


def module_name(path: str) -> str:
    mod = path[:-3] if path.endswith(".py") else path
    mod = mod[: -len("/__init__")] if mod.endswith("/__init__") else mod
    return mod.replace("/", ".")


def _package(path: str) -> str:
    if path.endswith("/__init__.py"):
        return module_name(path)
    return posixpath.dirname(path).replace("/", ".")


def is_abstract(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in func.decorator_list:
        name = deco.attr if isinstance(deco, ast.Attribute) else getattr(deco, "id", "")
        if name == "abstractmethod":
            return True
    return False


class ClassResolver:
    def __init__(self, checkout: Checkout):
        self.checkout = checkout
        self._symbols: dict[str, dict[str, tuple]] = {}
        self.rejected: dict[str, str] = {}  # modules the resolver needed and could not parse, and why

    def symbols(self, path: str) -> dict[str, tuple]:
        """Module-level names: ('class', node) | ('from', module, name) | ('module', module)."""
        if path in self._symbols:
            return self._symbols[path]
        table: dict[str, tuple] = {}
        self._symbols[path] = table
        tree = self.checkout.parse(path)
        if path in self.checkout.rejected:
            self.rejected[path] = self.checkout.rejected[path]
        for node in tree.body if tree else []:
            if isinstance(node, ast.ClassDef):
                table[node.name] = ("class", node)
            elif isinstance(node, ast.ImportFrom):
                source = self._absolute(path, node.module, node.level)
                for alias in node.names:
                    if alias.name != "*":
                        table[alias.asname or alias.name] = ("from", source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        table[alias.asname] = ("module", alias.name)
                    else:
                        head = alias.name.split(".")[0]
                        table[head] = ("module", head)
        return table

    def _absolute(self, path: str, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = _package(path).split(".") if _package(path) else []
        parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
        return ".".join([*parts, module] if module else parts)

    def resolve(self, path: str, expr: ast.expr, depth: int = 0) -> Resolved:
        """The class an expression in a module's bases list refers to."""
        while isinstance(expr, ast.Subscript):  # Generic[T], Base[Config]
            expr = expr.value
        if isinstance(expr, ast.Name):
            return self._resolve_symbol(path, expr.id, depth)
        if isinstance(expr, ast.Attribute):
            dotted = _dotted(expr.value)
            if dotted:
                head, _, rest = dotted.partition(".")
                sym = self.symbols(path).get(head)
                if sym and sym[0] == "module":
                    module = ".".join(p for p in (sym[1], rest) if p)
                    return self.resolve_in_module(module, expr.attr, depth + 1)
            return Unresolved(expr.attr, dotted)
        return Unresolved(f"<{type(expr).__name__} expression at line {getattr(expr, 'lineno', '?')}>", None)

    def _resolve_symbol(self, path: str, name: str, depth: int) -> Resolved:
        sym = self.symbols(path).get(name)
        if sym is None:
            return Unresolved(name, None)
        if sym[0] == "class":
            return ClassRef(path, sym[1])
        if sym[0] == "from":
            return self.resolve_in_module(sym[1], sym[2], depth + 1)
        return Unresolved(name, sym[1])

    def resolve_in_module(self, module: str, name: str, depth: int = 0) -> Resolved:
        path = self.checkout.module_path(module)
        if path is None or depth > MAX_DEPTH:
            if (module, name) in KNOWN_ABSTRACT_BASES:
                return KnownBase(name)
            return Unresolved(name, module)
        if name not in self.symbols(path):
            submodule = self.checkout.module_path(f"{module}.{name}")
            return Unresolved(name, module) if submodule is None else Unresolved(name, f"{module} (a module)")
        return self._resolve_symbol(path, name, depth)

    def bases(self, cls: ClassRef) -> list[Resolved]:
        return [self.resolve(cls.path, base) for base in cls.node.bases]

    def find_method(self, cls: ClassRef, method: str) -> tuple[MethodHit | None, list[Unresolved]]:
        """The first concrete definition of a method along the bases (depth-first, left to right)."""
        unresolved: list[Unresolved] = []
        seen: set[tuple[str, str]] = set()

        def visit(ref: ClassRef, depth: int) -> MethodHit | None:
            key = (ref.path, ref.name)
            if key in seen or depth > MAX_DEPTH:
                return None
            seen.add(key)
            for stmt in ref.node.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == method:
                    if not is_abstract(stmt):
                        return MethodHit(ref, stmt.lineno)
                if isinstance(stmt, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == method for t in stmt.targets
                ):
                    return MethodHit(ref, stmt.lineno)
            for base in self.bases(ref):
                if isinstance(base, ClassRef):
                    hit = visit(base, depth + 1)
                    if hit:
                        return hit
                elif isinstance(base, Unresolved) and base.name not in HARMLESS_BASES:
                    unresolved.append(base)
            return None

        return visit(cls, 0), unresolved

    def lineage(self, cls: ClassRef) -> Lineage:
        """Names of every class along the bases, and the bases that could not be followed."""
        out = Lineage()
        stack: list[tuple[ClassRef, int]] = [(cls, 0)]
        seen: set[tuple[str, str]] = set()
        while stack:
            ref, depth = stack.pop()
            if (ref.path, ref.name) in seen or depth > MAX_DEPTH:
                continue
            seen.add((ref.path, ref.name))
            out.names.add(ref.name)
            for base in self.bases(ref):
                if isinstance(base, ClassRef):
                    stack.append((base, depth + 1))
                elif isinstance(base, KnownBase):
                    out.names.add(base.name)
                elif base.name not in HARMLESS_BASES:
                    out.unresolved.append(base)
        return out


def _dotted(expr: ast.expr) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None; walked without recursion."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))
