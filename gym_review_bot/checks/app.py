"""Check the server's entrypoint files: they parse (GR101) and their server class has a concrete verify (GR102).

The entrypoint files are those the configs' `entrypoint`s name (a server may have several), or
app.py when no config names one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gym_review_bot.checks.base import Check, Outcome, errored, failed, passed
from gym_review_bot.checks.checkout import UnreviewablePython, parse_python, walk
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.pyclasses import SERVER_BASE_NAMES, ClassRef, ClassResolver, KnownBase, Unresolved
from gym_review_bot.models import Location


@dataclass
class Broken:
    """Why an entrypoint file cannot be reviewed, with the line when known."""

    message: str
    line: int | None
    kind: str  # missing | syntax | unreviewable: part of the fingerprint key


def _parse_entry(ctx: ServerContext, rel: str) -> ast.Module | Broken:
    def parse() -> ast.Module | Broken:
        file = ctx.full(rel)
        text = ctx.text(rel)
        if text is None:
            return Broken(f"{file} is missing", None, "missing")
        try:
            module = parse_python(text, file)
        except SyntaxError as exc:
            return Broken(f"{file} does not parse as Python: {exc.msg} (line {exc.lineno})", exc.lineno, "syntax")
        except UnreviewablePython as exc:
            where = f" (line {exc.line})" if exc.line else ""
            return Broken(f"{file} {exc}{where}", exc.line, "unreviewable")
        ctx.checkout.remember(file, module)
        return module

    return ctx.memo(f"ast:{rel}", parse)


HINTS = {
    "missing": "Every resources server needs the file its `entrypoint` names (app.py by default), holding the "
    "server class; scaffold one with `ng_init_resources_server`, or point `entrypoint:` at the server's file.",
    "syntax": "Fix the syntax error.",
    "unreviewable": "Flatten the code: no real server nests expressions or attributes this deep.",
}


def check_app_parses(ctx: ServerContext) -> Outcome:
    files = ctx.entrypoints()
    broken = [(rel, b) for rel in files if isinstance(b := _parse_entry(ctx, rel), Broken)]
    if not broken:
        return passed(f"{', '.join(ctx.full(rel) for rel in files)}: present and parsed.", file=ctx.full(files[0]))
    hints = " ".join(dict.fromkeys(HINTS[b.kind] for _, b in broken))
    return failed(
        ". ".join(b.message for _, b in broken) + ". " + hints,
        file=ctx.full(broken[0][0]),
        line=broken[0][1].line,
        locations=[Location(file=ctx.full(rel), line=b.line) for rel, b in broken],
        key=" ".join(f"{rel}:{b.kind}" for rel, b in broken),
    )


@dataclass
class ModuleFacts:
    """What one walk over an entrypoint file finds: the `X.run_webserver()` targets, and where a class's name is
    rebound or its verify changed outside its class statement (by the name concerned)."""

    targets: list[ast.expr]
    changes: dict[str, str]  # class name -> how it is changed (the first one found)


def _module_facts(module: ast.Module) -> ModuleFacts:
    facts = ModuleFacts([], {})
    classes: dict[str, ast.ClassDef] = {}
    for node in module.body:  # module-level rebinding: a second class statement, an assignment, an import
        if isinstance(node, ast.ClassDef):
            if node.name in classes:
                facts.changes.setdefault(node.name, f"is defined twice (line {node.lineno}): the review cannot tell "
                                         "which one runs")  # fmt: skip
            classes[node.name] = node
        for name in _bound_names(node):
            facts.changes.setdefault(name, f"is rebound at line {node.lineno}: the review cannot tell what runs")
    for node in walk(module):  # anywhere: `X.verify = ...`, `del X.verify`, setattr / delattr(X, ...)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "run_webserver":
                facts.targets.append(func.value)
            elif isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
                if isinstance(node.args[0], ast.Name):
                    facts.changes.setdefault(node.args[0].id, f"is changed by {func.id}() at line {node.lineno}")
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Delete):
            for t in _targets(node):
                if isinstance(t, ast.Attribute) and t.attr == "verify" and isinstance(t.value, ast.Name):
                    facts.changes.setdefault(
                        t.value.id, f"has its verify changed at line {node.lineno}, outside the class statement"
                    )
    return facts


def _bound_names(node: ast.stmt) -> list[str]:
    """Names a module-level statement binds other than by a class statement."""
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Delete):
        return [t.id for t in _targets(node) if isinstance(t, ast.Name)]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.split(".")[0] for a in node.names]
    return []


@dataclass
class Started:
    """The classes a file's verify is judged on, and what the review could not follow."""

    classes: list[ClassRef]
    unresolved: list[Unresolved]
    abstract_base: str | None = None  # `SimpleResourcesServer.run_webserver()`: the abstract base itself


