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
class Doubt:
    """Why the review cannot tell what a class's method is: an assignment, a decorator it does not know."""

    owner: ClassRef
    line: int
    reason: str


@dataclass
class Lookup:
    """Where a method was found along a class's bases: a concrete definition, an abstract one, or a doubt."""

    hit: MethodHit | None = None
    abstract: MethodHit | None = None  # an `abstractmethod` (under any name) is the first definition found
    doubt: Doubt | None = None
    unresolved: list[Unresolved] = field(default_factory=list)  # bases that could not be followed


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


# Decorators that leave a method what it is (typing's `override` only marks it).
HARMLESS_DECORATORS = {"override"}
TRUSTED_PACKAGE = "nemo_gym"  # NeMo Gym's own code: read from the merge base, never from a PR's head
MAX_UNRESOLVED = 10


class ClassResolver:
    """Classes and their methods, followed by AST through imports and bases; every answer memoised, so the
    work is linear in the classes and bases the files hold. NeMo Gym's own package (`nemo_gym/`) is read
    from the trusted checkout (the merge base in PR mode): a PR cannot make its base classes concrete."""

    def __init__(self, checkout: Checkout):
        self.checkout = checkout
        self._symbols: dict[str, dict[str, tuple]] = {}
        self._bases: dict[tuple[str, int], list[Resolved]] = {}
        self._resolved: dict[tuple[str, str], Resolved] = {}  # (module path, name) -> what the name is
        self._lookups: dict[tuple[str, int, str], Lookup | None] = {}  # None: being computed (a cycle)
        self._lineages: dict[tuple[str, int], Lineage | None] = {}
        self.rejected: dict[str, str] = {}  # modules the resolver needed and could not parse, and why

    def _code(self, path: str) -> Checkout:
        trusted = path == f"{TRUSTED_PACKAGE}.py" or path.startswith(f"{TRUSTED_PACKAGE}/")
        return self.checkout.trusted_code() if trusted else self.checkout

    def symbols(self, path: str) -> dict[str, tuple]:
        """Module-level names: ('class', node) | ('from', module, name) | ('module', module)."""
        if path in self._symbols:
            return self._symbols[path]
        table: dict[str, tuple] = {}
        self._symbols[path] = table
        code = self._code(path)
        tree = code.parse(path)
        if path in code.rejected:
            self.rejected[path] = code.rejected[path]
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

    def module_path(self, module: str) -> str | None:
        trusted = module == TRUSTED_PACKAGE or module.startswith(f"{TRUSTED_PACKAGE}.")
        return (self.checkout.trusted_code() if trusted else self.checkout).module_path(module)

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
        key = (path, name)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve_symbol_once(path, name, depth)
        return found

    def _resolve_symbol_once(self, path: str, name: str, depth: int) -> Resolved:
        sym = self.symbols(path).get(name)
        if sym is None:
            return Unresolved(name, None)
        if sym[0] == "class":
            return ClassRef(path, sym[1])
        if sym[0] == "from":
            return self.resolve_in_module(sym[1], sym[2], depth + 1)
        return Unresolved(name, sym[1])

    def resolve_in_module(self, module: str, name: str, depth: int = 0) -> Resolved:
        path = self.module_path(module)
        if path is None or depth > MAX_DEPTH:
            if (module, name) in KNOWN_ABSTRACT_BASES:
                return KnownBase(name)
            return Unresolved(name, module)
        if name not in self.symbols(path):
            submodule = self.module_path(f"{module}.{name}")
            return Unresolved(name, module) if submodule is None else Unresolved(name, f"{module} (a module)")
        return self._resolve_symbol(path, name, depth)

    def bases(self, cls: ClassRef) -> list[Resolved]:
        key = (cls.path, id(cls.node))
        if key not in self._bases:
            self._bases[key] = [self.resolve(cls.path, base) for base in cls.node.bases]
        return self._bases[key]

    def decorator_kind(self, path: str, deco: ast.expr) -> str:
        """'abstract' (abc's abstractmethod under any name), 'harmless' (typing's override) or 'unknown'."""
        target = deco.func if isinstance(deco, ast.Call) else deco
        dotted = _dotted(target)
        if dotted is None:
            return "unknown"
        head, _, rest = dotted.partition(".")
        sym = self.symbols(path).get(head)
        if sym and sym[0] == "from":  # `from abc import abstractmethod as am`
            name = sym[2] if not rest else rest.rsplit(".", 1)[-1]
        else:  # `abc.abstractmethod`, `x.abstractmethod` (import abc as x), or a bare name
            name = dotted.rsplit(".", 1)[-1]
        if "abstract" in name:
            return "abstract"
        return "harmless" if name in HARMLESS_DECORATORS and not isinstance(deco, ast.Call) else "unknown"

    def _own(self, ref: ClassRef, method: str) -> tuple[str, int, str] | None:
        """What the class body itself makes of a method: (kind, line, reason), the last statement deciding."""
        found: tuple[str, int, str] | None = None
        for stmt in ref.node.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == method:
                kinds = [self.decorator_kind(ref.path, d) for d in stmt.decorator_list]
                if "abstract" in kinds:
                    found = ("abstract", stmt.lineno, "")
                elif "unknown" in kinds:
                    deco = ast.unparse(stmt.decorator_list[kinds.index("unknown")])[:MAX_SHOWN]
                    found = ("doubt", stmt.lineno, f"it is wrapped in a decorator the review does not know (@{deco})")
                else:
                    found = ("concrete", stmt.lineno, "")
            elif _binds(stmt, method):
                found = ("doubt", stmt.lineno, f"`{method}` is assigned in the class body, not defined with def")
            elif isinstance(stmt, ast.If | ast.Try | ast.With | ast.For | ast.While) and _binds_inside(stmt, method):
                found = ("doubt", stmt.lineno, f"`{method}` is defined inside a conditional or loop of the class body")
        return found

    def find(self, cls: ClassRef, method: str, depth: int = 0) -> Lookup:
        """The first definition of a method along the bases (depth-first, left to right), memoised."""
        key = (cls.path, id(cls.node), method)
        if key in self._lookups:
            return self._lookups[key] or Lookup()  # None: a cycle of bases, which defines nothing
        if depth > MAX_DEPTH:
            return Lookup(unresolved=[TOO_DEEP])
        self._lookups[key] = None
        out = Lookup()
        own = self._own(cls, method)
        if own is not None:
            kind, line, reason = own
            if kind == "concrete":
                out.hit = MethodHit(cls, line)
            elif kind == "abstract":
                out.abstract = MethodHit(cls, line)
            else:
                out.doubt = Doubt(cls, line, reason)
        elif len(self._lookups) < MAX_LOOKUPS:
            for base in self.bases(cls):
                if isinstance(base, ClassRef):
                    found = self.find(base, method, depth + 1)
                    _add_unresolved(out.unresolved, found.unresolved)
                    if found.hit or found.abstract or found.doubt:
                        out.hit, out.abstract, out.doubt = found.hit, found.abstract, found.doubt
                        break
                elif isinstance(base, Unresolved) and base.name not in HARMLESS_BASES:
                    _add_unresolved(out.unresolved, [base])
        self._lookups[key] = out
        return out

    def find_method(self, cls: ClassRef, method: str) -> tuple[MethodHit | None, list[Unresolved]]:
        found = self.find(cls, method)
        return found.hit, found.unresolved

    def lineage(self, cls: ClassRef, depth: int = 0) -> Lineage:
        """Names of the server bases along the bases (SimpleResourcesServer), and the bases that could not be
        followed; memoised per class, so K classes each naming K bases cost K * K steps, not more.

        The walk ends at a server base: nothing beyond it changes the answer (a server), and its own bases are
        NeMo Gym's, which would only cost parsing its largest modules."""
        key = (cls.path, id(cls.node))
        if key in self._lineages:
            return self._lineages[key] or Lineage()
        if depth > MAX_DEPTH:
            return Lineage(unresolved=[TOO_DEEP])
        self._lineages[key] = None
        out = Lineage(names={cls.name} & SERVER_BASE_NAMES)
        follow = not out.names and len(self._lineages) < MAX_LOOKUPS
        for base in self.bases(cls) if follow else []:
            if isinstance(base, ClassRef):
                found = self.lineage(base, depth + 1)
                out.names |= found.names
                _add_unresolved(out.unresolved, found.unresolved)
            elif isinstance(base, KnownBase):
                out.names.add(base.name)
            elif base.name not in HARMLESS_BASES:
                _add_unresolved(out.unresolved, [base])
        self._lineages[key] = out
        return out


