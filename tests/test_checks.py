"""Every static check, made to fail and made to pass on realistic server trees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import good_server_files

STATIC_IDS = [f"GR{n}" for n in range(100, 115)]


def rows(path: str = "data/example_rollouts.jsonl") -> list[dict]:
    return [json.loads(line) for line in good_server_files("srv")[path].splitlines() if line.strip()]


def jsonl(items: list) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def test_good_server_passes_every_static_check(server_tree) -> None:
    findings = server_tree()
    # GR111 judges a reward profile; the good server holds only its 5 example rollouts
    expected = {i: "skip" if i == "GR111" else "pass" for i in STATIC_IDS}
    assert {i: findings[i].status for i in STATIC_IDS} == expected
    assert findings["GR111"].skip_kind == "not_applicable"
    assert all(findings[i].message for i in STATIC_IDS)


# -- GR100 -------------------------------------------------------------------------------------


def test_gr100_symlink_out_of_the_server_fails_and_is_not_followed(server_tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Code: Apache 2.0\n")
    findings = server_tree()
    readme = tmp_path / "checkout/resources_servers/srv/README.md"
    readme.unlink()
    os.symlink(secret, readme)
    from tests.conftest import check_local

    findings = check_local(tmp_path / "checkout", "srv")
    assert findings["GR100"].status == "fail"
    assert "README.md is a symlink" in findings["GR100"].message
    assert findings["GR109"].status == "skip" and "GR100" in findings["GR109"].message


def test_gr100_symlink_inside_the_server_is_followed(server_tree, tmp_path: Path) -> None:
    server_tree()
    root = tmp_path / "checkout/resources_servers/srv"
    (root / "docs").mkdir()
    (root / "README.md").rename(root / "docs/README.md")
    os.symlink("docs/README.md", root / "README.md")
    from tests.conftest import check_local

    findings = check_local(tmp_path / "checkout", "srv")
    assert findings["GR100"].status == "pass"
    assert findings["GR109"].status == "pass"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
        ("Licen\xe7a: MIT\n".encode("latin-1"), "not valid UTF-8"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", "Git LFS pointer"),
    ],
)
def test_gr100_unreadable_content_fails(server_tree, content: bytes, expected: str) -> None:
    findings = server_tree({"README.md": content})
    assert findings["GR100"].status == "fail"
    assert expected in findings["GR100"].message
    assert findings["GR100"].file == "resources_servers/srv/README.md"


def test_gr100_file_over_the_cap_fails(server_tree) -> None:
    findings = server_tree({"data/example.jsonl": "x" * (2 * 1024 * 1024)}, max_file_mb=1)
    assert findings["GR100"].status == "fail"
    assert "over the 1 MB cap" in findings["GR100"].message
    assert findings["GR106"].status == "skip"


# -- GR101 / GR102 ------------------------------------------------------------------------------


def test_gr101_missing_app_fails(server_tree) -> None:
    findings = server_tree({"app.py": None})
    assert findings["GR101"].status == "fail" and "missing" in findings["GR101"].message
    assert findings["GR102"].status == "skip" and "GR101" in findings["GR102"].message


def test_gr101_syntax_error_names_the_line(server_tree) -> None:
    findings = server_tree({"app.py": "import os\n\ndef broken(:\n    pass\n"})
    assert findings["GR101"].status == "fail"
    assert findings["GR101"].line == 3


APP_HEADER = "from nemo_gym.base_resources_server import SimpleResourcesServer, BaseVerifyResponse\n"


def test_gr102_no_verify_fails(server_tree) -> None:
    app = (
        APP_HEADER + "class S(SimpleResourcesServer):\n    pass\n\nif __name__ == '__main__':\n    S.run_webserver()\n"
    )
    findings = server_tree({"app.py": app})
    assert findings["GR102"].status == "fail"
    assert findings["GR102"].severity == "error"
    assert "S has no concrete verify" in findings["GR102"].message


def test_gr102_abstract_verify_does_not_count(server_tree) -> None:
    app = (
        "from abc import abstractmethod\n" + APP_HEADER + "class S(SimpleResourcesServer):\n"
        "    @abstractmethod\n    async def verify(self, body):\n        ...\n"
    )
    assert server_tree({"app.py": app})["GR102"].status == "fail"


def test_gr102_verify_inherited_through_a_package_reexport_passes(server_tree, tmp_path: Path) -> None:
    """Like NeMo Gym's gymnasium servers: the base lives in another directory, re-exported by __init__."""
    root = tmp_path / "checkout"
    lib = root / "resources_servers" / "shared_lib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("from .base import JudgeBase\n")
    (lib / "base.py").write_text(
        APP_HEADER + "class JudgeBase(SimpleResourcesServer):\n    async def verify(self, body):\n        return 1\n"
    )
    app = "from resources_servers.shared_lib import JudgeBase\n\nclass S(JudgeBase):\n    pass\n"
    findings = server_tree({"app.py": app})
    assert findings["GR102"].status == "pass"
    assert "inherits from JudgeBase" in findings["GR102"].message