def _server_classes(file: str, resolver: ClassResolver, module: ast.Module, facts: ModuleFacts) -> Started:
    """The classes `run_webserver()` starts, and every server class the file defines that no other of its
    classes derives from: a call in dead code cannot hide a server class without verify."""
    out = Started([], [])
    for target in facts.targets:
        resolved = resolver.resolve(file, target)
        if isinstance(resolved, ClassRef):
            out.classes.append(resolved)
        elif isinstance(resolved, KnownBase):
            out.abstract_base = resolved.name
        else:  # a class made by a call (`type(...)`), an assignment, or one from outside the checkout
            out.unresolved.append(resolved)
    defined = [ClassRef(file, node) for node in module.body if isinstance(node, ast.ClassDef)]
    derived_from = {id(b.node) for ref in defined for b in resolver.bases(ref) if isinstance(b, ClassRef)}
    for ref in defined:
        if id(ref.node) in derived_from:
            continue  # a base of another class here (an abstract intermediate): judged through that class
        # A server base first: step/reset are looked up (through every base) only for a class that has none.
        if resolver.lineage(ref).names & SERVER_BASE_NAMES or (
            resolver.find(ref, "step").hit and resolver.find(ref, "reset").hit
        ):
            out.classes.append(ref)
    seen: set[int] = set()
    out.classes = [c for c in out.classes if not (id(c.node) in seen or seen.add(id(c.node)))]
    return out


def check_verify(ctx: ServerContext) -> Outcome:
    resolver = ClassResolver(ctx.checkout)
    outcomes = []
    for rel in ctx.entrypoints():
        module = _parse_entry(ctx, rel)
        assert isinstance(module, ast.Module)  # GR102 needs GR101
        outcomes.append(_verify_in(ctx.full(rel), resolver, module))
    for status in ("fail", "error"):  # a file that fails decides; then one the bot cannot tell about
        for outcome in outcomes:
            if outcome.status == status:
                return outcome
    return outcomes[0] if len(outcomes) == 1 else passed(" ".join(o.message for o in outcomes))


