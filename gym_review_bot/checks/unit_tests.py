"""Check that tests/test_app.py holds at least one test (GR105)."""

from __future__ import annotations

import ast

from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.checkout import UnreviewablePython, parse_python
from gym_review_bot.checks.context import ServerContext


def _test_names(module: ast.Module) -> list[str]:
    names = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names += [
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test")
            ]
    return names


def _parse(text: str, file: str) -> ast.Module | SyntaxError:
    try:
        return parse_python(text, file)
    except SyntaxError as exc:
        return exc
    except UnreviewablePython as exc:
        broken = SyntaxError(f"the file {exc}")
        broken.lineno = exc.line
        return broken


def _tests_elsewhere(ctx: ServerContext) -> list[str]:
    """Other tests/test_*.py files that hold tests (pytest collects them too)."""
    found = []
    for entry in ctx.tree.walk(ctx.full("tests")):
        name = entry.path.rsplit("/", 1)[-1]
        if entry.kind != "file" or not (name.startswith("test_") and name.endswith(".py")):
            continue
        if entry.missing or entry.size > ctx.max_python_bytes:  # GR100 reports both
            continue
        module = _parse(ctx.tree.read(entry).decode("utf-8", "replace"), entry.path)
        if isinstance(module, ast.Module) and _test_names(module):
            found.append(entry.path)
    return found


def check_has_tests(ctx: ServerContext) -> Outcome:
    file = ctx.full("tests/test_app.py")
    text = ctx.text("tests/test_app.py")
    if text is None:
        elsewhere = _tests_elsewhere(ctx)
        if elsewhere:  # the intent (tests exist) is met; only the file name differs from the guide
            return failed(
                f"{file} is missing, though {', '.join(elsewhere)} hold tests. NeMo Gym's guide names "
                "tests/test_app.py: rename the file (or add tests/test_app.py).",
                file=file,
                severity="warning",
                key="tests-elsewhere",
            )
        return failed(
            f"{file} is missing. NeMo Gym requires at least one unit test per server: add "
            "tests/test_app.py with a `test_...` function that exercises verify().",
            file=file,
            key="missing",
        )
    module = _parse(text, file)
    if isinstance(module, SyntaxError):
        return failed(
            f"{file} does not parse as Python: {module.msg} (line {module.lineno}). Fix the syntax error.",
            file=file,
            line=module.lineno,
            key="syntax",
        )
    names = _test_names(module)
    if not names:
        return failed(
            f"{file} defines no test: pytest collects `test_*` functions and `test_*` methods of "
            "`Test*` classes. Add at least one test that calls verify() and checks the reward.",
            file=file,
            key="no-tests",
        )
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    return passed(f"{file} defines {len(names)} test(s): {shown}.", file=file)


CHECKS = [
    Check(
        "GR105",
        "error",
        "tests/test_app.py has at least one test",
        "Add tests/test_app.py with at least one `test_*` function (or method of a `Test*` class).",
        family="code",
        run=check_has_tests,
        lowers_to="warning",
    )
]