def test_gr102_stops_at_the_server_base_and_reads_no_further_nemo_gym_module(tmp_path: Path) -> None:
    """A class found to be a SimpleResourcesServer is not followed into NeMo Gym's own bases: nothing there
    changes the answer, and in NeMo Gym's main they are its largest modules (server_utils, reward_profile)."""
    from gym_review_bot.checks.checkout import Checkout
    from gym_review_bot.checks.pyclasses import SERVER_BASE_NAMES, ClassRef, ClassResolver
    from gym_review_bot.sources import FsTree

    nemo = tmp_path / "nemo_gym"
    nemo.mkdir()
    (nemo / "base_resources_server.py").write_text(
        "from nemo_gym.reward_profile import Mixin\n\nclass SimpleResourcesServer(Mixin):\n    pass\n"
    )
    (nemo / "reward_profile.py").write_text("class Mixin:\n    pass\n")
    app = APP_HEADER + "class S(SimpleResourcesServer):\n    async def verify(self, body):\n        return 1\n"
    (tmp_path / "app.py").write_text(app)
    checkout = Checkout(FsTree(tmp_path))
    resolver = ClassResolver(checkout)
    module = checkout.parse("app.py")
    assert module is not None
    server = ClassRef("app.py", next(n for n in module.body if getattr(n, "name", "") == "S"))
    assert resolver.lineage(server).names == SERVER_BASE_NAMES and resolver.find(server, "verify").hit
    assert checkout.parse("nemo_gym/base_resources_server.py") is not None  # read: it defines the base
    assert "nemo_gym/reward_profile.py" not in checkout._modules  # never read


def test_gr102_gymnasium_style_server_with_step_and_reset(server_tree) -> None:
    app = (
        "import gymnasium_lib as g\n\nclass Env(g.Thing):\n    async def step(self, a):\n        pass\n"
        "    async def reset(self):\n        pass\n    async def verify(self, body):\n        pass\n"
    )
    assert server_tree({"app.py": app})["GR102"].status == "pass"


def test_gr102_unresolvable_base_is_an_error_not_a_pass(server_tree) -> None:
    app = "from some_vendor.servers import VendorServer\n\nclass S(VendorServer):\n    pass\n\nS.run_webserver()\n"
    finding = server_tree({"app.py": app})["GR102"]
    assert finding.status == "error"
    assert "VendorServer (from some_vendor.servers)" in finding.message
    assert "cannot tell" in finding.message and "sandbox" in finding.message


# -- GR103 / GR104 / GR113 ------------------------------------------------------------------------


def test_gr103_no_configs_fails(server_tree) -> None:
    findings = server_tree({"configs/srv.yaml": None})
    assert findings["GR103"].status == "fail" and "No resources_servers/srv/configs/*.yaml" in findings["GR103"].message


def test_gr103_broken_yaml_names_file_and_line(server_tree) -> None:
    findings = server_tree({"configs/srv.yaml": "srv:\n  resources_servers:\n    srv: [unclosed\n"})
    assert findings["GR103"].status == "fail"
    assert findings["GR103"].file == "resources_servers/srv/configs/srv.yaml"
    assert findings["GR103"].line is not None


def test_gr103_entry_must_match_directory_name(server_tree) -> None:
    config = "x:\n  resources_servers:\n    other_name:\n      entrypoint: app.py\n      domain: math\n"
    finding = server_tree({"configs/srv.yaml": config})["GR103"]
    assert finding.status == "fail"
    assert "other_name instead" in finding.message


