"""GR401-GR413: reward profiles read from rollouts, NeMo Gym's profiling output or the PR body; charts."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from gym_review_bot.discover import discover_pr
from gym_review_bot.evidence.profiling import profile_from_profiling
from gym_review_bot.evidence.rollouts import profile_rollouts
from gym_review_bot.evidence.stats import pearson
from gym_review_bot.evidence.synthetic import jsonl, rollout_row, rollouts
from gym_review_bot.models import Report
from gym_review_bot.review import ReviewOptions, review
from gym_review_bot.sandbox.evidence_replay import replay_lines, sample_rollouts
from gym_review_bot.sandbox.replay import ReplayResult
from tests.conftest import GitRepo, good_server_files

SERVER = "math_srv"
DATA = f"resources_servers/{SERVER}/data"
PROFILED = "500 prompts, 16 responses per prompt with Qwen3-4B."


def known_16x500() -> bytes:
    return jsonl(rollouts(500, 16, lambda i: i % 17))


def run(
    repo: GitRepo,
    files: dict[str, str | bytes],
    body: str | None = PROFILED,
    servers: tuple[str, ...] = (SERVER,),
    **options,
) -> Report:
    repo.git("checkout", "-q", "-b", "pr")
    for name in servers:
        repo.server(name, good_server_files(name))
    repo.write(files)
    repo.commit("add servers")
    return review(discover_pr(repo.path, "main"), ReviewOptions(pr_body=body, **options)).report


def findings(report: Report, server: str = SERVER) -> dict[str, object]:
    found = next(s for s in report.servers if s.name == server)
    return {f.id: f for f in found.findings}


# -- statistics ---------------------------------------------------------------------------------


def test_a_16x500_file_gives_its_known_distribution() -> None:
    ev = profile_rollouts(io.BytesIO(known_16x500()), "f")
    wins = [i % 17 for i in range(500)]
    assert (ev.rollouts, ev.prompts, ev.responses_per_prompt, ev.responses_per_prompt_max) == (8000, 500, 16, 16)
    assert ev.models == ["Qwen/Qwen3-4B"]
    assert ev.reward_mean == pytest.approx(sum(wins) / 8000)
    p = sum(wins) / 8000
    assert ev.reward_std == pytest.approx(math.sqrt(p * (1 - p)))
    assert {b.label: b.count for b in ev.reward_histogram} == {"0": 8000 - sum(wins), "1": sum(wins)}
    assert ev.zero_variance_share == pytest.approx(sum(1 for w in wins if w in (0, 16)) / 500)
    rates = {b.label: b.count for b in ev.pass_rate_histogram}
    assert rates["0"] == wins.count(0) and rates["1"] == wins.count(16)
    assert sum(rates.values()) == 500
    assert ev.tool_calling is False and ev.tool_calls is None


def test_a_tool_calling_file_gives_calls_failures_and_their_correlation() -> None:
    data = jsonl(rollouts(50, 16, lambda i: i % 5, tool_calls=lambda i, j: (2, 1) if j < i % 5 else (0, 0)))
    ev = profile_rollouts(io.BytesIO(data), "f")
    share = sum(i % 5 for i in range(50)) / 800
    assert ev.tool_calling is True
    assert ev.tool_calls.calls_per_rollout == pytest.approx(2 * share)
    assert ev.tool_calls.failed_call_share == pytest.approx(0.5)
    assert ev.tool_calls.reward_correlation == pytest.approx(1.0)


def test_a_degenerate_all_zero_file() -> None:
    data = jsonl(rollouts(500, 16, lambda i: 0, tool_calls=lambda i, j: (1, 0)))
    ev = profile_rollouts(io.BytesIO(data), "f")
    assert ev.reward_mean == 0 and ev.reward_std == 0 and ev.pass_rate == 0
    assert ev.zero_variance_share == 1.0
    assert ev.tool_calls.reward_correlation is None  # no variance on either side: no correlation


def test_pearson_is_none_on_zero_variance_and_exact_otherwise() -> None:
    assert pearson([1, 1, 1], [0, 1, 2]) is None
    assert pearson([0, 1, 2], [5, 5, 5]) is None
    assert pearson([0, 1, 2], [0, 2, 4]) == pytest.approx(1.0)
    assert pearson([0, 1, 2], [4, 2, 0]) == pytest.approx(-1.0)


def test_without_nemo_gym_indices_responses_are_grouped_by_identical_input() -> None:
    data = jsonl(rollouts(20, 4, lambda i: i % 3, task_index=False))
    ev = profile_rollouts(io.BytesIO(data), "f")
    assert (ev.prompts, ev.responses_per_prompt) == (20, 4)


def test_bad_lines_are_counted_and_named_not_guessed() -> None:
    data = known_16x500()[:0] + b'{"reward": 1}\nnot json\n' + jsonl(rollouts(2, 2, lambda i: 1))
    ev = profile_rollouts(io.BytesIO(data), "f")
    assert ev.rollouts == 4
    assert "line 1 is not a rollout" in ev.notes[0] and "line 2 is not valid JSON" in ev.notes[0]


def test_overlong_lines_are_skipped_without_reading_them_whole() -> None:
    data = b'{"x": "' + b"a" * 5000 + b'"}\n' + jsonl(rollouts(1, 2, lambda i: 1))
    ev = profile_rollouts(io.BytesIO(data), "f", max_line_bytes=1000)
    assert ev.rollouts == 2 and "longer than 1,000 bytes" in ev.notes[0]


# -- the checks, through the pipeline -----------------------------------------------------------


def test_a_complete_profile_passes_gr401_to_gr407(repo: GitRepo) -> None:
    body = PROFILED + " Mean reward: 0.50.\n\n## Training\nGRPO on Qwen3-4B. ![training accuracy](https://x.test/a.png)"
    report = run(repo, {f"{DATA}/profile_rollouts.jsonl": known_16x500()}, body)
    found = findings(report)
    for cid in ("GR401", "GR402", "GR403", "GR404", "GR406", "GR407", "GR411", "GR412"):
        assert found[cid].status == "pass", (cid, found[cid].message)
    assert found["GR405"].status == "skip" and found["GR413"].status == "skip"
    ev = report.servers[0].evidence
    assert ev.source == f"{DATA}/profile_rollouts.jsonl" and not ev.self_reported


def test_too_few_prompts_and_responses_fail(repo: GitRepo) -> None:
    found = findings(run(repo, {f"{DATA}/profile_rollouts.jsonl": jsonl(rollouts(100, 8, lambda i: i % 9))}))
    assert found["GR401"].status == "fail" and "100 prompts" in found["GR401"].message
    assert found["GR402"].status == "fail" and "8 responses per prompt" in found["GR402"].message


def test_an_unnamed_model_fails_and_an_equivalent_one_passes(repo: GitRepo, tmp_path: Path) -> None:
    data = jsonl(rollouts(500, 16, lambda i: i % 17, model="my-org/tiny-model"))
    found = findings(run(repo, {f"{DATA}/profile_rollouts.jsonl": data}, body="Profiled 500 prompts."))
    assert found["GR403"].status == "fail" and "tiny-model" in found["GR403"].message
    body = "Profiled with Llama-3.1-8B-Instruct, which we consider equivalent to Qwen3-4B for this task."
    for n, (model, status) in enumerate((("my-org/tiny-model", "fail"), ("meta-llama/Llama-3.1-8B-Instruct", "pass"))):
        # The rows name their model: a statement about another model does not count for them (issue 16).
        other = GitRepo(tmp_path / f"other{n}")
        other.write({"README.md": "x\n"})
        other.commit("base")
        data = jsonl(rollouts(500, 16, lambda i: i % 17, model=model))
        found = findings(run(other, {f"{DATA}/profile_rollouts.jsonl": data}, body=body))
        assert found["GR403"].status == status, (model, found["GR403"].message)


def test_a_tool_calling_server_gets_its_metrics_computed(repo: GitRepo) -> None:
    data = jsonl(rollouts(500, 16, lambda i: i % 17, tool_calls=lambda i, j: (1 + (j < i % 17), 0)))
    report = run(repo, {f"{DATA}/profile_rollouts.jsonl": data})
    assert findings(report)["GR405"].status == "pass"
    assert report.servers[0].evidence.tool_calls.reward_correlation == pytest.approx(1.0)


def test_a_tool_calling_server_with_only_profiling_output_must_state_tool_metrics(repo: GitRepo) -> None:
    examples = "".join(
        json.dumps({"responses_create_params": {"input": [], "tools": [{"type": "function", "name": "f"}]}}) + "\n"
        for _ in range(5)
    )
    found = findings(run(repo, {f"{DATA}/example.jsonl": examples}, body=PROFILED + " Mean reward: 0.4."))
    assert found["GR405"].status == "fail"


def test_a_degenerate_profile_warns_that_grpo_gets_no_signal(repo: GitRepo) -> None:
    found = findings(run(repo, {f"{DATA}/profile_rollouts.jsonl": jsonl(rollouts(500, 16, lambda i: 0))}))
    assert found["GR406"].status == "fail" and found["GR406"].severity == "warning"
    assert "100%" in found["GR406"].message


def test_numbers_in_the_body_that_disagree_with_the_file_warn(repo: GitRepo) -> None:
    body = "We profiled 512 prompts with Qwen3-4B, 16 responses per prompt; mean reward 0.62, pass rate 62%."
    found = findings(run(repo, {f"{DATA}/profile_rollouts.jsonl": known_16x500()}, body=body))
    msg = found["GR407"].message
    assert found["GR407"].status == "fail"
    assert "prompts: stated 512, the file gives 500" in msg and "mean reward" in msg and "pass rate" in msg
    assert "responses per prompt" not in msg


def test_numbers_only_in_the_body_are_self_reported(repo: GitRepo) -> None:
    body = "## Reward profiling\n| Metric | Value |\n|---|---|\n| Prompts | 500 |\n| Responses per prompt | 16 |\n"
    body += "| Mean reward | 0.41 |\n\nModel: Qwen3-30B-A3B"
    report = run(repo, {}, body=body)
    ev = report.servers[0].evidence
    assert ev.self_reported and ev.source == "PR body"
    assert (ev.prompts, ev.responses_per_prompt, ev.reward_mean) == (500, 16, 0.41)
    found = findings(report)
    assert found["GR401"].status == "pass" and "not verified" in found["GR401"].message
    # nothing to replay, and no sandbox to replay it in: skipped, not failed (issue 19, #1458)
    assert found["GR408"].status == "skip" and found["GR408"].skip_kind == "not_requested"
    assert "Nothing to replay" in found["GR408"].message


def test_gr408_nothing_to_replay_warns_only_when_the_sandbox_ran(repo: GitRepo) -> None:
    from gym_review_bot.checks.checkout import Checkout
    from gym_review_bot.checks.context import ServerContext
    from gym_review_bot.checks.evidence import EvidenceContext, check_evidence
    from gym_review_bot.evidence.locate import Located

    repo.git("checkout", "-q", "-b", "pr")
    repo.server(SERVER, good_server_files(SERVER))
    repo.commit("add")
    found = discover_pr(repo.path, "main")
    ctx = ServerContext(found.head, SERVER, Checkout(found.head))
    profile = profile_from_profiling(io.BytesIO(b'{"mean/reward": 0.5, "sample": {}}\n'), "p_reward_profiling.jsonl")
    for sandbox, status in (("run", "fail"), ("not_requested", "skip"), ("unavailable", "skip")):
        located = Located(evidence=profile)
        gr408 = {f.id: f for f in check_evidence(EvidenceContext(ctx, located, None, False, sandbox=sandbox))}["GR408"]
        assert gr408.status == status, sandbox
        assert status == "skip" or gr408.severity == "warning"


def test_reward_profiling_done_proves_nothing(repo: GitRepo) -> None:
    found = findings(run(repo, {}, body="- [x] Reward profiling: done"))
    for cid in ("GR401", "GR402", "GR404"):
        assert found[cid].status == "fail", cid
        assert "No reward profile" in found[cid].message


def test_no_body_and_no_files_is_not_requested_never_a_pass(repo: GitRepo) -> None:
    found = findings(run(repo, {}, body=None))
    assert found["GR401"].status == "skip" and found["GR401"].skip_kind == "not_requested"
    assert found["GR411"].skip_kind == "not_requested"


def test_a_file_over_the_evidence_cap_is_not_read(repo: GitRepo) -> None:
    report = run(repo, {f"{DATA}/profile_rollouts.jsonl": known_16x500()}, max_evidence_mb=0.5)
    found = findings(report)
    assert report.servers[0].evidence.self_reported  # only the body's numbers remain
    assert "over the 0.5 MB evidence cap" in " ".join(report.servers[0].evidence.notes)
    assert found["GR401"].status == "pass" and "not verified" in found["GR401"].message


def test_a_git_lfs_pointer_is_evidence_not_in_the_repository(repo: GitRepo) -> None:
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 123456789\n"
    found = findings(run(repo, {f"{DATA}/profile_rollouts.jsonl": pointer}, body="Reward profiling: done."))
    assert found["GR401"].status == "fail"
    assert "Git LFS pointer, not the file itself: the evidence is not in the repository" in found["GR401"].message
    assert "reward_profiling.jsonl" in found["GR401"].message  # how to attach it


def test_a_path_named_in_the_body_is_resolved_only_inside_the_server(repo: GitRepo) -> None:
    repo.write({"outside/rollouts_elsewhere.jsonl": known_16x500().decode()})
    repo.commit("outside file")
    body = "Rollouts: `../../outside/rollouts_elsewhere.jsonl` and `/etc/passwd.jsonl`"
    report = run(repo, {f"{DATA}/my_profile.jsonl": known_16x500()}, body=body)
    assert report.servers[0].evidence is None
    body = "Rollouts: `data/my_profile.jsonl`"
    other = findings(run_again(repo, body))
    assert other["GR401"].status == "pass"


def run_again(repo: GitRepo, body: str) -> Report:
    return review(discover_pr(repo.path, "main"), ReviewOptions(pr_body=body)).report


def test_the_example_rollouts_are_not_evidence(repo: GitRepo) -> None:
    report = run(repo, {}, body="Profiling: see the example rollouts.")
    assert report.servers[0].evidence is None


def test_per_config_example_rollouts_are_not_evidence_but_a_profile_file_is(repo: GitRepo) -> None:
    # NeMo Gym names the examples of a second config example_rollouts_<config>.jsonl (the wheel's
    # equivalence_llm_judge has example_rollouts_openqa.jsonl): five rows, not a reward profile.
    sibling = {f"{DATA}/example_rollouts_openqa.jsonl": jsonl(rollouts(5, 1, lambda i: 1))}
    assert run(repo, sibling, body=None).servers[0].evidence is None
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "pr")
    report = run(repo, {**sibling, f"{DATA}/profile_rollouts.jsonl": known_16x500()}, body=None)
    assert report.servers[0].evidence is not None and report.servers[0].evidence.prompts == 500


def test_nemo_gyms_other_example_rollouts_are_not_evidence(repo: GitRepo) -> None:
    # the nemo-gym wheel ships 5-row examples such as these (equivalence_llm_judge, 14 servers' materialized inputs)
    example = good_server_files(SERVER)["data/example_rollouts.jsonl"]
    files = {
        f"{DATA}/example_rollouts_openqa.jsonl": example,
        f"{DATA}/example_rollouts_materialized_inputs.jsonl": example,
    }
    report = run(repo, files, body="Profiling: see the example rollouts.")
    assert report.servers[0].evidence is None


def profile_of_examples(n: int = 5) -> bytes:
    """NeMo Gym's reward-profiling output for n example prompts, one rollout each (#1458's shape)."""
    groups = [
        {"sample": {"responses_create_params": {"input": f"q{i}"}}, "mean/reward": 1.0, "num_rollouts": 1}
        for i in range(n)
    ]
    return b"".join(json.dumps(g).encode() + b"\n" for g in groups)


@pytest.mark.parametrize(
    "name, content",
    [
        # #1458: a profile of the 5 example rollouts, named as such
        ("example_rollouts_reward_profiling.jsonl", profile_of_examples()),
        # #1085: 5 example rollouts under a name holding `example` (not at its start)
        ("structeval_nonrenderable_example_rollouts.jsonl", jsonl(rollouts(5, 1, lambda i: 1))),
        # no more rows than the examples, whatever the name
        ("extra_rollouts.jsonl", jsonl(rollouts(5, 1, lambda i: 1))),
        ("small_reward_profiling.jsonl", profile_of_examples()),
    ],
)
def test_example_files_are_not_evidence_and_the_checks_skip(repo: GitRepo, name: str, content: bytes) -> None:
    report = run(repo, {f"{DATA}/{name}": content}, body=None)
    assert report.servers[0].evidence is None
    found = findings(report)
    for cid in ("GR401", "GR402", "GR403", "GR406", "GR408"):
        assert found[cid].status == "skip" and found[cid].skip_kind == "not_requested", cid
    # the description that names the file makes it the profile (and the numbers fail, as they should)
    named = findings(run_again(repo, f"Reward profiling: `data/{name}` with Qwen3-4B."))
    assert named["GR401"].status == "fail" and name in named["GR401"].message


def test_a_description_without_numbers_says_which_files_were_taken_as_examples(repo: GitRepo) -> None:
    found = findings(run(repo, {f"{DATA}/extra_rollouts.jsonl": jsonl(rollouts(5, 1, lambda i: 1))}, body="Hi."))
    assert found["GR401"].status == "fail"
    assert "Taken as examples" in found["GR401"].message and "extra_rollouts.jsonl" in found["GR401"].message


def test_with_several_servers_the_body_must_name_each(repo: GitRepo) -> None:
    body = "## Reward profiling\n" + PROFILED + "\nMean reward 0.5"
    report = run(repo, {}, body=body, servers=("alpha_srv", "beta_srv"))
    found = findings(report, "alpha_srv")
    assert found["GR401"].status == "fail"
    assert "does not name alpha_srv" in found["GR401"].message
    body = "## alpha_srv\n" + PROFILED + "\n## beta_srv\nNothing yet."
    report = run_again(repo, body)
    assert findings(report, "alpha_srv")["GR401"].status == "pass"
    assert findings(report, "beta_srv")["GR401"].status == "fail"


def test_a_changed_server_is_not_asked_for_evidence(repo: GitRepo) -> None:
    repo.server(SERVER, good_server_files(SERVER))
    repo.commit("server on main")
    repo.git("checkout", "-q", "-b", "pr")
    repo.write({f"resources_servers/{SERVER}/README.md": "changed\n"})
    repo.commit("change")
    report = review(discover_pr(repo.path, "main"), ReviewOptions(pr_body="hi")).report
    assert report.servers[0].status == "changed"
    assert report.servers[0].evidence is None
    assert not [f for f in report.servers[0].findings if f.id.startswith("GR4")]


def test_a_registry_can_make_training_evidence_a_warning(repo: GitRepo) -> None:
    # the merge base's `.gym-review.yaml` decides; the same file added by the PR head would not
    repo.write({".gym-review.yaml": "pr_body:\n  evidence_severity: {GR411: warning, GR412: warning}\n"})
    repo.commit("registry config")
    found = findings(run(repo, {}, body=PROFILED))
    assert found["GR411"].status == "fail" and found["GR411"].severity == "warning"


def test_pr_body_settings_in_the_pr_head_do_not_count(repo: GitRepo) -> None:
    config = {".gym-review.yaml": "pr_body:\n  evidence_severity: {GR411: warning}\n  disabled: [GR301]\n"}
    report = run(repo, config, body=PROFILED)
    assert findings(report)["GR411"].severity == "error"
    assert next(f for f in report.pr.findings if f.id == "GR301").skip_kind != "disabled_by_policy"


# -- training evidence --------------------------------------------------------------------------


def test_training_stated_without_the_model_fails(repo: GitRepo) -> None:
    found = findings(run(repo, {}, body="## Training\nWe trained with GRPO for 300 steps."))
    assert found["GR411"].status == "fail" and "without the model" in found["GR411"].message
    assert found["GR412"].status == "fail"


def test_a_wandb_link_is_a_training_curve(repo: GitRepo) -> None:
    body = "## Training\nGRPO on Qwen3-4B: [run](https://wandb.ai/team/proj/runs/abc)"
    found = findings(run(repo, {}, body=body))
    assert found["GR411"].status == "pass" and found["GR412"].status == "pass"


def test_a_named_benchmark_needs_its_curve(repo: GitRepo) -> None:
    body = "## Training\nGRPO on Qwen3-4B ![train accuracy](https://x.test/t.png)\nWe also evaluate on AIME 2024."
    assert findings(run(repo, {}, body=body))["GR413"].status == "fail"
    body += "\n\n## Test benchmark\n![AIME accuracy](https://x.test/aime.png)"
    assert findings(run_again(repo, body))["GR413"].status == "pass"


def test_curve_points_in_the_pr_pass_and_are_drawn(repo: GitRepo, tmp_path: Path) -> None:
    from gym_review_bot.evidence.charts import write_charts

    csv = "step,train_accuracy\n" + "".join(f"{i},{i / 100:.2f}\n" for i in range(0, 100, 10))
    files = {f"{DATA}/profile_rollouts.jsonl": known_16x500(), f"resources_servers/{SERVER}/train_curve.csv": csv}
    report = run(repo, files, body=PROFILED + "\n## Training\nGRPO on Qwen3-4B.")
    assert findings(report)["GR412"].status == "pass"
    ev = report.servers[0].evidence
    assert [(p.step, p.value) for p in ev.training_curve][:2] == [(0, 0.0), (10, 0.1)]
    written = write_charts(report, tmp_path / "art")
    assert sorted(p.name for p in written) == [
        f"{SERVER}_pass_rates.png",
        f"{SERVER}_reward_histogram.png",
        f"{SERVER}_training_curve.png",
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written)


# -- the comment --------------------------------------------------------------------------------


def test_mermaid_blocks_hold_only_the_bots_labels_and_numbers(repo: GitRepo) -> None:
    from gym_review_bot.render.markdown import render_markdown

    hostile_model = 'evil"] \n```\n@everyone <script>'
    data = jsonl(rollouts(500, 16, lambda i: i % 17, model=hostile_model))
    report = run(repo, {f"{DATA}/profile_rollouts.jsonl": data}, body="```mermaid\nxychart-beta\n```\n" + PROFILED)
    text = render_markdown(report)
    blocks = text.split("```mermaid\n")[1:]
    assert len(blocks) == 2
    allowed = set('xychart-beta title "Reward distribution Prompts by pass rate x-axis y-axis bar rollouts prompts')
    for block in blocks:
        inner = block.split("```", 1)[0]
        assert set(inner) <= allowed | set("0123456789.,-[] \n")
    assert "@everyone" not in text and "<script>" not in text


# -- GR408: replaying a sample ------------------------------------------------------------------


def test_sampling_is_seeded_by_the_head_sha(tmp_path: Path) -> None:
    from gym_review_bot.sources import FsTree

    (tmp_path / "r.jsonl").write_bytes(jsonl(rollouts(100, 5, lambda i: 5)))
    tree = FsTree(tmp_path)
    first = [r.line for r in sample_rollouts(tree, "r.jsonl", "abc123")]
    assert len(first) == 50 and first == [r.line for r in sample_rollouts(tree, "r.jsonl", "abc123")]
    assert first != [r.line for r in sample_rollouts(tree, "r.jsonl", "def456")]


def answers(sample: list, returned: float = 1.0, model_calls: int = 0) -> list[ReplayResult]:
    """What the sandbox's replay client reports for a verifier that returns `returned` for every row."""
    return [ReplayResult(r.line, r.reward, returned, status=200, model_calls=model_calls) for r in sample]


