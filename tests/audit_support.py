"""Shared pieces of the audit tests: a small registry checkout in git, and the audit run through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gym_review_bot.cli import main
from tests.conftest import BASE_FIXTURE, GitRepo, good_server_files

# A server whose class inherits from a base outside the checkout: GR102 cannot tell (`error`), never a pass.
UNKNOWN_BASE_APP = """from somewhere_else import ExternalServer


class Unknown(ExternalServer):
    pass
"""


def registry(tmp_path: Path, names: tuple[str, ...] = ("alpha", "beta", "gamma")) -> GitRepo:
    """A git checkout like NeMo Gym's: nemo_gym/ and passing servers, committed on main."""
    repo = GitRepo(tmp_path / "registry")
    shutil.copytree(BASE_FIXTURE, repo.path, dirs_exist_ok=True)
    for name in names:
        repo.server(name, good_server_files(name))
    repo.commit("registry")
    return repo


def audit(repo: Path, out: Path, *args: str, previous: Path | None = None) -> tuple[int, dict, str, str]:
    """`gym-review audit` through the CLI: exit code, the JSON report, the Markdown and the HTML."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["audit", "--repo", str(repo), "--json", str(out / "audit.json"), "--quiet"]
    argv += ["--markdown", str(out / "audit.md"), "--html", str(out / "audit.html"), *args]
    if previous is not None:
        argv += ["--previous", str(previous)]
    code = main(argv)
    report = json.loads((out / "audit.json").read_text())
    return code, report, (out / "audit.md").read_text(), (out / "audit.html").read_text()


def entry(report: dict, name: str) -> dict:
    return next(s for s in report["servers"] if s["name"] == name)


def newly_failing(report: dict) -> list[str]:
    return [e["name"] for e in report["delta"]["newly_failing"]]


def section(markdown: str, title: str) -> str:
    """The Markdown delta line that starts with `title` (e.g. "Newly failing")."""
    return next((line for line in markdown.splitlines() if f"**{title}" in line), "")


def html_section(html: str, key: str) -> str:
    """The HTML delta item with this id (newly-failing, fixed, newly-not-judged, still-failing)."""
    start = html.find(f'<li id="{key}"')
    return html[start : html.find("</li>", start)] if start >= 0 else ""
