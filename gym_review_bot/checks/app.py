"""Check app.py: it parses (GR101) and its server class has a concrete verify (GR102)."""

from __future__ import annotations

import ast
import warnings

from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.pyclasses import SERVER_BASE_NAMES, ClassRef, ClassResolver, Unresolved


def _parse_app(ctx: ServerContext) -> ast.Module | SyntaxError | None:
    def parse() -> ast.Module | SyntaxError | None:
        text = ctx.text("app.py")
        if text is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = ast.parse(text, filename="app.py")
            ctx.checkout.remember(ctx.full("app.py"), module)
            return module
        except SyntaxError as exc:
            return exc
        except (ValueError, RecursionError, MemoryError) as exc:
            return SyntaxError(str(exc))

    return ctx.memo("app_ast", parse)


def check_app_parses(ctx: ServerContext) -> Outcome:
    file = ctx.full("app.py")
    result = _parse_app(ctx)
    if result is None:
        return failed(
            f"{file} is missing. Every resources server needs an app.py with the server class; "
            f"scaffold one with `ng_init_resources_server +entrypoint={ctx.path}`.",
            file=file,
        )
    if isinstance(result, SyntaxError):
        return failed(
            f"{file} does not parse as Python: {result.msg} (line {result.lineno}). Fix the syntax error.",
            file=file,
            line=result.lineno,
        )
    return passed(f"{file} exists and parses.", file=file)


def _run_webserver_target(module: ast.Module) -> ast.expr | None:
    """X in `X.run_webserver()`, NeMo Gym's way of starting a server."""
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_webserver":
            return node.func.value
    return None


def _server_classes(ctx: ServerContext, resolver: ClassResolver, module: ast.Module) -> list[ClassRef]:
    file = ctx.full("app.py")
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
    file = ctx.full("app.py")
    module = _parse_app(ctx)
    assert isinstance(module, ast.Module)  # GR102 needs GR101
    resolver = ClassResolver(ctx.checkout)
    servers = _server_classes(ctx, resolver, module)
    if not servers:
        return _no_server_class(ctx, resolver, module)
    unresolved: list[Unresolved] = []
    for cls in servers:
        hit, missing = resolver.find_method(cls, "verify")
        if hit is not None:
            where = "defines" if hit.owner == cls else f"inherits from {hit.owner.name} ({hit.owner.path})"
            return passed(f"{cls.name} {where} a concrete verify (line {hit.line}).", file=hit.owner.path)
        unresolved += missing
    names = ", ".join(c.name for c in servers)
    if unresolved:
        return _cannot_tell(
            f"Cannot tell whether {names} has a verify method", unresolved, file, servers[0].node.lineno
        )
    return failed(
        f"{names} has no concrete verify method (SimpleResourcesServer declares it abstract). Add "
        "`async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse` that computes the reward.",
        file=servers[0].path,
        line=servers[0].node.lineno,
    )


def _cannot_tell(question: str, unresolved: list[Unresolved], file: str, line: int | None = None) -> Outcome:
    """A base class outside the checkout hides what it defines: a warning, never a pass."""
    bases = ", ".join(sorted({u.describe() for u in unresolved}))
    return failed(
        f"{question}: base class {bases} is not in this checkout. Define verify on the server class, "
        "or check the base class by hand.",
        file=file,
        line=line,
        severity="warning",
    )


def _no_server_class(ctx: ServerContext, resolver: ClassResolver, module: ast.Module) -> Outcome:
    file = ctx.full("app.py")
    unresolved = [
        u
        for node in module.body
        if isinstance(node, ast.ClassDef)
        for u in resolver.lineage(ClassRef(file, node)).unresolved
    ]
    if unresolved:
        return _cannot_tell(f"Cannot tell which class in {file} is the server", unresolved, file)
    return failed(
        f"{file} defines no server class: none derives from SimpleResourcesServer or has step/reset. "
        "Define `class MyServer(SimpleResourcesServer)` with a verify method and start it with "
        "`MyServer.run_webserver()`.",
        file=file,
    )


CHECKS = [
    Check(
        "GR101",
        "error",
        "app.py exists and parses",
        "Add resources_servers/<name>/app.py (ng_init_resources_server scaffolds it) and fix syntax errors.",
        check_app_parses,
        needs=(),
    ),
    Check(
        "GR102",
        "error",
        "The server class has a verify method",
        "Define `async def verify(self, body)` on the server class, or inherit a concrete one.",
        check_verify,
        needs=("GR101",),
    ),
]