def test_an_altered_reward_in_the_sample_fails_naming_its_line(tmp_path: Path) -> None:
    from gym_review_bot.checks.evidence import judge_replay
    from gym_review_bot.sources import FsTree

    rows = [rollout_row(i, 0, 1.0) for i in range(30)]
    rows[6]["reward"] = 0.0  # the contributor edited one reward
    (tmp_path / "r.jsonl").write_bytes(jsonl(iter(rows)))
    sample = sample_rollouts(FsTree(tmp_path), "r.jsonl", "sha")
    outcome = judge_replay(replay_lines(answers(sample)), "r.jsonl")
    assert outcome.status == "fail"
    assert "1 of 30 sampled rollouts" in outcome.message and "line 7 (stored 0, got 1)" in outcome.message
    rows[6]["reward"] = 1.0
    (tmp_path / "r.jsonl").write_bytes(jsonl(iter(rows)))
    sample = sample_rollouts(FsTree(tmp_path), "r.jsonl", "sha")
    assert judge_replay(replay_lines(answers(sample)), "r.jsonl").status == "pass"


def test_a_sampled_reward_that_needed_a_model_never_matches(tmp_path: Path) -> None:
    from gym_review_bot.sources import FsTree

    (tmp_path / "r.jsonl").write_bytes(jsonl(iter([rollout_row(i, 0, 1.0) for i in range(5)])))
    sample = sample_rollouts(FsTree(tmp_path), "r.jsonl", "sha")
    lines = replay_lines(answers(sample, model_calls=1))
    assert {line.status for line in lines} == {"error"} and "called a model" in lines[0].detail