def test_gr104_unknown_domain_suggests_closest(server_tree) -> None:
    config = good_server_files("srv")["configs/srv.yaml"].replace("domain: knowledge", "domain: maths")
    finding = server_tree({"configs/srv.yaml": config})["GR104"]
    assert finding.status == "fail"
    assert "Did you mean `math`?" in finding.message
    assert finding.line == 5


def test_gr104_missing_domain_fails_and_lists_allowed_values(server_tree) -> None:
    config = good_server_files("srv")["configs/srv.yaml"].replace("      domain: knowledge\n", "")
    finding = server_tree({"configs/srv.yaml": config})["GR104"]
    assert finding.status == "fail"
    assert "has no `domain`" in finding.message
    assert "instruction_following" in finding.message


def test_gr104_values_come_from_the_checkout_enum(server_tree) -> None:
    enum = "from enum import Enum\nclass Domain(str, Enum):\n    ASTRONOMY = 'astronomy'\n"
    config = good_server_files("srv")["configs/srv.yaml"].replace("domain: knowledge", "domain: astronomy")
    findings = server_tree({"configs/srv.yaml": config}, checkout_files={"nemo_gym/config_types.py": enum})
    assert findings["GR104"].status == "pass"


def test_gr113_placeholder_licence_fails(server_tree) -> None:
    config = good_server_files("srv")["configs/srv.yaml"].replace("license: Apache 2.0", "license: TBD")
    finding = server_tree({"configs/srv.yaml": config})["GR113"]
    assert finding.status == "fail" and "placeholder license `TBD`" in finding.message


def test_gr113_missing_licence_fails(server_tree) -> None:
    config = good_server_files("srv")["configs/srv.yaml"].replace("        license: Apache 2.0\n", "")
    assert server_tree({"configs/srv.yaml": config})["GR113"].status == "fail"


def test_gr113_licence_outside_the_checkout_list_fails(server_tree) -> None:
    types = (
        "from typing import Literal, Optional, Union\nclass DatasetConfig:\n"
        "    license: Optional[Union[Literal['MIT'], Literal['TBD']]] = None\n"
    )
    finding = server_tree(checkout_files={"nemo_gym/config_types.py": types})["GR113"]
    assert finding.status == "fail" and "not one NeMo Gym accepts" in finding.message


def test_gr113_not_applicable_without_train_datasets(server_tree) -> None:
    config = "srv:\n  resources_servers:\n    srv:\n      entrypoint: app.py\n      domain: math\n"
    finding = server_tree({"configs/srv.yaml": config})["GR113"]
    assert finding.status == "skip" and "Not applicable" in finding.message


# -- GR105 --------------------------------------------------------------------------------------


def test_gr105_missing_tests_fails(server_tree) -> None:
    assert server_tree({"tests/test_app.py": None})["GR105"].status == "fail"


def test_gr105_file_without_tests_fails(server_tree) -> None:
    text = "def helper():\n    pass\n\nclass Helper:\n    def test_not_collected(self):\n        pass\n"
    assert server_tree({"tests/test_app.py": text})["GR105"].status == "fail"


def test_gr105_test_method_in_test_class_passes(server_tree) -> None:
    text = "class TestServer:\n    async def test_verify(self):\n        assert True\n"
    finding = server_tree({"tests/test_app.py": text})["GR105"]
    assert finding.status == "pass" and "TestServer.test_verify" in finding.message


# -- GR106 / GR107 / GR110 / GR111 / GR112 ------------------------------------------------------------


def test_gr106_too_few_rows(server_tree) -> None:
    examples = rows("data/example.jsonl")[:3]
    finding = server_tree({"data/example.jsonl": jsonl(examples)})["GR106"]
    assert finding.status == "fail" and "3 row(s)" in finding.message


def test_gr106_names_first_bad_line(server_tree) -> None:
    examples = rows("data/example.jsonl")
    examples[2] = {"prompt": "no responses_create_params"}
    finding = server_tree({"data/example.jsonl": jsonl(examples)})["GR106"]
    assert finding.status == "fail" and finding.line == 3
    assert "responses_create_params.input" in finding.message


def test_gr107_placeholder_line_fails_with_line_number(server_tree) -> None:
    rollouts = rows()
    rollouts.insert(1, "... more rollouts here ...")
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR107"]
    assert finding.status == "fail" and finding.line == 2