def _verify_in(file: str, resolver: ClassResolver, module: ast.Module) -> Outcome:
    facts = _module_facts(module)
    started = _server_classes(file, resolver, module, facts)
    if not started.classes and not started.abstract_base:
        return _no_server_class(file, resolver, module, started)
    missing: list[ClassRef] = []
    doubts: list[str] = []
    unresolved: list[Unresolved] = list(started.unresolved)
    passes: list[str] = []
    for cls in started.classes:
        changed = facts.changes.get(cls.name)
        if changed:
            doubts.append(f"{cls.name} {changed}")
            continue
        found = resolver.find(cls, "verify")
        if found.doubt is not None:
            d = found.doubt
            doubts.append(f"the verify {cls.name} gets from {d.owner.name} ({d.owner.path} line {d.line}): {d.reason}")
        elif found.hit is not None:
            hit = found.hit
            where = "defines" if hit.owner == cls else f"inherits from {hit.owner.name} ({hit.owner.path})"
            passes.append(f"{cls.name} in {file} {where} a concrete verify (line {hit.line}).")
        elif found.unresolved:
            unresolved += found.unresolved
        else:
            missing.append(cls)
    if started.abstract_base:
        missing_names = [started.abstract_base, *(c.name for c in missing)]
    else:
        missing_names = [c.name for c in missing]
    if missing_names:
        names = ", ".join(dict.fromkeys(missing_names))
        first = missing[0] if missing else None
        return failed(
            f"{names} has no concrete verify method (SimpleResourcesServer declares it abstract). Add "
            "`async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse` that computes the reward.",
            file=first.path if first else file,
            line=first.node.lineno if first else None,
            key=f"no-verify {names}",
        )
    if doubts:
        return errored(
            f"Cannot tell whether the server class in {file} has a concrete verify: {'; '.join(doubts)}. The review "
            "follows only `def verify` / `async def verify` in a class body (or an undecorated one in a base class); "
            "write it that way.",
            file=file,
            key="cannot-follow " + " ".join(sorted({c.name for c in started.classes})),
        )
    if unresolved:
        names = ", ".join(c.name for c in started.classes) or "the server class"
        return _cannot_tell(f"Cannot tell whether {names} has a verify method", unresolved, resolver, file)
    return passed(" ".join(passes), file=file)


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign | ast.Delete):
        found = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        found = [node.target]
    else:
        return []
    out: list[ast.expr] = []
    while found:
        t = found.pop()
        if isinstance(t, ast.Tuple | ast.List):
            found.extend(t.elts)
        else:
            out.append(t)
    return out


def _cannot_tell(question: str, unresolved: list[Unresolved], resolver: ClassResolver, file: str) -> Outcome:
    """A base class the review cannot follow hides what it defines: never a pass."""
    if resolver.rejected:  # the base lives in a file too big or too deeply nested to read: the PR's to fix
        path, why = sorted(resolver.rejected.items())[0]
        return failed(
            f"{question}: {path} {why}, so the review cannot follow the server's base classes through it. "
            "Keep Python sources small and flat (under 512 KiB, no absurd nesting).",
            file=path,
            key=f"unreviewable-base {path}",
        )
    bases = ", ".join(sorted({u.describe() for u in unresolved}))
    return errored(
        f"{question}: {bases} is not a class statement in this checkout (NeMo Gym's own code read at the merge "
        "base), so the bot cannot tell. The sandbox will settle it (it calls /verify on the running server); "
        "or define verify on the server class.",
        file=file,
        key="base-class-outside-checkout",
    )


def _no_server_class(file: str, resolver: ClassResolver, module: ast.Module, started: Started) -> Outcome:
    unresolved = [
        u
        for node in module.body
        if isinstance(node, ast.ClassDef)
        for u in resolver.lineage(ClassRef(file, node)).unresolved
    ]
    unresolved += started.unresolved  # `VendorServer.run_webserver()`: the server class lives elsewhere
    if unresolved:
        return _cannot_tell(f"Cannot tell which class in {file} is the server", unresolved, resolver, file)
    return failed(
        f"{file} defines no server class: none derives from SimpleResourcesServer or has step/reset. "
        "Define `class MyServer(SimpleResourcesServer)` with a verify method and start it with "
        "`MyServer.run_webserver()`.",
        file=file,
        key="no-server-class",
    )


CHECKS = [
    Check(
        "GR101",
        "error",
        "The entrypoint files exist and parse",
        "Add the file each config's `entrypoint` names (app.py by default; ng_init_resources_server "
        "scaffolds it) and fix syntax errors.",
        family="code",
        run=check_app_parses,
        floor="error",
    ),
    Check(
        "GR102",
        "error",
        "The server class has a verify method",
        "Define `async def verify(self, body)` on the server class (no assignment, no decorator), or inherit "
        "a concrete one from a class statement (NeMo Gym's own read at the merge base).",
        family="code",
        run=check_verify,
        needs=("GR101",),
    ),
]