def test_gr408_with_the_sandbox_on_is_an_error_until_the_sandbox_replays_evidence(repo: GitRepo) -> None:
    from gym_review_bot.checks.checkout import Checkout
    from gym_review_bot.checks.context import ServerContext
    from gym_review_bot.checks.evidence import EvidenceContext, check_evidence
    from gym_review_bot.evidence.locate import locate_evidence

    repo.git("checkout", "-q", "-b", "pr")
    repo.server(SERVER, good_server_files(SERVER))
    repo.write({f"{DATA}/profile_rollouts.jsonl": known_16x500()})
    repo.commit("add")
    found = discover_pr(repo.path, "main")
    ctx = ServerContext(found.head, SERVER, Checkout(found.head))
    located = locate_evidence(found.head, ctx.path, None, 100 * 1024 * 1024)
    gr408 = {f.id: f for f in check_evidence(EvidenceContext(ctx, located, None, False, sandbox="run"))}["GR408"]
    assert gr408.status == "error" and "Not implemented in this version" in gr408.message


# -- NeMo Gym's own profiling output ------------------------------------------------------------


def test_profiling_output_in_the_wheels_own_format() -> None:
    from tests.corpus import CorpusUnavailable, corpus_root

    try:
        root = corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    path = root / "resources_servers/longmt_eval/data/example_rollouts_reward_profiling.jsonl"
    ev = profile_from_profiling(io.BytesIO(path.read_bytes()), "x")
    assert ev.prompts == 5 and ev.kind == "reward_profiling"
    assert ev.responses_per_prompt == 1