def test_gr107_input_rows_copied_as_rollouts_fail(server_tree) -> None:
    findings = server_tree({"data/example_rollouts.jsonl": jsonl(rows("data/example.jsonl"))})
    assert findings["GR107"].status == "fail"
    assert "no `response`" in findings["GR107"].message
    for waiting in ("GR110", "GR112"):
        assert findings[waiting].status == "skip" and "GR107" in findings[waiting].message


@pytest.mark.parametrize("reward", ["NaN", "Infinity", "true", '"1.0"', "null"])
def test_gr107_reward_must_be_a_finite_number(server_tree, reward: str) -> None:
    rollouts = [json.dumps(r) for r in rows()]
    rollouts[3] = (
        rollouts[3].replace('"reward": 1.0', f'"reward": {reward}').replace('"reward": 0.0', f'"reward": {reward}')
    )
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR107"]
    assert finding.status == "fail" and finding.line == 4


def test_gr110_rollout_from_another_prompt_warns(server_tree) -> None:
    rollouts = rows()
    rollouts[4]["responses_create_params"]["input"][1]["content"] = "A prompt not in example.jsonl"
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR110"]
    assert finding.status == "fail" and finding.severity == "warning" and finding.line == 5


def test_gr110_multi_turn_rollout_extending_the_example_passes(server_tree) -> None:
    rollouts = rows()
    for r in rollouts:
        r["responses_create_params"]["input"].append({"role": "user", "content": "observation", "type": "message"})
    assert server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR110"].status == "pass"


def test_gr111_is_not_applicable_to_the_example_rollouts(server_tree) -> None:
    # five example rollouts that all earn 1.0 are not a sample (issue 19): skipped, not a warning
    rollouts = rows()
    for r in rollouts:
        r["reward"] = 1.0
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR111"]
    assert finding.status == "skip" and finding.skip_kind == "not_applicable"
    assert "reward profile" in finding.message


def test_gr111_judges_a_reward_profile(server_tree) -> None:
    from gym_review_bot.evidence.synthetic import jsonl as rollout_jsonl
    from gym_review_bot.evidence.synthetic import rollouts

    flat = rollout_jsonl(rollouts(40, 4, lambda i: 4)).decode()
    finding = server_tree({"data/profile_rollouts.jsonl": flat})["GR111"]
    assert finding.status == "fail" and finding.severity == "warning"
    assert finding.file.endswith("data/profile_rollouts.jsonl") and "is 1" in finding.message
    varied = rollout_jsonl(rollouts(40, 4, lambda i: i % 5)).decode()
    assert server_tree({"data/profile_rollouts.jsonl": varied})["GR111"].status == "pass"
    # a file named like an example, or no bigger than the examples, is no profile
    gone = {"data/profile_rollouts.jsonl": None}
    assert server_tree({**gone, "data/example_profile_rollouts.jsonl": flat})["GR111"].status == "skip"
    small = rollout_jsonl(rollouts(5, 1, lambda i: 1)).decode()
    assert server_tree({**gone, "data/small_rollouts.jsonl": small})["GR111"].status == "skip"


@pytest.mark.parametrize("model", ["stub", "synthetic", "example-model", "test", "", None])
def test_gr112_placeholder_model_warns(server_tree, model) -> None:
    rollouts = rows()
    rollouts[0]["response"]["model"] = model
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "fail" and finding.line == 1


def test_gr112_placeholder_name_with_token_usage_or_reasoning_passes(server_tree) -> None:
    # NeMo Gym's harness records its model server's name (#2658 deepswe: `policy_model`, #1588 critpt:
    # `model`); the rows' usage counts and reasoning items show a real model generated them (issue 19, 2)
    rollouts = rows()
    for n, r in enumerate(rollouts):
        r["response"]["model"] = "policy_model"
        if n % 2:
            r["response"]["usage"] = {"input_tokens": 3546, "output_tokens": 639, "total_tokens": 4185}
        else:
            r["response"]["output"].insert(0, {"type": "reasoning", "summary": [{"type": "summary_text", "text": "x"}]})
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "pass", finding.message
    assert "reasoning or token usage" in finding.message
    # zero counts, an empty reasoning item, or a canned tool output are no evidence (#1682 writes those by hand)
    rollouts[1]["response"]["usage"] = {"input_tokens": 0, "output_tokens": 0}
    rollouts[2]["response"]["output"][0] = {"type": "function_call_output", "call_id": "c", "output": "{}"}
    rollouts[4]["response"]["output"][0] = {"type": "reasoning", "summary": []}
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "fail" and "line 2, 3, 5" in finding.message
    # a name that says the rows are made up stays a failure, usage or not (the wheel's abstention: 100/20)
    for r in rollouts:
        r["response"]["model"] = "synthetic-example"
        r["response"]["usage"] = {"input_tokens": 100, "output_tokens": 20}
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "fail" and "line 1, 2, 3, 4, 5" in finding.message


