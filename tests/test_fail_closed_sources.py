"""Issue 6, fail closed (sources): Python sources, configs, entrypoints, trusted facts, damaged repos.

The first tests reproduce the issue's cases one by one; each once crashed a check, passed a PR it
should not have, or ended in a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gym_review_bot.checks.checkout import MAX_AST_DEPTH, UnreviewablePython, parse_python
from gym_review_bot.discover import discover_pr
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import GitRepo, good_server_files

SERVER_TAIL = (
    "from nemo_gym.base_resources_server import SimpleResourcesServer\n\n"
    "class S(SimpleResourcesServer):\n    async def verify(self, body):\n        return 1\n\n"
    "if __name__ == '__main__':\n    S.run_webserver()\n"
)
NO_VERIFY = (
    "from nemo_gym.base_resources_server import SimpleResourcesServer\n\n"
    "class S(SimpleResourcesServer):\n    pass\n\nS.run_webserver()\n"
)
TRUSTED_CONFIG_TYPES = (
    "from enum import Enum\nfrom typing import Literal\n\nfrom pydantic import BaseModel\n\n\n"
    "class Domain(str, Enum):\n    MATH = 'math'\n    KNOWLEDGE = 'knowledge'\n    OTHER = 'other'\n\n\n"
    "class DatasetConfig(BaseModel):\n    license: Literal['Apache 2.0', 'MIT', 'TBD'] | None = None\n"
)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "gym_review_bot", *args], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check_pr(repo: GitRepo, tmp: Path) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp / "report.json"
    proc = run_cli("check", "--repo", str(repo.path), "--base", "main", "--no-docker", "--json", str(out))
    return proc, json.loads(out.read_text()) if out.exists() else {}


def by_id(server: dict) -> dict[str, dict]:
    return {f["id"]: f for f in server["findings"]}


def config(entrypoint: object, name: str = "srv", domain: str = "knowledge") -> str:
    return json.dumps({name: {"resources_servers": {name: {"entrypoint": entrypoint, "domain": domain}}}})


# -- reproductions from the issue --------------------------------------------------------------------


def test_repro_base_class_2000_attributes_deep_is_a_gr101_failure_not_a_skip(server_tree) -> None:
    app = "class S(a" + ".b" * 2000 + "):\n    pass\n\nS.run_webserver()\n"
    findings = server_tree({"app.py": app})
    gr101 = findings["GR101"]
    assert gr101.status == "fail" and gr101.file == "resources_servers/srv/app.py" and gr101.line == 1
    assert "too deeply nested to review" in gr101.message
    assert findings["GR102"].status == "skip" and findings["GR102"].skip_kind == "prerequisite_failed"


def test_repro_600_term_sum_is_a_gr101_failure_naming_the_line(server_tree) -> None:
    app = SERVER_TAIL + "x = " + "+".join(["a"] * 600) + "\n"
    gr101 = server_tree({"app.py": app})["GR101"]
    assert gr101.status == "fail" and gr101.line == SERVER_TAIL.count("\n") + 1
    assert "resources_servers/srv/app.py is too deeply nested to review" in gr101.message


def test_nesting_the_parser_itself_gives_up_on_is_a_gr101_failure(server_tree) -> None:
    app = SERVER_TAIL + "x = " + "+".join(["a"] * 20000) + "\n"
    gr101 = server_tree({"app.py": app})["GR101"]
    assert gr101.status == "fail" and "too deeply nested to review" in gr101.message


def test_source_the_parser_refuses_is_a_syntax_error_or_unreviewable_never_a_crash() -> None:
    for source in ("x = 1\0\n", b"x = 1\0\n", b"\xff\xfe x = 1\n"):
        with pytest.raises((SyntaxError, UnreviewablePython)):
            parse_python(source, "app.py")


def test_ordinary_nesting_parses() -> None:
    module = parse_python(SERVER_TAIL + "x = " + "+".join(["a"] * (MAX_AST_DEPTH // 2)) + "\n", "app.py")
    assert module.body


def test_repro_10_mb_app_py_is_a_gr100_failure_and_is_never_parsed(server_tree) -> None:
    app = SERVER_TAIL + "x = 1\n" * (10 * 1024 * 1024 // 6)
    started = time.monotonic()
    findings = server_tree({"app.py": app})
    assert time.monotonic() - started < 10  # parsing it took 34 s and 5.5 GB
    gr100 = findings["GR100"]
    assert gr100.status == "fail" and gr100.file == "resources_servers/srv/app.py"
    assert "over the 512 KiB cap for Python sources; not parsed" in gr100.message
    assert findings["GR101"].status == "skip" and findings["GR101"].skip_kind == "prerequisite_failed"


def test_python_under_the_cap_is_parsed(server_tree) -> None:
    findings = server_tree({"app.py": SERVER_TAIL + "x = 1\n" * (500 * 1024 // 6)})  # just under 512 KiB
    assert findings["GR100"].status == "pass" and findings["GR101"].status == "pass"


def test_big_test_module_is_a_gr100_failure(server_tree) -> None:
    findings = server_tree({"tests/test_more.py": "def test_x():\n    pass\n" + "x = 1\n" * (3 * 1024 * 1024 // 6)})
    assert findings["GR100"].status == "fail" and findings["GR100"].file == "resources_servers/srv/tests/test_more.py"


def test_base_class_in_a_big_module_outside_the_server_fails_gr102_naming_it(server_tree) -> None:
    big = "class Base:\n    pass\n" + "x = 1\n" * (3 * 1024 * 1024 // 6)
    app = "from shared.big import Base\n\nclass S(Base):\n    pass\n\nS.run_webserver()\n"
    findings = server_tree({"app.py": app}, checkout_files={"shared/__init__.py": "", "shared/big.py": big})
    gr102 = findings["GR102"]
    assert gr102.status == "fail" and gr102.file == "shared/big.py"
    assert "over the 512 KiB cap" in gr102.message


def test_base_class_in_a_deeply_nested_module_fails_gr102_naming_it(server_tree) -> None:
    deep = "class Base:\n    pass\n\nx = " + "+".join(["a"] * 600) + "\n"
    app = "from shared.deep import Base\n\nclass S(Base):\n    pass\n\nS.run_webserver()\n"
    findings = server_tree({"app.py": app}, checkout_files={"shared/__init__.py": "", "shared/deep.py": deep})
    assert findings["GR102"].status == "fail" and findings["GR102"].file == "shared/deep.py"
    assert "too deeply nested" in findings["GR102"].message


def test_gr102_cannot_tell_is_an_error_keyed_for_the_sandbox(server_tree) -> None:
    app = "from vendor.servers import VendorServer\n\nclass S(VendorServer):\n    pass\n\nS.run_webserver()\n"
    gr102 = server_tree({"app.py": app})["GR102"]
    assert gr102.status == "error"
    assert "cannot tell" in gr102.message and "sandbox will settle it" in gr102.message


def test_gr102_server_class_imported_from_outside_is_an_error_not_a_failure(server_tree) -> None:
    app = "from vendor.servers import VendorServer\n\nif __name__ == '__main__':\n    VendorServer.run_webserver()\n"
    gr102 = server_tree({"app.py": app})["GR102"]
    assert gr102.status == "error" and "VendorServer (from vendor.servers)" in gr102.message


def test_gr102_file_without_any_server_class_fails(server_tree) -> None:
    gr102 = server_tree({"app.py": "def helper():\n    return 1\n"})["GR102"]
    assert gr102.status == "fail" and "defines no server class" in gr102.message


# -- GR103: every entrypoint names a file inside the server ------------------------------------------


def test_repro_gr103_fails_bad_entrypoints_naming_config_and_value(server_tree) -> None:
    for value, why in [
        ("/etc/passwd", "is an absolute path"),
        ("../other_server/app.py", "leaves the server directory"),
        ("missing.py", "names no file in resources_servers/srv/"),
        (42, "is not a file name"),
        (["app.py"], "is not a file name"),
        ("", "is not a file name"),
    ]:
        gr103 = server_tree({"configs/srv.yaml": config(value)})["GR103"]
        assert gr103.status == "fail", value
        assert gr103.file == "resources_servers/srv/configs/srv.yaml"
        assert f"`srv.resources_servers.srv.entrypoint` {value!r} {why}" in gr103.message, gr103.message


def test_gr103_passes_a_relative_entrypoint_inside_the_server(server_tree) -> None:
    findings = server_tree({"configs/srv.yaml": config("./app.py")})
    assert findings["GR103"].status == "pass"


def test_entrypoint_other_than_app_py_is_what_gr101_and_gr102_read(server_tree) -> None:
    # the nemo-gym wheel's gymnasium server: `entrypoint: base.py` and no app.py
    findings = server_tree({"app.py": None, "base.py": SERVER_TAIL, "configs/srv.yaml": config("base.py")})
    assert findings["GR101"].status == "pass" and "resources_servers/srv/base.py" in findings["GR101"].message
    assert findings["GR102"].status == "pass" and findings["GR103"].status == "pass"


def test_every_entrypoint_file_is_read(server_tree) -> None:
    two = (
        config("gsm8k_app.py")[:-1] + ", "
        + json.dumps({"hypo": {"resources_servers": {"srv": {"entrypoint": "hypotest_app.py", "domain": "math"}}}})[1:]
    )  # fmt: skip
    findings = server_tree(
        {"app.py": None, "gsm8k_app.py": SERVER_TAIL, "hypotest_app.py": NO_VERIFY, "configs/srv.yaml": two}
    )
    assert findings["GR101"].status == "pass"
    gr102 = findings["GR102"]
    assert gr102.status == "fail" and gr102.file == "resources_servers/srv/hypotest_app.py"
    fixed = server_tree({"hypotest_app.py": SERVER_TAIL, "configs/srv.yaml": two})
    assert fixed["GR102"].status == "pass"


def test_app_py_is_required_when_no_config_names_a_file(server_tree) -> None:
    gr101 = server_tree({"app.py": None})["GR101"]
    assert gr101.status == "fail" and "resources_servers/srv/app.py is missing" in gr101.message


def test_entrypoint_files_are_vetted_by_gr100(server_tree) -> None:
    findings = server_tree({"server.py": b"\x00\x01binary", "configs/srv.yaml": config("server.py")})
    assert findings["GR100"].status == "fail" and findings["GR100"].file == "resources_servers/srv/server.py"
    big = {"server.py": SERVER_TAIL + "x = 1\n" * (3 * 1024 * 1024 // 6), "configs/srv.yaml": config("server.py")}
    assert "cap for Python sources" in server_tree(big)["GR100"].message


# -- trusted facts from the merge base ----------------------------------------------------------------


def _pr_widening_policy(repo: GitRepo) -> None:
    repo.write({"nemo_gym/config_types.py": TRUSTED_CONFIG_TYPES})
    repo.commit("licences")
    repo.git("checkout", "-q", "-b", "pr")
    widened = TRUSTED_CONFIG_TYPES.replace("OTHER = 'other'", "OTHER = 'other'\n    MADE_UP = 'totally_made_up'")
    widened = widened.replace("'TBD'", "'TBD', 'Proprietary-NoUse'")
    repo.write({"nemo_gym/config_types.py": widened})
    files = good_server_files("srv")
    files["configs/srv.yaml"] = files["configs/srv.yaml"].replace("knowledge", "totally_made_up")
    files["configs/srv.yaml"] = files["configs/srv.yaml"].replace("Apache 2.0", "Proprietary-NoUse")
    repo.server("srv", files)
    repo.commit("widen the policy and use it")


def test_repro_pr_cannot_widen_domains_or_licences(repo: GitRepo, tmp_path: Path) -> None:
    _pr_widening_policy(repo)
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 1, proc.stdout
    findings = by_id(report["servers"][0])
    assert findings["GR104"]["status"] == "fail" and "totally_made_up" in findings["GR104"]["message"]
    assert "at the merge base" in findings["GR104"]["message"]
    assert findings["GR113"]["status"] == "fail" and "Proprietary-NoUse" in findings["GR113"]["message"]
    assert any(
        "changes nemo_gym/config_types.py; the merge base's Domain values and licences are used" in n
        for n in report["notes"]
    )


def test_outside_pr_mode_the_checkout_is_the_trusted_side(repo: GitRepo, tmp_path: Path) -> None:
    _pr_widening_policy(repo)  # the branch `pr` is checked out: its files are the checkout
    out = tmp_path / "report.json"
    proc = run_cli("check", "--repo", str(repo.path), "--server", "srv", "--no-docker", "--json", str(out))
    findings = by_id(json.loads(out.read_text())["servers"][0])
    assert findings["GR104"]["status"] == "pass" and findings["GR113"]["status"] == "pass", proc.stdout


def test_pr_that_keeps_the_policy_gets_no_note(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", good_server_files("srv"))
    repo.commit()
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 0 and not any("config_types" in n for n in report["notes"])


# -- missing git objects ------------------------------------------------------------------------------


def _delete_object(repo: GitRepo, rev_path: str) -> str:
    oid = repo.git("rev-parse", rev_path)
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    return oid


def test_repro_missing_object_inside_the_server_is_an_error_exit_3(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("srv")
    files["README.md"] += "\nA line only this commit has.\n"
    repo.server("srv", files)
    repo.commit()
    oid = _delete_object(repo, "HEAD:resources_servers/srv/README.md")
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert report["verdict"] == "error"
    findings = by_id(report["servers"][0])
    assert findings["GR100"]["status"] == "error"
    assert "resources_servers/srv/README.md" in findings["GR100"]["message"] and oid in findings["GR100"]["message"]
    assert findings["GR109"]["status"] == "error" and oid in findings["GR109"]["message"]
    assert all(f["status"] != "fail" for f in findings.values())


def test_missing_symlink_object_inside_the_server_is_an_error_not_a_crash(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", good_server_files("srv"))
    (repo.path / "resources_servers/srv/notes_link").symlink_to("README.md")
    repo.commit()
    oid = _delete_object(repo, "HEAD:resources_servers/srv/notes_link")
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    gr100 = by_id(report["servers"][0])["GR100"]
    assert gr100["status"] == "error" and "resources_servers/srv/notes_link" in gr100["message"]
    assert oid in gr100["message"]


def test_missing_object_outside_the_server_is_ignored(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", good_server_files("srv"))
    repo.write({"docs/notes.md": "only in this commit\n"})
    repo.commit()
    _delete_object(repo, "HEAD:docs/notes.md")
    proc, report = check_pr(repo, tmp_path)
    assert proc.returncode == 0 and report["verdict"] == "pass", proc.stdout


# -- fingerprints: a new problem never hides behind an old one --------------------------------------------


def _changed_server_with_entrypoints(repo: GitRepo, base_value: str, head_value: str) -> dict:
    repo.server("srv", {**good_server_files("srv"), "configs/srv.yaml": config(base_value)})
    repo.commit("base server")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server(
        "srv", {"configs/srv.yaml": config(head_value), "README.md": good_server_files("srv")["README.md"] + "\n"}
    )
    repo.commit("change it")
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    [server] = report.servers
    assert server.status == "changed"
    return {f.id: f for f in server.findings}


def test_new_bad_entrypoint_is_not_pre_existing(repo: GitRepo) -> None:
    gr103 = _changed_server_with_entrypoints(repo, "/etc/passwd", "../other_server/app.py")["GR103"]
    assert gr103.status == "fail" and not gr103.pre_existing


def test_same_bad_entrypoint_is_pre_existing(repo: GitRepo) -> None:
    gr103 = _changed_server_with_entrypoints(repo, "missing.py", "missing.py")["GR103"]
    assert gr103.status == "fail" and gr103.pre_existing
