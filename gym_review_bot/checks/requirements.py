"""Check the server's Python dependencies (GR108), and that they come from the package index (GR207)."""

from __future__ import annotations

from gym_review_bot.checks import quote
from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location
from gym_review_bot.reqfile import parse_requirements_text, read_pyproject
from gym_review_bot.sandbox.requirements import read_requirements

MAX_LISTED = 5
MAX_URLS = 20


def _bad_lines(file: str, bad: list[tuple[int, str, str]], what: str) -> Outcome:
    """A failure naming each bad (line, text, why); keyed by the lines' text, not their numbers."""
    shown = "; ".join(f"line {n}: {quote.code(text, 80)} {why}" for n, text, why in bad[:MAX_LISTED])
    return failed(
        f"{file}: {shown}. {what}",
        file=file,
        line=bad[0][0],
        locations=[Location(file=file, line=n) for n, _, _ in bad[:MAX_LISTED]],
        key="\n".join(sorted(text for _, text, _ in bad)),
    )


def _check_pyproject(ctx: ServerContext, text: str) -> Outcome:
    file = ctx.full("pyproject.toml")
    project = read_pyproject(text)
    if project.error:
        return failed(
            f"{file} {project.error}. Without requirements.txt the dependencies come from "
            "`[project] dependencies = [...]`; fix the file or add requirements.txt.",
            file=file,
            line=project.error_line,
            key=project.error,
        )
    bad = [(project.line_of(dep), dep, why) for dep, _, why in project.dependencies if why]
    if bad:
        return _bad_lines(file, bad, "Each dependency must be a PEP 508 requirement.")
    if not project.dependencies:
        return failed(
            f"{ctx.full('requirements.txt')} is missing and {file} lists no dependencies. Add requirements.txt; "
            "inside NeMo Gym's tree its first line is usually `-e nemo-gym[dev] @ ../../`.",
            file=ctx.full("requirements.txt"),
            key="no dependencies",
        )
    return passed(f"No requirements.txt; {file} lists {len(project.dependencies)} dependencies.", file=file)


def check_requirements(ctx: ServerContext) -> Outcome:
    file = ctx.full("requirements.txt")
    text = ctx.text("requirements.txt")
    if text is None:
        pyproject = ctx.text("pyproject.toml")
        if pyproject is not None:
            return _check_pyproject(ctx, pyproject)
        return failed(
            f"{file} is missing (and there is no pyproject.toml). Add requirements.txt; "
            "inside NeMo Gym's tree its first line is usually `-e nemo-gym[dev] @ ../../`.",
            file=file,
            key="missing",
        )
    lines = parse_requirements_text(text)
    bad = [(r.line, r.text, r.error) for r in lines if r.error]
    if bad:
        return _bad_lines(
            file,
            bad,
            "Use PEP 508 requirements (extras are names: `pkg[dev]`), URLs or paths, "
            "or pip options (-e, -r, --index-url).",
        )
    return passed(f"{file} has {len(lines)} valid line(s).", file=file)


def check_index_dependencies(ctx: ServerContext) -> Outcome:
    """GR207: a static check of the requirement files (the sandbox refuses to honour such lines unless told)."""
    reqs = read_requirements(ctx.tree, ctx.path, ctx.allow_url_deps)
    if not reqs.url_dependencies:
        return passed("Every requirement comes from the package index.")
    honoured = "honoured because --allow-url-deps was given" if ctx.allow_url_deps else "not installed in the sandbox"
    urls = reqs.url_dependencies[:MAX_URLS]
    listed = "\n".join(f"- {u.file}:{u.line}: {quote.code(u.text)} {u.reason}" for u in urls)
    first = reqs.url_dependencies[0]
    return failed(
        f"{len(reqs.url_dependencies)} requirement line(s) leave PyPI ({honoured}):\n{listed}",
        file=first.file,
        line=first.line,
        locations=[Location(file=u.file, line=u.line) for u in reqs.url_dependencies],
        key="\n".join(sorted(u.text for u in reqs.url_dependencies)),
    )


CHECKS = [
    Check(
        "GR108",
        "error",
        "requirements.txt is valid",
        "Make each requirements.txt line a PEP 508 requirement (extras are names), a URL or path, or a pip option "
        "(or use pyproject.toml dependencies).",
        family="code",
        run=check_requirements,
    ),
    Check(
        "GR207",
        "warning",
        "Dependencies come from the package index",
        "Depend on released packages from PyPI, pinned by version.",
        family="sandbox",  # the comment's column since the sandbox build is what it protects
        run=check_index_dependencies,
    ),
]