def test_gr112_a_real_name_on_rows_no_model_server_wrote_warns(server_tree) -> None:
    # #1682 example_mcp_weather: `claude-sonnet-4-6`, ids resp_example_<city>, created_at 0, no usage
    rollouts = rows()
    for r in rollouts:
        r["response"].update({"model": "claude-sonnet-4-6", "created_at": 0, "id": "resp_example_paris"})
        r["response"].pop("usage", None)
    finding = server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"]
    assert finding.status == "fail" and "created_at" in finding.message, finding.message
    # a creation time or token usage is what a model server writes: either one is enough
    rollouts[0]["response"]["created_at"] = 1780528244.0
    for r in rollouts[1:]:
        r["response"]["usage"] = {"input_tokens": 12, "output_tokens": 30}
    assert server_tree({"data/example_rollouts.jsonl": jsonl(rollouts)})["GR112"].status == "pass"


# -- GR108 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "-e nemo-gym[dev] @ ../../\n",
        "nemo-gym==0.4.0\nnumpy>=1.26  # arrays\n",
        "--extra-index-url https://example.org/simple\nmylib @ https://example.org/mylib-1.0.tar.gz\n",
        "-r ../shared/requirements.txt\nrequests[socks]>=2; python_version >= '3.10'\n",
        "",
    ],
)
def test_gr108_valid_requirements_pass(server_tree, text: str) -> None:
    assert server_tree({"requirements.txt": text})["GR108"].status == "pass"


@pytest.mark.parametrize("text", ["numpy>=>1.26\n", "--not-an-option x\n", "this is not a requirement\n"])
def test_gr108_invalid_lines_fail(server_tree, text: str) -> None:
    finding = server_tree({"requirements.txt": "nemo-gym==0.4.0\n" + text})["GR108"]
    assert finding.status == "fail" and finding.line == 2


def test_gr108_pyproject_with_dependencies_is_accepted(server_tree) -> None:
    pyproject = '[project]\nname = "srv"\nversion = "0.1"\ndependencies = ["nemo-gym==0.4.0"]\n'
    finding = server_tree({"requirements.txt": None, "pyproject.toml": pyproject})["GR108"]
    assert finding.status == "pass" and "pyproject.toml" in finding.message


def test_gr108_missing_fails(server_tree) -> None:
    assert server_tree({"requirements.txt": None})["GR108"].status == "fail"


# -- GR207 (a static check: it reads the requirement files, with or without the sandbox) -------------


def test_gr207_lists_every_line_that_leaves_the_index_with_its_location(server_tree) -> None:
    text = "nemo-gym==0.4.0\n--index-url https://mirror.example.com/simple\nx @ git+https://e.com/x\n"
    finding = server_tree({"requirements.txt": text})["GR207"]
    assert (finding.id, finding.severity, finding.status) == ("GR207", "warning", "fail")
    assert (finding.file, finding.line) == ("resources_servers/srv/requirements.txt", 2)
    assert [loc.line for loc in finding.locations] == [2, 3]
    assert "not installed in the sandbox" in finding.message


def test_gr207_passes_on_index_packages(server_tree) -> None:
    finding = server_tree({"requirements.txt": "nemo-gym==0.4.0\nnumpy>=1.26\n"})["GR207"]
    assert finding.status == "pass"


# -- GR109 / GR114 (the wording table is in test_licence_wording.py) ---------------------------


def test_gr109_missing_readme_fails(server_tree) -> None:
    findings = server_tree({"README.md": None})
    assert findings["GR109"].status == "fail" and "missing" in findings["GR109"].message
    assert findings["GR114"].status == "skip"