# -- NeMo Gym's own reward_profile, run in a container (it needs Python 3.12+) -------------------

PROFILER_IMAGE = "gym-review-test-nemo-profiler:0.4.0"
# reward_profile.py's import chain (nemo_gym.global_config) needs these; nemo-gym itself comes from the wheel
PROFILER_DEPS = ["pandas", "orjson", "wandb", "hydra-core", "omegaconf", "rich", "openai", "ray", "pydantic"]
RUN_PROFILE = """
import sys
from pathlib import Path

import orjson

from nemo_gym.reward_profile import RewardProfiler

rows, results = [], []
for line in Path(sys.argv[1]).read_bytes().splitlines():
    result = orjson.loads(line)
    results.append(result)
    keys = ("_ng_task_index", "_ng_rollout_index", "responses_create_params")
    rows.append({k: result[k] for k in keys} | {"agent_ref": {"name": "math_agent"}})
profiler = RewardProfiler()
groups, agents = profiler.profile_from_data(rows, results)
print(*profiler.write_to_disk(groups, agents, Path(sys.argv[2])))
"""


def _docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _labels() -> list[str]:
    from gym_review_bot.sandbox.docker_api import LABEL_KIND, LABEL_OWNER, owner_label

    return ["--label", f"{LABEL_OWNER}={owner_label()}", "--label", f"{LABEL_KIND}=tmp"]


