"""GR301-GR305: the PR description, parsed as Markdown, in the wording real PRs use."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.base import run_checks
from gym_review_bot.checks.pull import PR_SCOPE, PrContext
from gym_review_bot.config import Policy, PrBodySettings, default_policy
from gym_review_bot.config.strict import validate
from gym_review_bot.evidence.body import parse_body
from gym_review_bot.models import Finding

TEMPLATE = Path(__file__).parent.parent / "templates" / "new_environment_pr.md"

FILLED = {
    "## Environment": "A competition-math environment: the model reads a problem and answers in \\boxed{}.",
    "## Verification logic": "verify() extracts the last boxed answer and compares it with math-verify; 1 if equal.",
    "## Prompts / tasks": "Source: 12k problems from the DAPO-17k dataset on Hugging Face. Domain: math.",
    "## Licensing": "Code: Apache 2.0. Data: the DAPO-17k dataset is Apache 2.0 as well.",
}


def review(body: str | None, settings: PrBodySettings | None = None) -> dict[str, Finding]:
    """The PR-description checks (GR3xx and a registry's own parts) on a body, as a review runs them."""
    policy = default_policy() if settings is None else Policy(pr_body=settings)
    catalogue = Catalogue(policy)
    checks = [c for c in catalogue.pr_checks() if c.family == "description"]
    parsed = parse_body(body) if body is not None else None
    return {f.id: f for f in run_checks(checks, PrContext(parsed, policy), PR_SCOPE, policy)}


def statuses(body: str, settings: PrBodySettings | None = None) -> dict[str, str]:
    return {k: f.status for k, f in review(body, settings).items()}


def fill(template: str, answers: dict[str, str]) -> str:
    out = template
    for heading, text in answers.items():
        out = out.replace(heading + "\n", f"{heading}\n{text}\n", 1)
    return out


def test_the_shipped_template_fails_on_every_part_when_not_filled_in() -> None:
    found = review(TEMPLATE.read_text())
    for check_id in ("GR301", "GR302", "GR303", "GR304"):
        assert found[check_id].status == "fail", check_id
        assert "empty or still holds the template's placeholder" in found[check_id].message
    assert found["GR305"].status == "skip"


def test_the_shipped_template_passes_when_filled_in() -> None:
    assert statuses(fill(TEMPLATE.read_text(), FILLED)) == {
        "GR301": "pass",
        "GR302": "pass",
        "GR303": "pass",
        "GR304": "pass",
        "GR305": "skip",
    }


@pytest.mark.parametrize("missing", sorted(FILLED))
def test_the_shipped_template_fails_on_each_part_left_empty(missing: str) -> None:
    answers = {k: v for k, v in FILLED.items() if k != missing}
    found = statuses(fill(TEMPLATE.read_text(), answers))
    failing = [k for k, v in found.items() if v == "fail"]
    assert len(failing) == 1


def test_emoji_headings_in_any_order() -> None:
    body = """
## ⚖️ License
- Code: MIT
- Data: CC-BY-4.0 (prompts from OpenMathInstruct-2)

## 🔎 How verification works
The server parses the final answer and compares it numerically with the ground truth.

## 🌍 Environment overview
Grade-school math word problems with a single numeric answer.

## 📚 Tasks
Source: GSM8K train split (https://huggingface.co/datasets/gsm8k); domain: math.
"""
    assert statuses(body) == {"GR301": "pass", "GR302": "pass", "GR303": "pass", "GR304": "pass", "GR305": "skip"}


def test_bold_labels_instead_of_headings() -> None:
    body = """This PR adds the `sql_eval` resources server.

**Environment:** text-to-SQL tasks where the model writes a query against a SQLite database.
**Verification logic:** the query is executed and its result set compared with the reference query's.
**Prompts / tasks:** derived from the Spider dataset; domain: coding (SQL).
**Licensing:** code Apache-2.0; data (Spider) CC BY-SA 4.0.
"""
    assert statuses(body)["GR301"] == "pass"
    assert statuses(body)["GR302"] == "pass"
    assert statuses(body)["GR303"] == "pass"
    assert statuses(body)["GR304"] == "pass"


def test_a_plain_description_heading_is_the_environment_unless_it_names_another_part() -> None:
    body = """## Description
Adds a chess-puzzle environment: the model must find the best move.

## Description of the verification logic
The move is checked against the puzzle's solution with python-chess.
"""
    found = review(body)
    assert found["GR301"].status == "pass" and "“Description”" in found["GR301"].message
    assert found["GR302"].status == "pass"


def test_checklist_items_count_only_with_content() -> None:
    body = """## Checklist
- [x] Description of the environment: a Sokoban puzzle environment with a move tool.
- [x] Description of the verification logic
- [x] Prompts/tasks: procedurally generated levels (our own generator); domain: games.
- [ ] License: TBD
"""
    found = review(body)
    assert found["GR301"].status == "pass"
    assert found["GR302"].status == "fail"  # ticked, but says nothing
    assert found["GR303"].status == "pass"
    assert found["GR304"].status == "fail"
    assert "placeholder" in found["GR304"].message


def test_checklist_item_with_nested_details_counts() -> None:
    body = """- [x] Verification logic
  - the reward is 1 when the unit tests of the task pass in the sandbox, else 0
"""
    assert review(body)["GR302"].status == "pass"


@pytest.mark.parametrize("placeholder", ["TODO", "<describe the environment>", "[your description here]", "N/A", "tbd"])
def test_placeholders_count_as_missing(placeholder: str) -> None:
    found = review(f"## Environment\n{placeholder}\n")
    assert found["GR301"].status == "fail"
    assert "placeholder" in found["GR301"].message


def test_a_part_with_no_heading_or_label_is_named_as_absent() -> None:
    found = review("## Environment\nA maze environment where the agent must reach the exit.\n")
    assert found["GR302"].status == "fail"
    assert "no part for this" in found["GR302"].message
    assert found["GR302"].severity == "error"


def test_prompts_without_source_or_domain_fail_naming_what_is_missing() -> None:
    no_domain = review("## Prompts\nTaken from the MBPP dataset, 500 problems.\n")["GR303"]
    assert no_domain.status == "fail" and "domain" in no_domain.message
    no_source = review("## Tasks\nThese are math word problems of varying difficulty.\n")["GR303"]
    assert no_source.status == "fail" and "source" in no_source.message


def test_licence_must_cover_both_data_and_code() -> None:
    assert review("## Licensing\nApache 2.0\n")["GR304"].status == "fail"
    assert review("## Licence\nData: CC BY 4.0. Code: Apache 2.0.\n")["GR304"].status == "pass"


def test_synthetic_data_without_the_model_warns() -> None:
    found = review("## Prompts / tasks\nSynthetic prompts made with an LLM; domain: math.\n")
    assert found["GR305"].status == "fail"
    assert found["GR305"].severity == "warning"


def test_synthetic_data_naming_the_model_passes() -> None:
    body = "## Prompts / tasks\nSynthetic prompts, generated with Qwen3-235B-A22B from seed problems; domain: math.\n"
    assert review(body)["GR305"].status == "pass"


def test_saying_there_is_no_synthetic_data_is_not_a_mention() -> None:
    assert review("## Licensing\nNo synthetic data was used. Code: MIT, data: MIT.\n")["GR305"].status == "skip"


EVAL_CONTRACT = """## What this environment evaluates
Whether a model can follow multi-step spreadsheet instructions.

## How a run is judged
Cell-by-cell comparison with the expected sheet; reward is the fraction of matching cells.

## Data provenance
Hand-written by our annotators, domain: agent/office work.

## Licenses
Data: CC0. Code: Apache 2.0.

## Reproduction command
`ng_collect_rollouts +agent_name=sheets ...`
"""


def test_a_registrys_own_template_is_mapped_through_the_settings() -> None:
    assert statuses(EVAL_CONTRACT)["GR302"] == "fail"  # the guide's words do not name "How a run is judged"
    settings = validate(
        PrBodySettings,
        {
            "parts": {
                "GR301": {"title": "Describes what is evaluated", "synonyms": ["what this environment evaluates"]},
                "GR302": {"title": "States the scoring contract", "synonyms": ["how a run is judged"]},
                "GR303": {
                    "title": "States data provenance",
                    "synonyms": ["data provenance"],
                    "must_mention": [["written", "dataset", "source"], ["domain"]],
                },
                "EC01": {
                    "title": "Gives the reproduction command",
                    "severity": "warning",
                    "synonyms": ["reproduction command"],
                    "min_words": 1,
                },
            },
            "evidence_severity": {"GR411": "warning"},
        },
    )
    found = review(EVAL_CONTRACT, settings)
    assert {k: f.status for k, f in found.items()} == {
        "EC01": "pass",
        "GR301": "pass",
        "GR302": "pass",
        "GR303": "pass",
        "GR304": "pass",
        "GR305": "skip",
    }
    assert found["EC01"].severity == "warning"
    assert found["GR302"].title == "States the scoring contract"
    assert review(EVAL_CONTRACT.replace("`ng_collect_rollouts +agent_name=sheets ...`", "TODO"), settings)[
        "EC01"
    ].status == ("fail")


def test_a_registry_can_turn_a_part_off() -> None:
    settings = PrBodySettings(disabled=["GR303"])
    found = review("## Environment\nA maze environment where the agent must reach the exit.\n", settings)
    assert found["GR303"].status == "skip"
    assert found["GR303"].skip_kind == "disabled_by_policy"


def test_a_registry_can_change_only_the_synonyms_of_a_default_part() -> None:
    settings = validate(PrBodySettings, {"parts": {"GR302": {"synonyms": ["how a run is judged"]}}})
    assert settings.parts["GR302"].title == "The PR describes the verification logic"
    assert settings.parts["GR302"].severity == "error"
    assert review(EVAL_CONTRACT, settings)["GR302"].status == "pass"


def test_settings_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError):
        validate(PrBodySettings, {"partz": {}})


