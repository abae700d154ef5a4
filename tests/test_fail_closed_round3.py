"""Issue 16, fail closed round 3: the crash, the output, discovery and the wrong greens a second audit found.

Each class has a test repository that reproduces it (a real git repository made in a temp dir, reviewed
by the real `gym-review` process or by `review()`); each failed on the main of the day and passes now.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gym_review_bot.discover import discover_pr
from gym_review_bot.models import Finding, make_fingerprint
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import GitRepo, good_server_files


def run_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", *args], capture_output=True, text=True, timeout=300, **kw
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check_pr(repo: GitRepo, tmp: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp / "report.json"
    proc = run_cli("check", "--repo", str(repo.path), "--base", "main", "--no-docker", "--json", str(out), *extra)
    return proc, json.loads(out.read_text()) if out.exists() else {}


def by_id(server: dict) -> dict[str, dict]:
    return {f["id"]: f for f in server["findings"]}


def pr_findings(repo: GitRepo, name: str = "srv") -> dict:
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    server = next(s for s in report.servers if s.name == name)
    return {f.id: f for f in server.findings}


def add_server(repo: GitRepo, overrides: dict | None = None, name: str = "srv") -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server(name, {**good_server_files(name), **(overrides or {})})
    repo.commit("add server")


def rollouts_with(field_update) -> str:
    rows = [json.loads(x) for x in good_server_files("srv")["data/example_rollouts.jsonl"].splitlines() if x.strip()]
    for row in rows:
        field_update(row)
    return "".join(json.dumps(r) + "\n" for r in rows)


# -- text from the PR: hashing and output -----------------------------------------------------------------


def test_fingerprints_of_ordinary_text_are_unchanged() -> None:
    """Stored override records depend on these: pinned values computed by the encoding of the day."""
    assert make_fingerprint("GR109", "srv", "resources_servers/srv/README.md", "no licensing section") == (
        "a9def9631bf591679b6c"
    )
    assert make_fingerprint("GR104", "café", None, "domain 'mäth'") == "a7332b34ab0c7e966ec6"
    assert make_fingerprint("GR120", "(pull request)", None, "") == "9432a592c6028f2601b3"


def test_fingerprints_keep_distinct_values_distinct_surrogates_included() -> None:
    values = ["\ud800", "\udc80", "\udcc3\udca9", "é", "\\ud800", "\ufffd", ""]
    prints = {make_fingerprint("GR112", "srv", None, v) for v in values}
    assert len(prints) == len(values)


def test_repro_lone_surrogate_in_response_model_is_a_finding_not_a_traceback(repo: GitRepo, tmp_path: Path) -> None:
    rollouts = rollouts_with(lambda r: r["response"].update(model="\ud800"))
    add_server(repo, {"data/example_rollouts.jsonl": rollouts})
    proc, report = check_pr(repo, tmp_path, "--markdown", str(tmp_path / "c.md"))
    assert proc.returncode == 0, proc.stderr  # GR112 is a warning
    finding = by_id(report["servers"][0])["GR112"]
    assert finding["status"] == "pass"  # an odd name, not a placeholder one
    assert "\\ud800" in finding["message"]  # escaped, never dropped
    assert (tmp_path / "c.md").read_text().strip()


def test_every_bidi_and_format_control_is_escaped_for_the_terminal_and_the_comment() -> None:
    from gym_review_bot.render.safety import escape_terminal, fence, md_inert

    for char in ("\u061c", "\u200d", "\u2066", "\u202e", "\ufeff", "\u00ad", "\U000e0041", "\ud800", "\x85"):
        shown = f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
        shown = f"\\x{ord(char):02x}" if ord(char) < 0x100 else shown
        for out in (escape_terminal(f"a{char}b"), escape_terminal(f"a{char}b", single_line=False)):
            assert char not in out and shown in out, (char, out)
        assert char not in md_inert(f"a{char}b") and shown in md_inert(f"a{char}b")
        assert char not in fence(f"a{char}b") and shown in fence(f"a{char}b")
    assert escape_terminal("emoji \U0001f469\u200d\U0001f4bb") == "emoji \U0001f469\\u200d\U0001f4bb"
    assert escape_terminal("tab\there", single_line=False) == "tab\there"  # kept in multi-line text


def test_workflow_command_starts_are_escaped_by_the_output_function() -> None:
    from gym_review_bot.render.safety import escape_terminal

    out = escape_terminal("ok\n  ::error::x\n##[group]y", single_line=False)
    assert not [line for line in out.split("\n") if line.lstrip().startswith("::") or "##[" in line]
    assert escape_terminal("::warning::x").lstrip()[:2] != "::"


def test_repro_plan_prints_refused_names_escaped(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("##[error]x", good_server_files("x"))
    repo.server("ok", good_server_files("ok"))
    repo.commit()
    proc = run_cli("plan", "--repo", str(repo.path), "--base", "main")
    assert proc.returncode == 0, proc.stderr
    assert "##[" not in proc.stdout
    plan = json.loads(proc.stdout)
    assert plan["servers"] == ["ok"] and len(plan["refused"]) == 1


def test_repro_verbose_into_a_closed_pipe_is_no_traceback(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    for n in range(12):  # more output than one pipe buffer: `head` is gone before the rest is written
        repo.server(f"s{n}", {**good_server_files(f"s{n}"), "README.md": "# s\n" + "Words. " * 2000 + "\n"})
    repo.commit()
    for tail in ("head -1", "true"):
        command = f"{sys.executable} -m gym_review_bot check --repo {repo.path} --base main --no-docker --verbose"
        proc = subprocess.run(["bash", "-c", f"{command} | {tail}"], capture_output=True, text=True, timeout=300)
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_repro_unwritable_output_path_is_refused_before_the_review(repo: GitRepo, tmp_path: Path) -> None:
    add_server(repo, {"README.md": "# srv\n"})  # a failing server: no report may claim anything
    report = tmp_path / "report.json"
    for bad in (tmp_path / "no-such-dir" / "c.md", tmp_path):
        proc = run_cli(
            "check", "--repo", str(repo.path), "--base", "main", "--no-docker",
            "--json", str(report), "--markdown", str(bad),
        )  # fmt: skip
        assert proc.returncode == 2, proc.stdout
        assert "--markdown" in proc.stderr
        assert not report.exists()  # nothing written, nothing reviewed
    proc = run_cli("check", "--repo", str(repo.path), "--base", "main", "--no-docker", "--json", str(tmp_path))
    assert proc.returncode == 2 and "--json" in proc.stderr


# -- discovery: every git object type at resources_servers/<name> --------------------------------------


def _pr_branch(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")


def test_repro_server_added_as_a_submodule_fails_gr100(repo: GitRepo, tmp_path: Path) -> None:
    _pr_branch(repo)
    some_commit = repo.git("rev-parse", "HEAD")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{some_commit},resources_servers/sub")
    repo.git("commit", "-q", "-m", "add a submodule server")
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 1 and report["verdict"] == "fail"
    server = report["servers"][0]
    assert server["name"] == "sub" and server["status"] == "added"
    gr100 = by_id(server)["GR100"]
    assert gr100["status"] == "fail" and "submodule" in gr100["message"]


def test_repro_server_directory_that_is_a_symlink_fails_gr100(repo: GitRepo, tmp_path: Path) -> None:
    _pr_branch(repo)
    repo.write({f"elsewhere/{rel}": text for rel, text in good_server_files("evil").items()})
    (repo.path / "resources_servers" / "evil").symlink_to("../elsewhere")
    repo.commit()
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 1 and report["verdict"] == "fail"
    server = next(s for s in report["servers"] if s["name"] == "evil")
    gr100 = by_id(server)["GR100"]
    assert gr100["status"] == "fail" and "symlink" in gr100["message"] and "../elsewhere" in gr100["message"]


def test_repro_server_whose_configs_is_a_symlink_is_reviewed_not_a_library(repo: GitRepo, tmp_path: Path) -> None:
    _pr_branch(repo)
    files = {rel: text for rel, text in good_server_files("srv").items() if not rel.startswith("configs/")}
    files["app.py"] = None
    repo.server("srv", files)
    repo.write({"shared_configs/srv.yaml": good_server_files("srv")["configs/srv.yaml"]})
    (repo.path / "resources_servers" / "srv" / "configs").symlink_to("../../shared_configs")
    repo.commit()
    proc, report = check_pr(repo, tmp_path)
    assert report["verdict"] == "fail" and [s["name"] for s in report["servers"]] == ["srv"]
    assert by_id(report["servers"][0])["GR100"]["status"] == "fail"
    assert report["not_reviewed"] == []


def test_repro_all_reviews_a_symlinked_server_directory(repo: GitRepo, tmp_path: Path) -> None:
    repo.write({f"elsewhere/{rel}": text for rel, text in good_server_files("evil").items()})
    (repo.path / "resources_servers" / "evil").symlink_to("../elsewhere")
    repo.server("good", good_server_files("good"))
    repo.write({"resources_servers/.gitignore": "*.pyc\n"})
    out = tmp_path / "r.json"
    proc = run_cli("check", "--repo", str(repo.path), "--all", "--no-docker", "--json", str(out))
    report = json.loads(out.read_text())
    assert proc.returncode == 1 and report["verdict"] == "fail"
    assert sorted(s["name"] for s in report["servers"]) == ["evil", "good"]
    assert by_id(next(s for s in report["servers"] if s["name"] == "evil"))["GR100"]["status"] == "fail"
    listed = {n["path"]: n["kind"] for n in report["not_reviewed"]}
    assert listed["resources_servers/.gitignore"] == "file"
    assert any(".gitignore" in note for note in report["notes"])


def test_editing_resources_servers_gitignore_is_a_note_not_a_failure(repo: GitRepo, tmp_path: Path) -> None:
    _pr_branch(repo)
    repo.write({"resources_servers/.gitignore": "*.pyc\n"})
    repo.commit()
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 0 and report["verdict"] == "pass" and report["servers"] == []
    assert report["not_reviewed"] == [{"path": "resources_servers/.gitignore", "kind": "file"}]
    assert any("resources_servers/.gitignore" in note for note in report["notes"])


def test_removing_a_symlink_or_submodule_where_a_server_belongs_is_named(repo: GitRepo, tmp_path: Path) -> None:
    (repo.path / "resources_servers" / "link").symlink_to("../nemo_gym")
    repo.commit("a link at base")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.git('rev-parse', 'HEAD')},resources_servers/sub")
    repo.git("commit", "-q", "-m", "a submodule at base")  # not `add -A`: the gitlink has no directory here
    _pr_branch(repo)
    (repo.path / "resources_servers" / "link").unlink()
    repo.git("rm", "-q", "--cached", "resources_servers/sub")
    repo.commit("remove them")
    proc, report = check_pr(repo, tmp_path)
    assert report["verdict"] == "pass", report
    listed = {n["path"]: n["kind"] for n in report["not_reviewed"]}
    assert listed == {"resources_servers/link": "symlink", "resources_servers/sub": "submodule"}


# -- GR100, GR103, GR105, GR110, GR118: wrong greens ---------------------------------------------------


def test_repro_gr100_reads_past_the_first_64_kib(server_tree) -> None:
    readme = good_server_files("srv")["README.md"]
    pad = "Words about the server.\n" * (70 * 1024 // 24)
    for tail, why in ((b"x\x00y\n", "NUL"), (b"caf\xe9\n", "UTF-8")):
        finding = server_tree({"README.md": readme.encode() + pad.encode() + tail})["GR100"]
        assert finding.status == "fail" and why in finding.message, finding.message
    assert server_tree({"README.md": readme + pad + "café ✓\n"})["GR100"].status == "pass"


def _config(extra: str = "", name: str = "srv") -> str:
    return good_server_files(name)["configs/srv.yaml"] + extra


def test_repro_gr103_fails_configs_nemo_gym_cannot_load(server_tree) -> None:
    cases = {
        "duplicate key": _config().replace(
            "      domain: knowledge\n", "      domain: knowledge\n      domain: math\n"
        ),
        "second document": _config("---\nother: {resources_servers: {x: {entrypoint: app.py}}}\n"),
        "two servers": _config().replace(
            "    srv:\n      entrypoint: app.py\n",
            "    srv:\n      entrypoint: app.py\n    srv2:\n      entrypoint: app.py\n      domain: math\n",
            1,
        ),
    }
    for what, text in cases.items():
        finding = server_tree({"configs/srv.yaml": text})["GR103"]
        assert finding.status == "fail", (what, finding.message)
    assert "domain" in server_tree({"configs/srv.yaml": cases["duplicate key"]})["GR103"].message
    assert server_tree({"configs/srv.yaml": _config()})["GR103"].status == "pass"


def test_repro_gr105_does_not_count_a_test_class_pytest_does_not_collect(server_tree) -> None:
    tests = "class TestS:\n    def __init__(self):\n        pass\n\n    def test_a(self):\n        assert True\n"
    assert server_tree({"tests/test_app.py": tests})["GR105"].status == "fail"
    collected = "class TestS:\n    def test_a(self):\n        assert True\n"
    assert server_tree({"tests/test_app.py": collected})["GR105"].status == "pass"


def test_repro_gr110_an_empty_example_input_does_not_excuse_stray_rollouts(server_tree) -> None:
    examples = good_server_files("srv")["data/example.jsonl"].splitlines()
    examples.append(json.dumps({"responses_create_params": {"input": []}}))
    strays = rollouts_with(lambda r: r["responses_create_params"].update(input=[{"role": "user", "content": "zz"}]))
    found = server_tree({"data/example.jsonl": "\n".join(examples) + "\n", "data/example_rollouts.jsonl": strays})
    assert found["GR110"].status == "fail", found["GR110"].message


def _gr118(repo: GitRepo, value: str, base: str | None = None) -> Finding:
    from tests.test_registry_checks import nvidia_server, open_pr, signed_commit

    files = nvidia_server()
    if base is not None:
        files["configs/srv.yaml"] = str(files["configs/srv.yaml"]).replace("verified: false", f"verified: {base}")
        open_pr(repo, base_server=files)
    else:
        open_pr(repo)
    cfg = str(nvidia_server()["configs/srv.yaml"]).replace("verified: false", f"verified: {value}")
    repo.server("srv", {**nvidia_server(), "configs/srv.yaml": cfg})
    signed_commit(repo)
    return pr_findings(repo)["GR118"]


@pytest.mark.parametrize("value", ['"true"', "1", "yes", "on", '"false"', "0", "null", '"no"'])
def test_repro_gr118_a_new_server_needs_the_yaml_boolean_false(repo: GitRepo, value: str) -> None:
    finding = _gr118(repo, value)
    assert finding.status == "fail", finding.message
    if value == '"false"':
        assert "a string" in finding.message  # says what it found, not the value it asks for


@pytest.mark.parametrize(("base", "value"), [("false", '"true"'), ("false", "1"), ("false", "Yes"), ("false", "1.0")])
def test_repro_gr118_an_existing_entry_cannot_turn_true_by_another_spelling(repo: GitRepo, base: str, value: str):
    assert _gr118(repo, value, base=base).status == "fail"


def test_gr118_an_existing_true_entry_may_keep_any_true_spelling(repo: GitRepo) -> None:
    assert _gr118(repo, '"true"', base="true").status == "pass"


# -- GR102 judges only what it can prove -----------------------------------------------------------------

IMPORTS = "from nemo_gym.base_resources_server import SimpleResourcesServer\n"
VERIFY = "    async def verify(self, body):\n        return 1\n"
MAIN = "\nif __name__ == '__main__':\n    S.run_webserver()\n"


def gr102(server_tree, app: str) -> Finding:
    return server_tree({"app.py": app})["GR102"]


def test_gr102_a_plain_verify_passes(server_tree) -> None:
    assert gr102(server_tree, f"{IMPORTS}\nclass S(SimpleResourcesServer):\n{VERIFY}{MAIN}").status == "pass"
    sync = f"{IMPORTS}\nclass S(SimpleResourcesServer):\n    def verify(self, body):\n        return 1\n{MAIN}"
    assert gr102(server_tree, sync).status == "pass"


def test_repro_gr102_an_assignment_is_not_a_verify(server_tree) -> None:
    for value in ("None", "1", "lambda self, body: 1", "staticmethod(print)"):
        finding = gr102(server_tree, f"{IMPORTS}\nclass S(SimpleResourcesServer):\n    verify = {value}\n{MAIN}")
        assert finding.status == "error" and "assign" in finding.message, (value, finding.message)


def test_repro_gr102_abstractmethod_under_any_name_is_abstract(server_tree) -> None:
    for header, deco in (
        ("from abc import abstractmethod as am\n", "am"),
        ("import abc as x\n", "x.abstractmethod"),
        ("import abc\n", "abc.abstractmethod"),
    ):
        app = f"{header}{IMPORTS}\nclass S(SimpleResourcesServer):\n    @{deco}\n{VERIFY}{MAIN}"
        assert gr102(server_tree, app).status == "fail", deco


def test_repro_gr102_a_decorator_it_does_not_know_is_an_error(server_tree) -> None:
    app = f"from mylib import wrap\n{IMPORTS}\nclass S(SimpleResourcesServer):\n    @wrap\n{VERIFY}{MAIN}"
    finding = gr102(server_tree, app)
    assert finding.status == "error" and "decorator" in finding.message


def test_repro_gr102_dead_run_webserver_does_not_pick_the_server(server_tree) -> None:
    app = (
        f"{IMPORTS}\nclass Good(SimpleResourcesServer):\n{VERIFY}\n\nclass Bad(SimpleResourcesServer):\n    pass\n\n"
        "def never_called():\n    Good.run_webserver()\n\n"
        "if __name__ == '__main__':\n    Bad.run_webserver()\n"
    )
    finding = gr102(server_tree, app)
    assert finding.status == "fail" and "Bad" in finding.message


def test_gr102_an_abstract_intermediate_base_in_the_file_is_no_server(server_tree) -> None:
    app = f"{IMPORTS}\nclass Base(SimpleResourcesServer):\n    pass\n\n\nclass S(Base):\n{VERIFY}{MAIN}"
    assert gr102(server_tree, app).status == "pass"


def test_repro_gr102_rebinding_or_deleting_after_the_class_is_an_error(server_tree) -> None:
    cls = f"{IMPORTS}\nclass S(SimpleResourcesServer):\n{VERIFY}\n"
    for after in ("S = object\n", "del S.verify\n", "S.verify = None\n", "setattr(S, 'verify', None)\n",
                  "delattr(S, 'verify')\n", "\nclass S(SimpleResourcesServer):\n    pass\n"):  # fmt: skip
        finding = gr102(server_tree, cls + after + MAIN)
        assert finding.status == "error", (after, finding.message)


def test_repro_gr102_dynamic_class_construction_is_an_error(server_tree) -> None:
    app = f"{IMPORTS}\nS = type('S', (SimpleResourcesServer,), {{'verify': print}})\n{MAIN}"
    assert gr102(server_tree, app).status == "error"


ABSTRACT_BASE = (
    "from abc import abstractmethod\n\n\nclass SimpleResourcesServer:\n"
    "    @abstractmethod\n    async def verify(self, body):\n        pass\n"
)


def test_repro_gr102_reads_nemo_gym_from_the_merge_base(repo: GitRepo) -> None:
    repo.write({"nemo_gym/base_resources_server.py": ABSTRACT_BASE})
    repo.commit("the real base class")
    repo.git("checkout", "-q", "-b", "pr")
    repo.write({"nemo_gym/base_resources_server.py": ABSTRACT_BASE.replace("    @abstractmethod\n", "")})
    app = f"{IMPORTS}\nclass S(SimpleResourcesServer):\n    pass\n{MAIN}"
    repo.server("srv", {**good_server_files("srv"), "app.py": app})
    repo.commit("drop @abstractmethod from the base, add a server without verify")
    finding = pr_findings(repo)["GR102"]
    assert finding.status == "fail", finding.message


def test_gr102_inherits_a_concrete_verify_from_the_merge_base(repo: GitRepo) -> None:
    concrete = "class Judge:\n    async def verify(self, body):\n        return 1\n"
    repo.write({"nemo_gym/base_resources_server.py": ABSTRACT_BASE + "\n\n" + concrete})
    repo.commit("a base with a concrete verify")
    repo.git("checkout", "-q", "-b", "pr")
    imports = "from nemo_gym.base_resources_server import Judge, SimpleResourcesServer\n"
    app = f"{imports}\nclass S(Judge, SimpleResourcesServer):\n    pass\n{MAIN}"
    repo.server("srv", {**good_server_files("srv"), "app.py": app})
    repo.commit()
    assert pr_findings(repo)["GR102"].status == "pass"


def test_gr110_when_every_example_input_is_empty_it_says_so(server_tree) -> None:
    """Agent servers whose environment makes the prompt (aviary, gdpval in the wheel; the registry corpus's
    answer key: each rollout's input starts with the empty one)."""
    examples = "".join(json.dumps({"responses_create_params": {"input": []}}) + "\n" for _ in range(5))
    finding = server_tree({"data/example.jsonl": examples})["GR110"]
    assert finding.status == "pass" and "empty input" in finding.message


# -- item 5: one finding, every problem a location with its own key ------------------------------------


def _changed_readme(repo: GitRepo, base_licensing: str, head_licensing: str) -> Finding:
    files = good_server_files("srv")
    repo.server("srv", {**files, "README.md": "# srv\n\nA server.\n\n## Licensing\n\n" + base_licensing})
    repo.commit("server at base")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", {"README.md": "# srv\n\nA server, changed.\n\n## Licensing\n\n" + head_licensing})
    repo.commit("change the readme")
    return pr_findings(repo)["GR109"]


def test_repro_an_old_placeholder_does_not_hide_a_new_one(repo: GitRepo) -> None:
    finding = _changed_readme(repo, "Code: ?\nData: MIT\n", "Code: ?\nData: TBD\n")
    assert finding.status == "fail" and not finding.pre_existing
    assert [loc.line for loc in finding.locations] == [7, 8]
    assert len({loc.key for loc in finding.locations}) == 2 and all(loc.key for loc in finding.locations)
    assert "Code: ?" in finding.message and "Data: TBD" in finding.message


def test_a_finding_whose_every_problem_the_base_had_is_pre_existing(repo: GitRepo) -> None:
    finding = _changed_readme(repo, "Code: ?\nData: TBD\n", "Code: ?\nData: MIT\n")
    assert finding.status == "fail" and finding.pre_existing


def test_the_same_placeholders_are_pre_existing(repo: GitRepo) -> None:
    assert _changed_readme(repo, "Code: ?\nData: TBD\n", "Code: ?\nData: TBD\n").pre_existing


# -- GR113: one placeholder list, every dataset type, a trusted list it cannot read -----------------------

WITH_LICENCES = (  # NeMo Gym's DatasetConfig (nemo_gym/config_types.py at 07d6b0d), cut to its licence field
    "from typing import Literal, Optional, Union\n\n\nclass DatasetConfig:\n    license: Optional[Union["
    "Literal['Apache 2.0'], Literal['MIT'], Literal['CC BY-SA 4.0'], Literal['TBD']]] = None\n"
)
NO_DATASET_CONFIG = "from enum import Enum\n\n\nclass Domain(str, Enum):\n    KNOWLEDGE = 'knowledge'\n"


def _dataset_licence(value: str, kind: str = "train") -> str:
    config = good_server_files("srv")["configs/srv.yaml"].replace("license: Apache 2.0", f"license: {value}")
    return config.replace("type: train", f"type: {kind}") if kind != "train" else config


@pytest.mark.parametrize("value", ["T.B.D.", "'???'", "'-'", "pending", "unspecified", "false", "N/A", "CC-BY-?"])
def test_repro_gr113_placeholders_fail_when_the_base_has_no_licence_list(server_tree, value: str) -> None:
    checkout = {"nemo_gym/config_types.py": NO_DATASET_CONFIG}
    finding = server_tree({"configs/srv.yaml": _dataset_licence(value)}, checkout_files=checkout)["GR113"]
    assert finding.status == "fail", (value, finding.message)


def test_repro_gr113_covers_example_datasets(server_tree) -> None:
    """Issue 19 item 8: `license: Apache-2.0` (not a DatasetConfig value) on a `type: example` dataset."""
    config = good_server_files("srv")["configs/srv.yaml"].replace(
        "        type: example\n", "        type: example\n        license: Apache-2.0\n"
    )
    checkout = {"nemo_gym/config_types.py": WITH_LICENCES}
    finding = server_tree({"configs/srv.yaml": config}, checkout_files=checkout)["GR113"]
    assert finding.status == "fail" and "Apache-2.0" in finding.message
    assert server_tree(checkout_files=checkout)["GR113"].status == "pass"  # an example may leave its licence out


def test_repro_gr113_tbd_is_a_placeholder_on_example_datasets_too(server_tree) -> None:
    """#2529 equivalence_llm_judge: `license: TBD` on its two `type: example` datasets. NeMo Gym's DatasetConfig
    accepts the value, but it names no licence: the one placeholder list holds on every dataset type."""
    config = good_server_files("srv")["configs/srv.yaml"].replace(
        "        type: example\n", "        type: example\n        license: TBD\n"
    )
    checkout = {"nemo_gym/config_types.py": WITH_LICENCES}
    finding = server_tree({"configs/srv.yaml": config}, checkout_files=checkout)["GR113"]
    assert finding.status == "fail" and "placeholder license `TBD`" in finding.message, finding.message


def test_repro_gr113_is_an_error_when_the_merge_base_config_types_object_is_missing(repo: GitRepo) -> None:
    types = (repo.path / "nemo_gym" / "config_types.py").read_text()
    repo.write({"nemo_gym/config_types.py": types + "\n# a blob only the base has\n"})
    repo.commit("base")
    base_blob = repo.git("rev-parse", "HEAD:nemo_gym/config_types.py")
    repo.git("checkout", "-q", "-b", "pr")
    repo.write({"nemo_gym/config_types.py": types})
    repo.server("srv", {**good_server_files("srv"), "configs/srv.yaml": _dataset_licence("Anything Goes 1.0")})
    repo.commit()
    (repo.path / ".git" / "objects" / base_blob[:2] / base_blob[2:]).unlink()
    findings = pr_findings(repo)
    assert findings["GR113"].status == "error" and "config_types.py" in findings["GR113"].message
    assert findings["GR104"].status == "error"


# -- GR304: the PR description's licensing, read by the same rule ------------------------------------------


@pytest.mark.parametrize("data", ["?", "TBD", "unknown", "N/A", "T.B.D.", "CC-BY-?"])
def test_repro_gr304_fails_a_placeholder_licence(data: str) -> None:
    from tests.test_pr_body import review as review_body

    body = f"## Licensing\nCode: Apache 2.0 for the server code.\nData: {data}\n"
    finding = review_body(body)["GR304"]
    assert finding.status == "fail" and "placeholder" in finding.message, (data, finding.message)
    dashed = review_body(f"## Licensing\n- Code - Apache 2.0\n- Data - {data}\n")["GR304"]
    assert dashed.status == "fail", (data, dashed.message)


def test_gr304_passes_real_licences() -> None:
    from tests.test_pr_body import review as review_body

    body = "## Licensing\nCode: Apache 2.0.\nData: CC BY 4.0 (the upstream dataset's licence).\n"
    assert review_body(body)["GR304"].status == "pass"


# -- item 4: evidence counts what it holds, not what it claims -------------------------------------------


def _profile(rows) -> object:
    import io

    from gym_review_bot.evidence.rollouts import profile_rollouts
    from gym_review_bot.evidence.synthetic import jsonl

    return profile_rollouts(io.BytesIO(jsonl(iter(rows))), "p.jsonl")


def test_repro_prompts_are_counted_by_their_content_not_their_task_index() -> None:
    from gym_review_bot.evidence.synthetic import rollout_row

    rows = []
    for task in range(500):
        for j in range(16):
            row = rollout_row(task, j, float(j % 2))
            row["responses_create_params"]["input"] = [{"role": "user", "content": "The one prompt."}]
            rows.append(row)
    ev = _profile(rows)
    assert ev.prompts == 1
    assert any("by their content" in note for note in ev.notes)


def test_repro_a_row_copied_16_times_is_one_response() -> None:
    from gym_review_bot.evidence.synthetic import rollout_row

    rows = [rollout_row(task, 0, float(task % 2)) for task in range(500) for _ in range(16)]
    ev = _profile(rows)
    assert ev.prompts == 500 and ev.responses_per_prompt == 1 and ev.duplicate_rows == 500 * 15


def test_repro_one_qwen_row_in_8000_does_not_make_the_profile_qwen(repo: GitRepo) -> None:
    from gym_review_bot.evidence.synthetic import jsonl, rollouts

    rows = list(rollouts(500, 16, lambda i: i % 17, model="gpt-4o"))
    rows[0]["response"]["model"] = "Qwen/Qwen3-4B"
    ev = _profile(rows)
    assert ev.models[0] == "gpt-4o" and ev.model_rows == {"gpt-4o": 7999, "Qwen/Qwen3-4B": 1}
    found = _evidence_review(repo, jsonl(iter(rows)), "500 prompts, 16 responses per prompt with Qwen3-4B.")
    assert found["GR403"].status == "fail" and "gpt-4o" in found["GR403"].message


def test_repro_a_qwen_mention_in_the_body_does_not_override_the_rollouts(repo: GitRepo) -> None:
    from gym_review_bot.evidence.synthetic import jsonl, rollouts

    data = jsonl(rollouts(500, 16, lambda i: i % 17, model="gpt-4o"))
    found = _evidence_review(repo, data, "We used Qwen3-4B. 500 prompts, 16 responses per prompt.")
    assert found["GR403"].status == "fail"


def test_a_profile_mostly_of_the_reference_model_passes(repo: GitRepo) -> None:
    from gym_review_bot.evidence.synthetic import jsonl, rollouts

    rows = list(rollouts(500, 16, lambda i: i % 17))
    rows[0]["response"]["model"] = "gpt-4o"
    assert _evidence_review(repo, jsonl(iter(rows)), "Profiled 500 prompts.")["GR403"].status == "pass"


def test_repro_gr405_reads_every_example_row_for_tools(repo: GitRepo) -> None:
    from gym_review_bot.evidence.synthetic import jsonl, rollouts

    plain = {"responses_create_params": {"input": [{"role": "user", "content": "q"}]}}
    tooled = {"responses_create_params": {"input": "q", "tools": [{"type": "function", "name": "f"}]}}
    examples = "".join(json.dumps(row) + "\n" for row in [plain] * 60 + [tooled])
    data = jsonl(rollouts(500, 16, lambda i: i % 17))
    found = _evidence_review(repo, data, "500 prompts, 16 responses per prompt with Qwen3-4B.", examples)
    assert found["GR405"].status != "skip", found["GR405"].message


def _evidence_review(repo: GitRepo, data: bytes, body: str, examples: str | None = None) -> dict:
    repo.git("checkout", "-q", "-b", "pr")
    files = {**good_server_files("srv"), "data/profile_rollouts.jsonl": data}
    if examples is not None:
        files["data/example.jsonl"] = examples
    repo.server("srv", files)
    repo.commit()
    report = review(discover_pr(repo.path, "main"), ReviewOptions(pr_body=body)).report
    return {f.id: f for f in report.servers[0].findings}


# -- GR117 reads every file through one git process ---------------------------------------------------------


def test_gr117_reads_many_files_in_one_pass_and_finds_the_marker(repo: GitRepo) -> None:
    from tests.test_registry_checks import SPDX, nvidia_server, open_pr, signed_commit

    open_pr(repo)
    files = {**nvidia_server(), **{f"pkg/m{n:04d}.py": SPDX + f"X = {n}\n" for n in range(400)}}
    files["pkg/m0321.py"] = SPDX + "a = 1\n<<<<<<< HEAD\nb = 2\n=======\nb = 3\n>>>>>>> main\n"
    repo.server("srv", files)
    signed_commit(repo)
    finding = pr_findings(repo)["GR117"]
    assert finding.status == "fail" and finding.file == "resources_servers/srv/pkg/m0321.py" and finding.line == 4


def test_gr117_on_a_damaged_clone_is_an_error_not_a_bug(repo: GitRepo) -> None:
    from tests.test_registry_checks import nvidia_server, open_pr, signed_commit

    open_pr(repo)
    repo.server("srv", {**nvidia_server(), "notes.txt": "only this commit has these words\n"})
    signed_commit(repo)
    oid = repo.git("rev-parse", "HEAD:resources_servers/srv/notes.txt")
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    finding = pr_findings(repo)["GR117"]
    assert finding.status == "error" and oid in finding.message and "bug" not in finding.message


def test_find_line_finds_keys_at_a_line_start_or_anywhere() -> None:
    from gym_review_bot.checks.config import find_line

    text = "a:\n  domain: x\n\n\n  - name: 'ds1'\n    domain:   'mathx'\nxdomain: math\n"
    assert find_line(text, "domain") == 2
    assert find_line(text, "domain", "math") == 6
    assert find_line(text, "name", "ds1", anywhere=True) == 5
    assert find_line(text, "name", "ds1") is None  # `- name` does not start its line with the key
    assert find_line(text, "nothing") is None and find_line("", "domain") is None
    assert find_line("\n" * 100_000 + "  domain: bad\n", "domain", "bad") == 100_001


def test_a_server_replaced_by_a_plain_file_is_removed_and_named(repo: GitRepo, tmp_path: Path) -> None:
    repo.server("srv", good_server_files("srv"))
    repo.commit("a server at base")
    _pr_branch(repo)
    repo.git("rm", "-q", "-r", "resources_servers/srv")
    repo.write({"resources_servers/srv": "now a file\n"})
    repo.commit("replace it with a file")
    proc, report = check_pr(repo, tmp_path)
    assert [(s["name"], s["status"]) for s in report["servers"]] == [("srv", "removed")]
    assert report["not_reviewed"] == [{"path": "resources_servers/srv", "kind": "file"}]


def test_publish_accepts_the_reports_of_links_files_and_submodules(repo: GitRepo) -> None:
    """trust.verify_report (what publish runs) finds every touched entry in the report or its not_reviewed."""
    from gym_review_bot.catalogue import Catalogue
    from gym_review_bot.trust import verify_report

    (repo.path / "resources_servers" / "gone").symlink_to("../nemo_gym")
    repo.commit("a link at base")
    _pr_branch(repo)
    (repo.path / "resources_servers" / "gone").unlink()
    (repo.path / "resources_servers" / "evil").symlink_to("../elsewhere")
    repo.write({"resources_servers/.gitignore": "*.pyc\n"})
    repo.commit()
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.git('rev-parse', 'HEAD')},resources_servers/sub")
    repo.git("commit", "-q", "-m", "and a submodule")
    paths = repo.git("diff", "--name-only", "main", "HEAD").split("\n")
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    judgement = verify_report(report, Catalogue(), paths)
    assert judgement.verdict == "fail"
    assert sorted(s.name for s in report.servers) == ["evil", "sub"]


def test_repro_a_bidi_control_in_a_server_name_reaches_neither_terminal_nor_comment(
    repo: GitRepo, tmp_path: Path
) -> None:
    name = "srv\u061cx\u202e"
    add_server(repo, {"README.md": "# s\n"}, name=name)
    proc, report = check_pr(repo, tmp_path, "--markdown", str(tmp_path / "c.md"))
    assert report["servers"][0]["name"] == name  # the report keeps the value; what prints escapes it
    comment = (tmp_path / "c.md").read_text()
    for out in (proc.stdout, comment):
        assert "\u061c" not in out and "\u202e" not in out
        assert "\\u061c" in out
