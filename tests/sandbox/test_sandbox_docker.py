"""The sandbox against a real Docker daemon, on servers written for the real nemo-gym 0.4.0."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NEMO_GYM_REQUIREMENT, make_git_tree, server_files, wheel_server
from sandbox_fixtures import answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox import SandboxOptions, run_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


def by_id(findings: list[Finding]) -> dict[str, Finding]:
    return {f.id: f for f in findings}


def sandbox(tmp_path: Path, name: str, files: dict, options: SandboxOptions) -> dict[str, Finding]:
    tree = make_git_tree(tmp_path / "repo", server_files(name, files))
    result = run_sandbox(tree, name, options)
    found = by_id(result.findings)
    assert sorted(found) == [f"GR20{i}" for i in range(1, 8)]
    return found


def statuses(found: dict[str, Finding]) -> dict[str, str]:
    return {k: f.status for k, f in found.items()}


def test_reproducing_server_passes_every_check(tmp_path: Path, options: SandboxOptions) -> None:
    tree = make_git_tree(tmp_path / "repo", server_files("capitals", answer_server("capitals")))
    result = run_sandbox(tree, "capitals", options)
    found = by_id(result.findings)
    assert statuses(found) == {f"GR20{i}": "pass" for i in range(1, 8)}, {k: f.message for k, f in found.items()}
    t = result.timings
    assert None not in (t.build_s, t.boot_s, t.replay_s, t.tests_s)


def test_real_example_single_tool_call_from_the_wheel(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    files = wheel_server(nemo_gym_wheel, "example_single_tool_call")
    files["requirements.txt"] = NEMO_GYM_REQUIREMENT.encode()  # outside NeMo Gym's tree ../../ is no checkout
    found = sandbox(tmp_path, "example_single_tool_call", files, options)
    for check_id in ("GR201", "GR202", "GR203", "GR204", "GR205", "GR207"):
        assert found[check_id].status == "pass", found[check_id].message
    # Its verify() rewards everything 1.0, so the example rewards do not vary: the probes cannot judge.
    assert found["GR206"].status == "skip"
