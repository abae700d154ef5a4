"""Issue 6, data / README / requirements side: inputs that crashed a check or fooled it now fail, naming the place.

Reproductions from the issue, each a regression test:
- one example row and one rollout whose `content` is nested 700 lists deep (GR106/GR107 crashed, verdict PASS);
- a rollout whose reward is a 400-digit integer (GR107 crashed with OverflowError);
- no requirements.txt and a pyproject.toml with `project = "x"` (GR108 crashed with AttributeError);
- GR207 missed pip's attached forms `-iURL` / `-fURL` (the line reached pip);
- `-e nemo-gym[dev'; echo INJECTED ...; echo '] @ ../../` passed GR108;
- GR109 passed `Code: TBD, pending legal`, `N/A`, `unknown`, `to be determined`, `-`, `Data: TBD.`;
- GR112 flagged the real models `o1` and `o3` by a length rule;
- pre-existing failures matched by check id only, so a new licence problem hid behind an old one;
- GR110 hashed every prefix of a rollout's input (quadratic); the README placeholder regex backtracked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GitRepo, good_server_files

SERVER = "resources_servers/srv"


def rows(path: str = "data/example_rollouts.jsonl") -> list[dict]:
    return [json.loads(line) for line in good_server_files("srv")[path].splitlines() if line.strip()]


def jsonl(items: list) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def nested(depth: int) -> str:
    return "[" * depth + '"x"' + "]" * depth


# -- crashes become failures with file and line --------------------------------------------------


def test_content_nested_700_deep_fails_gr106_and_gr107_naming_the_line(server_tree) -> None:
    examples = [json.dumps(r) for r in rows("data/example.jsonl")]
    examples[1] = json.dumps(rows("data/example.jsonl")[1]).replace('"content": "', f'"content": {nested(700)}, "x": "')
    rollouts = [json.dumps(r) for r in rows()]
    rollouts[2] = rollouts[2].replace('"content": "', f'"content": {nested(700)}, "x": "', 1)
    findings = server_tree({"data/example.jsonl": jsonl(examples), "data/example_rollouts.jsonl": jsonl(rollouts)})
    for check, line in (("GR106", 2), ("GR107", 3)):
        finding = findings[check]
        assert finding.status == "fail", finding.message
        assert finding.line == line and finding.file.endswith(".jsonl")
        assert "nested more than" in finding.message


def test_nesting_under_the_cap_is_fine(server_tree) -> None:
    examples = rows("data/example.jsonl")
    examples[0]["responses_create_params"]["metadata"] = json.loads(nested(50))
    assert server_tree({"data/example.jsonl": jsonl(examples)})["GR106"].status == "pass"


@pytest.mark.parametrize("digits", [400, 5000])
def test_reward_that_does_not_fit_a_float_fails_naming_the_line(server_tree, digits: int) -> None:
    rollouts = [json.dumps(r) for r in rows()]
    reward = json.dumps(rows()[3]["reward"])
    rollouts[3] = rollouts[3].replace(f'"reward": {reward}', '"reward": ' + "9" * digits)
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR107"]
    assert finding.status == "fail" and finding.line == 4
    assert "does not fit a float" in finding.message
    assert len(finding.message) < 600  # the number is not pasted whole


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("input", {"role": "user"}, "JSON object, not a string or a list"),
        ("input", 7, "number, not a string or a list"),
        ("reward", "1.0", "not a number"),
        ("reward", True, "not a number"),
        ("response", None, "no `response`"),
    ],
)
def test_wrong_json_types_in_a_rollout_fail_naming_the_line(server_tree, field, value, expected) -> None:
    rollouts = rows()
    if field == "input":
        rollouts[1]["responses_create_params"]["input"] = value
    elif value is None:
        del rollouts[1][field]
    else:
        rollouts[1][field] = value
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR107"]
    assert finding.status == "fail" and finding.line == 2 and expected in finding.message


@pytest.mark.parametrize("row", ["[1, 2]", '"text"', "42", "null", '{"responses_create_params": {"input": 3}}'])
def test_non_object_or_mistyped_example_rows_fail_gr106(server_tree, row: str) -> None:
    examples = [json.dumps(r) for r in rows("data/example.jsonl")]
    examples.insert(2, row)
    finding = server_tree({"data/example.jsonl": jsonl(examples)})["GR106"]
    assert finding.status == "fail" and finding.line == 3


# -- GR110 is linear ------------------------------------------------------------------------------


def test_gr110_long_rollout_of_one_character_messages_is_fast(server_tree) -> None:
    rollouts = rows()
    messages = [{"role": "user", "content": "a"} for _ in range(20_000)]
    rollouts[0]["responses_create_params"]["input"] = messages
    start = time.monotonic()
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR110"]
    assert time.monotonic() - start < 10  # quadratic hashing took minutes for a fifth of this
    assert finding.status == "fail" and finding.line == 1


def test_gr110_example_as_prefix_still_passes(server_tree) -> None:
    rollouts = rows()
    for r in rollouts:
        r["responses_create_params"]["input"].extend([{"role": "assistant", "content": "x"}] * 3)
    assert server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR110"].status == "pass"


# -- GR112 by name, not by length -----------------------------------------------------------------


@pytest.mark.parametrize("model", ["o1", "o3", "o4-mini", "gpt-4o", "Qwen/Qwen3-8B", "nvidia/llama-3.3-nemotron"])
def test_gr112_real_models_pass(server_tree, model: str) -> None:
    rollouts = rows()
    for r in rollouts:
        r["response"]["model"] = model
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "pass", finding.message


@pytest.mark.parametrize(
    "model",
    ["stub", "dummy", "test", "example-model", "synthetic-v2", "default", "policy_model", "model", "gpt-x", " ", 3],
)
def test_gr112_placeholder_names_fail(server_tree, model) -> None:
    rollouts = rows()
    rollouts[2]["response"]["model"] = model
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "fail" and finding.line == 3


# -- GR108 / GR207 / the sandbox: one reader of pip's forms ----------------------------------------


def test_pyproject_with_project_a_string_fails_gr108_naming_the_key(server_tree) -> None:
    finding = server_tree({"requirements.txt": None, "pyproject.toml": 'project = "x"\n'})["GR108"]
    assert finding.status == "fail", finding.message
    assert "malformed" in finding.message and "`project`" in finding.message


@pytest.mark.parametrize(
    ("pyproject", "key"),
    [
        ("[project]\ndependencies = 'numpy'\n", "`project.dependencies`"),
        ("[project]\ndependencies = [1]\n", "`project.dependencies[0]`"),
        ("tool = 3\n[project]\ndependencies = ['numpy']\n", "`tool`"),
        ("[project]\ndependencies = ['numpy']\n[tool]\nuv = []\n", "`tool.uv`"),
    ],
)
def test_malformed_pyproject_keys_fail_gr108(server_tree, pyproject: str, key: str) -> None:
    finding = server_tree({"requirements.txt": None, "pyproject.toml": pyproject})["GR108"]
    assert finding.status == "fail" and key in finding.message


def test_pyproject_invalid_toml_and_bad_dependency_fail_gr108(server_tree) -> None:
    finding = server_tree({"requirements.txt": None, "pyproject.toml": "[project\n"})["GR108"]
    assert finding.status == "fail" and "not valid TOML" in finding.message and finding.line == 1
    pyproject = "[project]\nname = 'srv'\ndependencies = [\n  'numpy',\n  'nemo-gym[dev; rm]',\n]\n"
    finding = server_tree({"requirements.txt": None, "pyproject.toml": pyproject})["GR108"]
    assert finding.status == "fail" and finding.line == 5


INJECTION = "-e nemo-gym[dev'; echo INJECTED uid=$(id -u); ...; echo '] @ ../../"


@pytest.mark.parametrize(
    "line",
    [
        INJECTION,
        "-e ./pkg[dev;id]",
        "./pkg[dev,$(id)]",
        "nemo-gym[dev`id`]==1.0",
        "-e nemo-gym",
        "--index-url",
        "--no-such-option x",
        "-e . --pre",
        "numpy==1 stray words",
        "numpy==1 --hash",
        "-i 'unbalanced",
    ],
)
def test_gr108_fails_lines_pip_or_pep_508_refuse_naming_the_line(server_tree, line: str) -> None:
    finding = server_tree({"requirements.txt": f"numpy==1.26\n{line}\n"})["GR108"]
    assert finding.status == "fail" and finding.line == 2, finding.message


@pytest.mark.parametrize(
    "text",
    [
        "-e nemo-gym[dev] @ ../../\n",
        "-e ../..[dev,test]\n",
        "--editable=.\n",
        "-iURL\n-fhttps://x.org/wheels\n--trusted-host=x.org\n--no-index\n--pre\n--prefer-binary\n",
        "numpy==1.26 \\\n  --hash=sha256:abc \\\n  --hash sha256:def\n",
        "# comment\n  # indented comment\nnumpy  # trailing\n",
        "--only-binary :all:\n--index https://abbreviated.example/simple\n",
    ],
)
def test_gr108_accepts_pip_forms(server_tree, text: str) -> None:
    finding = server_tree({"requirements.txt": text})["GR108"]
    assert finding.status == "pass", finding.message


@pytest.mark.parametrize(
    ("line", "option"),
    [
        ("-iURL", "--index-url"),
        ("-ihttps://mirror.example/simple", "--index-url"),
        ("-i https://mirror.example/simple", "--index-url"),
        ("--index-url=https://mirror.example/simple", "--index-url"),
        ("--index-url https://mirror.example/simple", "--index-url"),
        ("--index=https://mirror.example/simple", "--index-url"),
        ("--extra-index-url=https://x.example/simple", "--extra-index-url"),
        ("--extra-index-url https://x.example/simple", "--extra-index-url"),
        ("-fhttps://x.example/wheels", "--find-links"),
        ("-f /wheels", "--find-links"),
        ("--find-links=/wheels", "--find-links"),
        ("--trusted-host=x.example", "--trusted-host"),
        ("--trusted-host x.example", "--trusted-host"),
        ("--no-index", "--no-index"),
        ("--pre -ihttps://x.example/simple", "--index-url"),
        ("-i \\\n https://continued.example/simple", "--index-url"),
    ],
)
def test_gr207_sees_every_index_form_and_it_never_reaches_pip(tmp_path: Path, line: str, option: str) -> None:
    from gym_review_bot.sandbox.requirements import read_requirements
    from gym_review_bot.sources import FsTree

    server = tmp_path / SERVER
    server.mkdir(parents=True)
    (server / "requirements.txt").write_text(f"numpy==1.26\n{line}\n")
    reqs = read_requirements(FsTree(tmp_path), SERVER)
    assert [(u.line, u.reason) for u in reqs.url_dependencies] == [(2, f"changes the package index ({option})")]
    assert reqs.lines[0] == "numpy==1.26" and reqs.lines[1:] in ([], ["--pre"]) and reqs.invalid == []


def test_sandbox_plan_never_holds_an_invalid_extra(tmp_path: Path) -> None:
    from gym_review_bot.sandbox.requirements import LocalDependency, read_requirements, valid_extras
    from gym_review_bot.sources import FsTree

    server = tmp_path / SERVER
    server.mkdir(parents=True)
    (server / "requirements.txt").write_text(f"{INJECTION}\n-e ../..[dev]\nnumpy==1\n")
    reqs = read_requirements(FsTree(tmp_path), SERVER)
    assert [(i.line, i.text) for i in reqs.invalid] == [(1, INJECTION)]
    assert [(d.path, d.extras) for d in reqs.local] == [("", "[dev]")]
    assert reqs.lines == ["numpy==1"]
    assert all("INJECTED" not in line for line in reqs.lines)
    assert valid_extras("[dev,test]") and not valid_extras("[dev'; id; echo ']")
    with pytest.raises(ValueError):
        LocalDependency("", "[dev'; echo x; echo ']")


def test_sandbox_reads_a_malformed_pyproject_without_crashing(tmp_path: Path) -> None:
    from gym_review_bot.sandbox.requirements import read_requirements
    from gym_review_bot.sources import FsTree

    server = tmp_path / SERVER
    server.mkdir(parents=True)
    (server / "pyproject.toml").write_text('project = "x"\n[tool]\nuv = 1\n')
    reqs = read_requirements(FsTree(tmp_path), SERVER)
    assert reqs.lines == [] and reqs.invalid and "malformed" in reqs.invalid[0].reason


# -- GR109: linear, and a new licence problem never hides behind an old one -----------------------


def test_readme_licensing_heading_followed_by_blank_lines_is_fast(server_tree) -> None:
    readme = "# Srv\n\n## Licensing information\n" + " \n" * 200_000 + "Code: ?\n"
    start = time.monotonic()
    findings = server_tree({"README.md": readme})
    assert time.monotonic() - start < 10  # the backtracking regex took 163 s on a fifth of this
    assert findings["GR109"].status == "fail" and findings["GR109"].line == 200_004


def test_gr109_failure_names_the_line_and_keys_on_its_content(server_tree) -> None:
    readme = "# Srv\n\n## Licensing information\nCode: Apache 2.0\nData: TBD.\n"
    first = server_tree({"README.md": readme})["GR109"]
    moved = server_tree({"README.md": "# Srv\n\nMore words.\n\n" + readme[7:]})["GR109"]
    other = server_tree({"README.md": readme.replace("Data: TBD.", "Data: N/A")})["GR109"]
    assert first.status == moved.status == other.status == "fail"
    assert first.line == 5 and "Data: TBD." in first.message and moved.line == 7
    assert first.fingerprint == moved.fingerprint != other.fingerprint


def run_check(repo: GitRepo, tmp_path: Path) -> dict:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", "--repo", str(repo.path), "--base", "main"]
        + ["--no-docker", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(out.read_text())
    report["exit"] = proc.returncode
    return report


def test_new_licence_problem_in_a_changed_server_does_not_hide_behind_an_old_one(repo: GitRepo, tmp_path) -> None:
    files = good_server_files("legacy")
    files["README.md"] = "# Legacy\n\n## Licensing information\nCode: Apache 2.0\nData: TBD\n"
    repo.server("legacy", files)
    repo.commit("legacy server with an old licence debt")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server(
        "legacy", {"README.md": "# Legacy\n\nTypo fixed.\n\n## Licensing information\nCode: Apache 2.0\nData: TBD\n"}
    )
    repo.commit("typo: the old debt, moved two lines down")
    report = run_check(repo, tmp_path)
    gr109 = {f["id"]: f for f in report["servers"][0]["findings"]}["GR109"]
    assert gr109["status"] == "fail" and gr109["pre_existing"] is True and report["exit"] == 0
    repo.server("legacy", {"README.md": "# Legacy\n\n## Licensing information\nCode: unknown\nData: TBD\n"})
    repo.commit("a new licence problem")
    report = run_check(repo, tmp_path)
    gr109 = {f["id"]: f for f in report["servers"][0]["findings"]}["GR109"]
    assert gr109["status"] == "fail" and gr109["pre_existing"] is False and report["exit"] == 1
    assert "Code: unknown" in gr109["message"]


def test_requirements_and_pyproject_past_the_line_cap_fail_gr108(server_tree) -> None:
    from gym_review_bot.reqfile import MAX_LINES

    lines = "".join(f"pkg{i}==1.0\n" for i in range(MAX_LINES + 1))
    finding = server_tree({"requirements.txt": lines})["GR108"]
    assert finding.status == "fail" and finding.line == MAX_LINES + 1 and "nothing more is read" in finding.message
    deps = ", ".join(f'"pkg{i}"' for i in range(MAX_LINES + 1))
    pyproject = f"[project]\nname = 'srv'\ndependencies = [{deps}]\n"
    finding = server_tree({"requirements.txt": None, "pyproject.toml": pyproject})["GR108"]
    assert finding.status == "fail" and "more than" in finding.message
    under = "".join(f"pkg{i}==1.0\n" for i in range(MAX_LINES))
    assert server_tree({"requirements.txt": under})["GR108"].status == "pass"


@pytest.mark.parametrize(
    "pyproject", ["a = " + "[" * 5000 + "]" * 5000 + "\n", "[project]\ndependencies = " + "[" * 3000 + "]" * 3000]
)
def test_pyproject_nested_past_the_parser_fails_gr108(server_tree, pyproject: str) -> None:
    finding = server_tree({"requirements.txt": None, "pyproject.toml": pyproject})["GR108"]
    assert finding.status == "fail" and "nest too deeply" in finding.message


def test_requirement_packaging_rejects_with_another_exception_fails_gr108(server_tree) -> None:
    # packaging raises InvalidSpecifier (not InvalidRequirement) for this one
    finding = server_tree({"requirements.txt": "Z===IXGK7c?O|@QheA5\\'P,Jx]\n"})["GR108"]
    assert finding.status == "fail" and finding.line == 1


def test_data_fingerprints_follow_the_problem_not_the_line(server_tree) -> None:
    def gr112(model_at: dict[int, str], pad: int = 0) -> str:
        rollouts = rows()
        for index, model in model_at.items():
            rollouts[index]["response"]["model"] = model
        return server_tree({"data/example_rollouts.jsonl": "\n" * pad + jsonl(rollouts)})["GR112"].fingerprint

    assert gr112({1: "stub"}) == gr112({1: "stub"}, pad=3)  # moved down: the same finding
    assert gr112({1: "stub"}) != gr112({1: "stub", 2: "dummy"})  # a new placeholder: a new finding


def test_licensing_section_past_the_cap_fails_gr109_and_gr114_stays_linear(server_tree) -> None:
    from gym_review_bot.checks.readme import MAX_SECTION_LINES

    long = "## Licensing information\n" + "Code: Apache 2.0\n" * (MAX_SECTION_LINES + 1)
    finding = server_tree({"README.md": long})["GR109"]
    assert finding.status == "fail" and finding.line == 1 and "at most" in finding.message
    spaced = "## Licensing information\nCode: Apache 2.0\n" + " \n" * 200_000 + "Data: MIT\n"
    start = time.monotonic()
    findings = server_tree({"README.md": spaced})
    assert findings["GR109"].status == "pass" and findings["GR114"].status == "pass"
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    ("readme", "gr109", "line"),
    [
        ("Title\n=====\n\nLicensing\n---------\nCode: Apache 2.0\nData: TBD\n", "fail", 7),  # setext headings
        ("<!--\n## License\nCode: TBD\n-->\n# Srv\n\n## License\nCode: MIT\nData: MIT\n", "pass", None),
        ("# Srv\n~~~\n## License\nTBD\n~~~\n\n## Licensing\nCode: MIT\nData: MIT\n", "pass", None),
        ("# Srv\r\n\r\n## License\r\nCode: MIT\r\nData: N/A\r\n", "fail", 5),
    ],
)
def test_readme_block_scanner(server_tree, readme: str, gr109: str, line: int | None) -> None:
    finding = server_tree({"README.md": readme})["GR109"]
    assert finding.status == gr109, finding.message
    assert line is None or finding.line == line


@pytest.mark.parametrize("unit", ["x\n", "# H\n", "- a\n", "> q\n", "licen: x\n", "a\n===\n"])
def test_big_readmes_are_read_in_linear_time(unit: str) -> None:
    from gym_review_bot.checks.readme import find_licensing

    start = time.monotonic()
    find_licensing(unit * (1_000_000 // len(unit)))
    assert time.monotonic() - start < 5  # markdown-it and a pattern call a line took 10 s on the first