def test_without_a_body_every_check_is_skipped_as_not_requested() -> None:
    findings = review(None).values()
    assert {f.status for f in findings} == {"skip"}
    assert {f.skip_kind for f in findings} == {"not_requested"}


def test_fingerprints_do_not_depend_on_quoted_wording() -> None:
    a = review("## Environment\nTODO\n")["GR301"]
    b = review("## 🌍 Environment description\nTBD\n")["GR301"]
    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize(
    "hostile",
    [
        "> " * 5000 + "deep",
        "- " * 5000 + "deep",
        "*" * 100_000,
        "[" * 50_000 + "](" * 50_000,
        "**Environment:" + "a" * 200_000,
        "<!-- " * 20_000,
        "`" * 100_000,
    ],
)
def test_hostile_bodies_are_parsed_quickly_and_never_pass(hostile: str) -> None:
    start = time.perf_counter()
    found = review(hostile)
    assert time.perf_counter() - start < 5
    assert found["GR302"].status == "fail"


def test_html_comments_and_code_never_fill_a_part() -> None:
    body = "## Verification logic\n<!-- the reward is 1 when the answer is right -->\n"
    assert review(body)["GR302"].status == "fail"


# -- through the CLI ---------------------------------------------------------------------------


def _cli(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", "--repo", str(repo), "--base", "main", "--no-docker", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


@pytest.fixture
def pr_repo(repo):
    from tests.conftest import good_server_files

    repo.git("checkout", "-q", "-b", "pr")
    repo.server("maze_env", good_server_files("maze_env"))
    repo.commit("add maze_env")
    return repo


def test_cli_reads_the_body_from_a_file_and_reports_it_under_pr(pr_repo, tmp_path: Path) -> None:
    import json

    body = tmp_path / "body.md"
    body.write_text(fill(TEMPLATE.read_text(), FILLED))
    out = tmp_path / "r.json"
    _cli(pr_repo.path, "--pr-body", str(body), "--json", str(out))
    report = json.loads(out.read_text())
    assert {f["id"]: f["status"] for f in report["pr"]["findings"]}["GR301"] == "pass"
    assert all(f["fingerprint"] for f in report["pr"]["findings"])


def test_cli_reads_the_body_from_standard_input(pr_repo, tmp_path: Path) -> None:
    import json

    out = tmp_path / "r.json"
    result = _cli(pr_repo.path, "--pr-body", "-", "--json", str(out), stdin="## Environment\nTODO\n")
    report = json.loads(out.read_text())
    assert {f["id"]: f["status"] for f in report["pr"]["findings"]}["GR301"] == "fail"
    assert report["verdict"] == "fail" and result.returncode == 1


def test_cli_without_a_body_skips_the_checks_as_not_requested(pr_repo, tmp_path: Path) -> None:
    import json

    out = tmp_path / "r.json"
    _cli(pr_repo.path, "--json", str(out))
    report = json.loads(out.read_text())
    # GR120 (the commits) lives beside them since it became a PR-scope check; off by default
    description = [f for f in report["pr"]["findings"] if f["id"] not in ("GR120", "GR501")]  # commits, reach
    assert {f["skip_kind"] for f in description} == {"not_requested"}
    assert report["complete"] is False


def test_cli_refuses_a_missing_body_file_naming_the_flag(pr_repo, tmp_path: Path) -> None:
    result = _cli(pr_repo.path, "--pr-body", str(tmp_path / "nope.md"))
    assert result.returncode == 2
    assert "--pr-body" in result.stderr
