"""Check the server's Python dependencies: requirements.txt or pyproject.toml (GR108)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from gym_review_bot.checks.base import Check, Outcome, failed, passed
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location
from gym_review_bot.reqfile import logical_lines

# pip options that take a value, and those that stand alone (pip's requirements-file format).
OPTIONS_WITH_VALUE = {
    "-e", "--editable", "-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--trusted-host", "--only-binary", "--no-binary",
    "--hash", "--config-settings", "--global-option",
}  # fmt: skip
FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes", "--use-feature"}
URL_OR_PATH = re.compile(r"^([a-z][a-z0-9+.-]*://|git\+|hg\+|svn\+|bzr\+|\.{1,2}/|/|file:)", re.IGNORECASE)


@dataclass
class RequirementLine:
    line: int
    text: str
    option: str | None = None  # the pip option, when the line is one
    value: str | None = None  # the option's value
    requirement: Requirement | None = None


def parse_line(number: int, text: str) -> RequirementLine | str:
    """A parsed requirements line, or why pip would reject it."""
    if text.startswith("-"):
        option, value = _split_option(text)
        if option in FLAG_OPTIONS:
            return RequirementLine(number, text, option=option)
        if option in OPTIONS_WITH_VALUE:
            if not value:
                return f"`{option}` needs a value"
            return RequirementLine(number, text, option=option, value=value)
        return f"`{option}` is not a pip requirements-file option"
    if URL_OR_PATH.match(text):
        return RequirementLine(number, text, value=text)
    try:
        return RequirementLine(number, text, requirement=Requirement(text.split(" --hash")[0]))
    except InvalidRequirement as exc:
        return f"is not a valid requirement ({str(exc).splitlines()[0]})"


def _split_option(text: str) -> tuple[str, str]:
    """`--index-url=URL`, `--index-url URL` and `-eVALUE` alike, as (option, value)."""
    match = re.match(r"^(--[\w-]+|-\w)(?:\s*=\s*|\s+)?(.*)$", text)
    if match is None:
        return text, ""
    return match.group(1), match.group(2).strip()


def parse_requirements(text: str) -> tuple[list[RequirementLine], list[tuple[int, str]]]:
    good, bad = [], []
    for number, line in logical_lines(text):
        parsed = parse_line(number, line)
        if isinstance(parsed, str):
            bad.append((number, f"`{line[:80]}` {parsed}"))
        else:
            good.append(parsed)
    return good, bad


def _pyproject_dependencies(ctx: ServerContext) -> list[str] | None:
    text = ctx.text("pyproject.toml")
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    deps = data.get("project", {}).get("dependencies")
    return deps if isinstance(deps, list) else None


def check_requirements(ctx: ServerContext) -> Outcome:
    file = ctx.full("requirements.txt")
    text = ctx.text("requirements.txt")
    if text is None:
        deps = _pyproject_dependencies(ctx)
        if deps is not None:
            return passed(f"No requirements.txt; pyproject.toml lists {len(deps)} dependencies.")
        return failed(
            f"{file} is missing (and no pyproject.toml lists dependencies). Add requirements.txt; "
            "inside NeMo Gym's tree its first line is usually `-e nemo-gym[dev] @ ../../`.",
            file=file,
        )
    good, bad = parse_requirements(text)
    if bad:
        return failed(
            "; ".join(f"line {n}: {why}" for n, why in bad[:5])
            + ". Each line must be a requirement (PEP 508) or a pip option such as -e or -r.",
            file=file,
            line=bad[0][0],
            locations=[Location(file=file, line=n) for n, _ in bad[:5]],
        )
    return passed(f"{file} has {len(good)} valid line(s).", file=file)


CHECKS = [
    Check(
        "GR108",
        "error",
        "requirements.txt is valid",
        "Add requirements.txt with one PEP 508 requirement or pip option a line (or pyproject.toml dependencies).",
        check_requirements,
    )
]
