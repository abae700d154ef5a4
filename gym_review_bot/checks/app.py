"""Check the server's entrypoint files: they parse (GR101) and their server class has a concrete verify (GR102).

The entrypoint files are those the configs' `entrypoint`s name (a server may have several), or
app.py when no config names one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from gym_review_bot.checks.base import Check, Outcome, errored, failed, passed
from gym_review_bot.checks.checkout import UnreviewablePython, parse_python
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.pyclasses import SERVER_BASE_NAMES, ClassRef, ClassResolver, Unresolved
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


def _run_webserver_target(module: ast.Module) -> ast.expr | None:
    """X in `X.run_webserver()`, NeMo Gym's way of starting a server."""
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_webserver":
            return node.func.value
    return None


def _server_classes(file: str, resolver: ClassResolver, module: ast.Module) -> list[ClassRef]:
    target = _run_webserver_target(module)
    if target is not None:
        resolved = resolver.resolve(file, target)
        if isinstance(resolved, ClassRef):
            return [resolved]
    found = []
    for node in module.body:
        if not isinstance(node, ast.ClassDef):
            continue
        ref = ClassRef(file, node)
        lineage = resolver.lineage(ref)
        steps = resolver.find_method(ref, "step")[0] and resolver.find_method(ref, "reset")[0]
        if lineage.names & SERVER_BASE_NAMES or steps:
            found.append(ref)
    return found


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
    servers = _server_classes(file, resolver, module)
    if not servers:
        return _no_server_class(file, resolver, module)
    unresolved: list[Unresolved] = []
    for cls in servers:
        hit, missing = resolver.find_method(cls, "verify")
        if hit is not None:
            where = "defines" if hit.owner == cls else f"inherits from {hit.owner.name} ({hit.owner.path})"
            return passed(f"{cls.name} in {file} {where} a concrete verify (line {hit.line}).", file=hit.owner.path)
        unresolved += missing
    names = ", ".join(c.name for c in servers)
    if unresolved:
        return _cannot_tell(f"Cannot tell whether {names} has a verify method", unresolved, resolver, file)
    return failed(
        f"{names} has no concrete verify method (SimpleResourcesServer declares it abstract). Add "
        "`async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse` that computes the reward.",
        file=servers[0].path,
        line=servers[0].node.lineno,
        key=f"no-verify {names}",
    )


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
        f"{question}: base class {bases} is not in this checkout, so the bot cannot tell. The sandbox "
        "will settle it (it calls /verify on the running server); or define verify on the server class.",
        file=file,
        key="base-class-outside-checkout",
    )


def _no_server_class(file: str, resolver: ClassResolver, module: ast.Module) -> Outcome:
    unresolved = [
        u
        for node in module.body
        if isinstance(node, ast.ClassDef)
        for u in resolver.lineage(ClassRef(file, node)).unresolved
    ]
    target = _run_webserver_target(module)
    started = resolver.resolve(file, target) if target is not None else None
    if isinstance(started, Unresolved):  # `VendorServer.run_webserver()`: the server class lives elsewhere
        unresolved.append(started)
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
        "Define `async def verify(self, body)` on the server class, or inherit a concrete one.",
        family="code",
        run=check_verify,
        needs=("GR101",),
    ),
]