def test_gr114_code_only_warns(server_tree) -> None:
    findings = server_tree({"README.md": "# Srv\n\n## Licensing information\nCode: Apache 2.0\n"})
    assert findings["GR109"].status == "pass"
    assert findings["GR114"].status == "fail" and findings["GR114"].severity == "warning"
    assert "the data" in findings["GR114"].message


def test_gr105_tests_under_another_name_only_warn(server_tree) -> None:
    text = "def test_verify_rewards_correct_answers():\n    assert True\n"
    finding = server_tree({"tests/test_app.py": None, "tests/test_rewards.py": text})["GR105"]
    assert finding.status == "fail" and finding.severity == "warning"
    assert "tests/test_rewards.py hold tests" in finding.message


def test_a_crashing_check_is_an_error_with_the_reason_and_the_rest_still_run() -> None:
    from gym_review_bot.checks.base import Check, passed, run_checks
    from gym_review_bot.config import default_policy

    def crash(ctx: object) -> None:
        raise KeyError("unexpected shape")

    checks = [
        Check("GR900", "error", "crashes", "-", "files", crash),
        Check("GR901", "error", "runs", "-", "files", lambda ctx: passed("fine")),
        Check("GR902", "error", "waits", "-", "files", lambda ctx: passed("fine"), needs=("GR900",)),
    ]
    findings = {f.id: f for f in run_checks(checks, object(), "demo", default_policy())}
    assert findings["GR900"].status == "error" and "KeyError" in findings["GR900"].message
    assert findings["GR900"].skip_kind is None
    assert findings["GR901"].status == "pass"
    assert findings["GR902"].status == "skip" and "GR900" in findings["GR902"].message
    assert findings["GR902"].skip_kind == "prerequisite_failed"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (0.5, 0.5), (-1, -1.0), (True, None), ("1.0", None), (None, None), (float("nan"), None),
     (float("inf"), None), (10**400, None), ([1], None)],
)  # fmt: skip
def test_one_finite_number_test_for_every_reader_of_rewards(value: object, expected: float | None) -> None:
    """GR107, the sandbox's replay, the rollouts and profiling evidence all read a reward with safeload's test."""
    from gym_review_bot import safeload
    from gym_review_bot.evidence import profiling, rollouts
    from gym_review_bot.sandbox import replay

    assert safeload.finite_number(value) == expected
    assert (safeload.number_problem(value) is None) == (expected is not None)
    for module in (replay, rollouts, profiling):
        assert module.finite_number is safeload.finite_number, module.__name__


def test_one_file_vetting_rule_for_the_checks_and_the_evidence(tmp_path) -> None:
    """An LFS pointer and a file over its cap are refused by GR100's vetting and by the evidence's, with one rule."""
    from gym_review_bot.checks.context import LFS_POINTER, file_problem
    from gym_review_bot.evidence import locate
    from tests.sandbox.conftest import make_git_tree

    lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    tree = make_git_tree(tmp_path / "repo", {"a.jsonl": lfs, "big.jsonl": b"{}\n" * 1000, "ok.jsonl": b"{}\n"})
    entries = {name: tree.get(name) for name in ("a.jsonl", "big.jsonl", "ok.jsonl")}
    assert file_problem(tree, entries["a.jsonl"], 10**6, "cap") == LFS_POINTER
    assert file_problem(tree, entries["a.jsonl"], 10**6, "cap", text=False) == LFS_POINTER
    assert file_problem(tree, entries["big.jsonl"], 1024 * 1024, "cap (--x)") is None
    big = file_problem(tree, entries["big.jsonl"], 100, "cap (--x)")
    assert big and big.startswith("is 0.0 MB, over the ") and big.endswith(" MB cap (--x)")
    assert file_problem(tree, entries["ok.jsonl"], 10**6, "cap") is None
    assert LFS_POINTER in locate._vet(tree, entries["a.jsonl"], "a.jsonl", 10**6)
    assert " MB evidence cap (--max-evidence-mb); " in locate._vet(tree, entries["big.jsonl"], "big.jsonl", 100)
    assert locate._vet(tree, entries["ok.jsonl"], "ok.jsonl", 10**6) is None