MAX_LOOKUPS = 100_000  # classes followed in one review; past it, bases are not followed
TOO_DEEP = Unresolved(f"<bases nested more than {MAX_DEPTH} levels deep>", None)


def _add_unresolved(into: list[Unresolved], more: list[Unresolved]) -> None:
    for item in more:
        if len(into) >= MAX_UNRESOLVED:
            return
        if item not in into:
            into.append(item)


def _binds(stmt: ast.stmt, name: str) -> bool:
    """Whether a statement of a class body binds or unbinds `name` other than by def."""
    if isinstance(stmt, ast.Assign):
        return any(_names(t, name) for t in stmt.targets)
    if isinstance(stmt, ast.AnnAssign):
        return stmt.value is not None and _names(stmt.target, name)  # an annotation alone binds nothing
    if isinstance(stmt, ast.AugAssign):
        return _names(stmt.target, name)
    if isinstance(stmt, ast.Delete):
        return any(_names(t, name) for t in stmt.targets)
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return any((a.asname or a.name.split(".")[0]) == name for a in stmt.names)
    return False


def _names(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Tuple | ast.List):
        return any(_names(t, name) for t in target.elts)
    return False


def _binds_inside(stmt: ast.stmt, name: str) -> bool:
    for node in ast.walk(stmt):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.stmt) and _binds(node, name):
            return True
    return False


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