def _profiler_image() -> str:
    """An image with reward_profile's dependencies, built once and kept as a (labelled) cache image."""
    from gym_review_bot.sandbox.docker_api import LABEL_KIND
    from tests.docker_support import base_image, ca_bundle

    if _docker("image", "inspect", PROFILER_IMAGE).returncode == 0:
        return PROFILER_IMAGE
    name = f"gym-review-test-profiler-{os.getpid()}"
    ca = ca_bundle()
    mounts = ["-v", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro", "-e", f"PIP_CERT={ca}"] if ca else []
    pip = "/opt/venv/bin/pip install -q --no-cache-dir --disable-pip-version-check " + " ".join(PROFILER_DEPS)
    built = _docker(
        "run", "--name", name, *_labels(), *mounts, base_image(), "sh", "-c", f"python3 -m venv /opt/venv && {pip}"
    )
    try:
        if built.returncode != 0:
            pytest.fail(f"installing reward_profile's dependencies failed: {built.stderr[-2000:]}")
        committed = _docker("commit", "--change", f"LABEL {LABEL_KIND}=cache", name, PROFILER_IMAGE)
        assert committed.returncode == 0, committed.stderr
    finally:
        _docker("rm", "-f", name)
    return PROFILER_IMAGE


@pytest.mark.docker
def test_nemo_gyms_own_reward_profile_output_reads_as_the_rollouts_do(tmp_path: Path) -> None:
    from tests.corpus import CorpusUnavailable, corpus_root
    from tests.docker_support import docker_skip_reason

    if reason := docker_skip_reason():
        pytest.skip(reason)
    try:
        wheel = corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(str(exc))
    image = _profiler_image()
    data = jsonl(rollouts(60, 16, lambda i: i % 17))
    (tmp_path / "rollouts.jsonl").write_bytes(data)
    (tmp_path / "run_profile.py").write_text(RUN_PROFILE)
    (tmp_path / "out").mkdir()
    os.chmod(tmp_path / "out", 0o777)
    result = _docker(
        "run", "--rm", "--network", "none", *_labels(), "-v", f"{wheel}:/nemo:ro", "-v", f"{tmp_path}:/work",
        "-e", "PYTHONPATH=/nemo", "-w", "/tmp", image,
        "/opt/venv/bin/python", "/work/run_profile.py", "/work/rollouts.jsonl", "/work/out/profile.jsonl",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    profile = (tmp_path / "out" / "profile_reward_profiling.jsonl").read_bytes()
    agent = (tmp_path / "out" / "profile_agent_metrics.json").read_bytes()

    from gym_review_bot.evidence.profiling import merge_agent_metrics

    theirs = profile_from_profiling(io.BytesIO(profile), "profile_reward_profiling.jsonl")
    merge_agent_metrics(theirs, agent)
    ours = profile_rollouts(io.BytesIO(data), "rollouts.jsonl")
    assert (theirs.prompts, theirs.responses_per_prompt, theirs.rollouts) == (60, 16, 960)
    assert theirs.reward_mean == pytest.approx(ours.reward_mean)
    assert theirs.reward_std == pytest.approx(ours.reward_std)
    assert theirs.reward_histogram == ours.reward_histogram
    assert theirs.pass_rate_histogram == ours.pass_rate_histogram
    assert theirs.zero_variance_share == pytest.approx(ours.zero_variance_share)


@pytest.mark.docker
def test_profiling_output_in_a_pr_is_the_preferred_evidence(repo: GitRepo, tmp_path: Path) -> None:
    """Profiling output committed beside a rollouts file wins, as the issue's order says."""
    test_nemo_gyms_own_reward_profile_output_reads_as_the_rollouts_do(tmp_path)
    out = tmp_path / "out"
    files = {
        f"{DATA}/profile_reward_profiling.jsonl": (out / "profile_reward_profiling.jsonl").read_bytes(),
        f"{DATA}/profile_agent_metrics.json": (out / "profile_agent_metrics.json").read_bytes(),
        f"{DATA}/other_rollouts.jsonl": known_16x500(),
    }
    report = run(repo, files, body="60 prompts with Qwen3-4B, 16 responses per prompt.")
    ev = report.servers[0].evidence
    assert ev.kind == "reward_profiling" and ev.source.endswith("profile_reward_profiling.jsonl")
    found = findings(report)
    assert found["GR401"].status == "fail" and "60 prompts" in found["GR401"].message
    assert found["GR402"].status == "pass"
    assert found["GR407"].status == "pass"


@pytest.mark.docker
def test_gr408_replays_a_seeded_sample_against_the_real_sandbox(repo: GitRepo, tmp_path: Path) -> None:
    """A profile built from real rollouts, one reward altered: GR408 fails naming that line."""
    from tests.docker_support import base_image, ca_bundle, docker_skip_reason

    if reason := docker_skip_reason():
        pytest.skip(reason)
    from gym_review_bot.sandbox.options import SandboxOptions

    server = "trivia_match"
    examples = good_server_files(server)["data/example_rollouts.jsonl"].splitlines()
    rows = [json.loads(line) for line in examples * 4]  # 20 rows: all of them are in the sample
    rows[6]["reward"] = 1.0 - rows[6]["reward"]
    profile = "".join(json.dumps(r) + "\n" for r in rows)
    repo.git("checkout", "-q", "-b", "pr")
    repo.server(server, {**good_server_files(server), "data/profile_rollouts.jsonl": profile})
    repo.commit("add trivia_match with a profile")
    options = ReviewOptions(
        pr_body="Profiled with Qwen3-4B.",
        sandbox="run",
        sandbox_options=SandboxOptions(base_image=base_image(), ca_bundle=ca_bundle(), concurrency=4),
    )
    report = review(discover_pr(repo.path, "main"), options).report
    found = findings(report, server)
    assert found["GR203"].status == "pass", found["GR203"].message
    assert found["GR408"].status == "fail", found["GR408"].message
    assert "1 of 20 sampled rollouts" in found["GR408"].message and "line 7 " in found["GR408"].message
    assert found["GR408"].file == f"resources_servers/{server}/data/profile_rollouts.jsonl"
