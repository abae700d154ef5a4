"""The recorded-judge replay (issue 20) in Docker, on judge servers of the real nemo-gym 0.4.0 wheel.

Three servers, two layouts: equivalence_llm_judge and xstest record `judge_evaluations` (each judge request and
response), simpleqa records `judge_output` (the judge's text of its one call). Their judge model servers are
stand-ins in the replay client's container that answer only from the rollout being replayed.

Two of the wheel's own rollouts are stale for today's verify(), and the tests leave them out of the clean runs:
xstest's lines 4-5 (the stored rollout lost `verifier_metadata`, which verify() pops, so the label falls back to
"safe" and the refusal the judge recorded now earns 0) and simpleqa's lines 4-5 (hand-written judge outputs
"After reviewing ... the grade is B/C": verify() reads the first letter, "A", so it returns 1 for a stored 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NEMO_GYM_REQUIREMENT, make_git_tree, server_files, wheel_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import SandboxResult, run_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]
ROLLOUTS = "data/example_rollouts.jsonl"


def files_of(wheel: Path, name: str) -> dict[str, bytes]:
    files = wheel_server(wheel, name)
    files["requirements.txt"] = NEMO_GYM_REQUIREMENT.encode()  # outside NeMo Gym's tree ../../ is no checkout
    return files


def rows_of(files: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for line in files[ROLLOUTS].decode().splitlines() if line.strip()]


def with_rows(files: dict[str, bytes], rows: list[dict]) -> dict[str, bytes]:
    return dict(files, **{ROLLOUTS: "".join(json.dumps(r) + "\n" for r in rows).encode()})


def run(tmp_path: Path, name: str, files: dict[str, bytes], options: SandboxOptions) -> tuple[SandboxResult, dict]:
    result = run_sandbox(make_git_tree(tmp_path / "repo", server_files(name, files)), name, options)
    found: dict[str, Finding] = {f.id: f for f in result.findings}
    assert found["GR202"].status == "pass", found["GR202"].message
    return result, found


def test_equivalence_llm_judge_replays_clean_from_its_judge_evaluations(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    result, found = run(tmp_path, "equivalence_llm_judge", files_of(nemo_gym_wheel, "equivalence_llm_judge"), options)
    assert found["GR203"].status == "pass", found["GR203"].message
    assert "5 with their recorded judge calls" in found["GR203"].message
    assert found["GR204"].status == "pass", found["GR204"].message
    assert found["GR206"].status == "skip" and found["GR206"].skip_kind == "not_applicable", found["GR206"].message
    assert result.replay is not None
    assert (result.replay.rollouts, result.replay.recorded_judge, result.replay.not_replayable) == (5, 5, 0)
    assert result.replay.layouts == ["judge_evaluations"]


def test_a_changed_stored_reward_fails_on_its_line_with_the_judge_replayed(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    files = files_of(nemo_gym_wheel, "equivalence_llm_judge")
    rows = rows_of(files)
    rows[2]["reward"] = 0.0 if rows[2]["reward"] else 1.0
    _, found = run(tmp_path, "equivalence_llm_judge", with_rows(files, rows), options)
    gr203 = found["GR203"]
    assert gr203.status == "fail" and gr203.line == 3, gr203.message
    assert [loc.line for loc in gr203.locations] == [3]
    assert "judge prompt changed" not in gr203.message


def test_xstest_passes_clean_and_fails_an_edited_judge_prompt(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    files = files_of(nemo_gym_wheel, "xstest")
    clean = with_rows(files, rows_of(files)[:3])
    result, found = run(tmp_path / "clean", "xstest", clean, options)
    assert found["GR203"].status == "pass", found["GR203"].message
    assert result.replay is not None and result.replay.recorded_judge == 3
    template = "prompt_templates/wildguard_judge.txt"
    assert template in files
    edited = dict(clean, **{template: files[template].replace(b"Human user:", b"Human user (edited):", 1)})
    assert edited[template] != files[template]
    result, found = run(tmp_path / "edited", "xstest", edited, options)
    gr203 = found["GR203"]
    assert gr203.status == "fail", gr203.message
    assert "the judge prompt changed since these rollouts were recorded" in gr203.message
    assert "(edited)" in gr203.message  # the short diff names what changed
    assert result.replay is not None and result.replay.judge_prompt_changed == 3 and result.replay.recorded_judge == 0


def test_simpleqa_replays_its_judge_output_and_without_it_stays_error(
    tmp_path: Path, options: SandboxOptions, nemo_gym_wheel: Path
) -> None:
    files = files_of(nemo_gym_wheel, "simpleqa")
    rows = rows_of(files)[:3]
    result, found = run(tmp_path / "clean", "simpleqa", with_rows(files, rows), options)
    assert found["GR203"].status == "pass", found["GR203"].message
    assert result.replay is not None and result.replay.layouts == ["judge_output"]
    bare = [{k: v for k, v in r.items() if k != "judge_output"} for r in rows]
    result, found = run(tmp_path / "bare", "simpleqa", with_rows(files, bare), options)
    gr203 = found["GR203"]
    assert gr203.status == "error", gr203.message
    assert "`judge_evaluations`" in gr203.message and "`judge_output" in gr203.message
    assert result.replay is not None and result.replay.not_replayable == 3
