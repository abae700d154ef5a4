"""Registries for the audit's Docker tests, from real parts: the nemo-gym 0.4.0 wheel's own `nemo_gym/` and
servers, and the sandbox tests' answer servers, committed in a git checkout laid out like NeMo Gym's."""

from __future__ import annotations

import email.parser
import json
import shutil
from pathlib import Path

from tests.conftest import BASE_FIXTURE, GitRepo, write_tree
from tests.sandbox.conftest import NEMO_GYM_REQUIREMENT, wheel_server
from tests.sandbox.sandbox_fixtures import answer_server

# The checkout root as an installable `nemo-gym`, so servers whose requirements say `-e nemo-gym[dev] @ ../../`
# (as NeMo Gym's do) run the checkout's own nemo_gym/: a change there changes what they run.
ROOT_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "nemo-gym"
version = "0.4.0"
requires-python = ">=3.10"
dependencies = {dependencies}

[project.optional-dependencies]
dev = ["pytest", "pytest-asyncio"]

[tool.setuptools.packages.find]
include = ["nemo_gym*"]

[tool.setuptools.package-data]
"*" = ["*.yaml", "*.md"]
"""
CHECKOUT_REQUIREMENT = "-e nemo-gym[dev] @ ../../\n"


def wheel_dependencies(unpacked: Path) -> list[str]:
    """nemo-gym 0.4.0's own run-time requirements, as its wheel's METADATA declares them (no extras)."""
    meta = email.parser.Parser().parsestr((unpacked / "nemo_gym-0.4.0.dist-info" / "METADATA").read_text())
    return [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]


def answer_registry(path: Path, names: tuple[str, ...]) -> GitRepo:
    """The sandbox tests' answer servers (pinned to nemo-gym==0.4.0, one shared dependency image)."""
    repo = GitRepo(path)
    shutil.copytree(BASE_FIXTURE, repo.path, dirs_exist_ok=True)
    for name in names:
        repo.server(name, answer_server(name))
    repo.commit("registry")
    return repo


def add_wheel_server(repo: GitRepo, wheel: Path, name: str) -> None:
    """A real server of the wheel, its requirements pinned to nemo-gym==0.4.0 (the shared dependency image)."""
    files = wheel_server(wheel, name)
    files["requirements.txt"] = NEMO_GYM_REQUIREMENT.encode()
    write_tree(repo.path / "resources_servers" / name, files)
    repo.commit(f"add {name}")


def installable_registry(path: Path, unpacked: Path, names: tuple[str, ...]) -> GitRepo:
    """NeMo Gym's layout with the wheel's nemo_gym/ at the root, installable, and answer servers that install it."""
    repo = GitRepo(path)
    shutil.copytree(unpacked / "nemo_gym", repo.path / "nemo_gym")
    (repo.path / "pyproject.toml").write_text(
        ROOT_PYPROJECT.replace("{dependencies}", json.dumps(wheel_dependencies(unpacked)))
    )
    (repo.path / "README.md").write_text("# A registry\n")
    for name in names:
        repo.server(name, answer_server(name, requirements=CHECKOUT_REQUIREMENT))
    repo.commit("registry")
    return repo
