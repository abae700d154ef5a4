"""End to end: the real `gym-review` process on real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gym_review_bot.render.words import MARKER
from tests.conftest import GitRepo, good_server_files


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def check_pr(repo: GitRepo, base: str, tmp: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp / "report.json"
    proc = run("check", "--repo", str(repo.path), "--base", base, "--no-docker", "--json", str(out), *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(out.read_text()) if out.exists() else {}


def by_id(server: dict) -> dict[str, dict]:
    return {f["id"]: f for f in server["findings"]}


def test_pr_adding_a_good_server_passes_with_exit_0(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("good", good_server_files("good"))
    head = repo.commit("add good")
    proc, report = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert report["schema"] == 1
    assert report["head_sha"] == head
    assert report["base_sha"] == repo.git("rev-parse", "main")
    assert report["verdict"] == "pass"
    assert report["complete"] is False  # --no-docker: the sandbox was not requested
    assert report["tool_version"] and report["generated_at"].endswith("Z")
    [server] = report["servers"]
    assert (server["name"], server["path"], server["status"]) == ("good", "resources_servers/good", "added")
    findings = by_id(server)
    assert all(findings[f"GR{n}"]["status"] == "pass" for n in range(100, 115) if n != 111)
    # five example rollouts are no reward profile (issue 19): GR111 has nothing to judge
    assert (findings["GR111"]["status"], findings["GR111"]["skip_kind"]) == ("skip", "not_applicable")
    assert findings["GR207"]["status"] == "pass"  # static: it runs without the sandbox
    assert all(findings[f"GR{n}"]["status"] == "skip" for n in range(201, 207))
    assert all(findings[f"GR{n}"]["skip_kind"] == "not_requested" for n in range(201, 207))
    assert "--no-docker" in findings["GR201"]["message"]
    for f in server["findings"]:
        assert set(f) >= {"id", "severity", "status", "message", "file", "line", "locations", "pre_existing"}
        assert set(f) >= {"skip_kind", "fix", "fingerprint"} and f["fix"] and len(f["fingerprint"]) == 20


def test_pr_with_a_defect_exits_1_and_names_it(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("bad")
    files["README.md"] = "# Bad\n\n# Licensing information\nCode: ?\nData: ?\n"
    repo.server("bad", files)
    repo.commit()
    proc, report = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 1
    assert report["verdict"] == "fail"
    gr109 = by_id(report["servers"][0])["GR109"]
    assert gr109["status"] == "fail" and gr109["line"] == 4
    assert "GR109" in proc.stdout and "verdict: FAIL" in proc.stdout


def test_review_reads_the_head_commit_not_the_working_tree(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("good", good_server_files("good"))
    repo.commit()
    (repo.path / "resources_servers/good/README.md").write_text("uncommitted: no licence here\n")
    (repo.path / "resources_servers/good/app.py").unlink()
    proc, report = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 0 and report["verdict"] == "pass"


def test_head_option_reviews_another_commit(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("good", good_server_files("good"))
    first = repo.commit()
    repo.server("good", {"app.py": None})
    repo.commit("break it")
    proc, _ = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 1
    proc, report = check_pr(repo, "main", tmp_path, "--head", first)
    assert proc.returncode == 0 and report["head_sha"] == first


def test_merge_base_is_used_not_the_base_tip(repo: GitRepo, tmp_path: Path) -> None:
    """A server added on main after the PR branched is not part of the PR."""
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("mine", good_server_files("mine"))
    repo.commit()
    repo.git("checkout", "-q", "main")
    repo.server("theirs", good_server_files("theirs"))
    repo.commit()
    repo.git("checkout", "-q", "pr")
    _, report = check_pr(repo, "main", tmp_path)
    assert [s["name"] for s in report["servers"]] == ["mine"]


def test_changed_removed_outside_and_library_directories(repo: GitRepo, tmp_path: Path) -> None:
    repo.server("old", good_server_files("old"))
    repo.server("gone", good_server_files("gone"))
    repo.commit("two servers on main")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("old", {"README.md": good_server_files("old")["README.md"] + "\nMore docs.\n"})
    repo.git("rm", "-q", "-r", "resources_servers/gone")
    repo.write({"resources_servers/base_lib/__init__.py": "X = 1\n", "docs/guide.md": "# guide\n"})
    repo.commit()
    proc, report = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 0
    status = {s["name"]: s["status"] for s in report["servers"]}
    assert status == {"gone": "removed", "old": "changed"}
    assert by_id(report["servers"][0]) == {}  # removed: reported, not checked
    notes = " ".join(report["notes"])
    assert "docs/guide.md" in notes
    assert "base_lib has neither app.py nor configs/" in notes
    assert "gone is removed" in notes


def test_failure_the_base_already_had_is_pre_existing(repo: GitRepo, tmp_path: Path) -> None:
    files = good_server_files("legacy")
    files["README.md"] = "# Legacy\n\nNo licence section.\n"
    repo.server("legacy", files)
    repo.commit("legacy server with an old debt")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("legacy", {"README.md": "# Legacy\n\nTypo fixed. Still no licence section.\n"})
    repo.commit("typo")
    proc, report = check_pr(repo, "main", tmp_path)
    gr109 = by_id(report["servers"][0])["GR109"]
    assert gr109["status"] == "fail" and gr109["pre_existing"] is True
    assert proc.returncode == 0 and report["verdict"] == "pass"
    assert report["summary"]["pre_existing"] == 2  # GR109, and GR119 (the README names no start command)
    # ...but a new failure in the same PR blocks
    repo.server("legacy", {"tests/test_app.py": "def helper():\n    pass\n"})
    repo.commit("drop the tests")
    proc, report = check_pr(repo, "main", tmp_path)
    assert proc.returncode == 1
    gr105 = by_id(report["servers"][0])["GR105"]
    assert gr105["status"] == "fail" and gr105["pre_existing"] is False


def test_all_and_server_need_no_git(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    for name in ("one", "two"):
        for rel, text in good_server_files(name).items():
            (root / "resources_servers" / name / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "resources_servers" / name / rel).write_text(text)
    (root / "resources_servers/shared").mkdir()
    out = tmp_path / "r.json"
    proc = run("check", "--repo", str(root), "--all", "--json", str(out))
    report = json.loads(out.read_text())
    assert proc.returncode == 0, proc.stderr
    assert report["head_sha"] is None and report["base_sha"] is None
    assert [(s["name"], s["status"]) for s in report["servers"]] == [("one", "checked"), ("two", "checked")]
    assert any("shared has neither" in n for n in report["notes"])
    proc = run("check", "--repo", str(root), "--server", "two", "--json", str(out))
    assert [s["name"] for s in json.loads(out.read_text())["servers"]] == ["two"]


def test_usage_errors_exit_2_with_one_line_and_no_traceback(repo: GitRepo, tmp_path: Path) -> None:
    cases = [
        ("check", "--repo", str(tmp_path / "missing"), "--base", "main"),
        ("check", "--repo", str(tmp_path), "--base", "main"),  # not a git repo
        ("check", "--repo", str(repo.path), "--base", "no-such-branch"),
        ("check", "--repo", str(repo.path), "--base", "main", "--head", "deadbeef"),
        ("check", "--repo", str(repo.path), "--server", "nope"),
        ("check", "--repo", str(repo.path), "--server", "../../etc"),
        ("check", "--repo", str(repo.path), "--all", "--max-file-mb", "0"),
    ]
    for args in cases:
        proc = run(*args, "--no-docker")
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gym-review: error:"), proc.stderr
    proc = run("check", "--repo", str(repo.path))  # argparse: a scope is required
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_shallow_clone_without_merge_base_exits_2_with_hint(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("second on main")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("good", good_server_files("good"))
    repo.commit()
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "pr", f"file://{repo.path}", str(clone)],
        check=True,
    )
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "--depth", "1", "origin", "main:main"], check=True)
    proc = run("check", "--repo", str(clone), "--base", "main", "--no-docker")
    assert proc.returncode == 2
    assert "shallow" in proc.stderr and "fetch-depth: 0" in proc.stderr


def test_markdown_output_is_escaped_and_marked(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("evil")
    files["configs/evil.yaml"] = files["configs/evil.yaml"].replace(
        "domain: knowledge", 'domain: "<img src=x onerror=alert(1)> @octocat --> [x](http://t)"'
    )
    repo.server("evil", files)
    head = repo.commit()
    md = tmp_path / "comment.md"
    proc, _ = check_pr(repo, "main", tmp_path, "--markdown", str(md))
    text = md.read_text()
    assert text.startswith(MARKER + "\n")
    assert f"gym-review 0.1.0 at {head[:7]} ·" in text  # the footer names the commit reviewed
    assert "<img" not in text and "&lt;img" in text
    assert "@octocat" not in text
    assert text.count("-->") == 1  # only the marker comment closes
    assert "[x](http" not in text
    assert "❌" in text and "GR104" in text and "<details>" in text


def test_demo_runs_and_shows_both_servers(tmp_path: Path) -> None:
    out, md = tmp_path / "demo.json", tmp_path / "demo.md"
    proc = run("demo", "--json", str(out), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    servers = {s["name"]: s for s in report["servers"]}
    assert set(servers) == {"trivia_match", "word_count"}
    assert report["verdict"] == "fail"
    good = by_id(servers["trivia_match"])
    assert all(good[f"GR{n}"]["status"] == "pass" for n in range(100, 115) if n not in (111, 113))
    bad = by_id(servers["word_count"])
    failing = {i for i, f in bad.items() if f["status"] == "fail"}
    # one failure in each family: files, app, config, tests, data, requirements, readme; and warnings
    assert {"GR100", "GR102", "GR104", "GR105", "GR106", "GR108", "GR109"} <= failing
    assert any(bad[i]["severity"] == "warning" for i in failing)
    assert "verdict: FAIL" in proc.stdout
    assert servers["word_count"]["path"] == "resources_servers/word_count"  # repo-relative


BODY_NAMING_NO_SERVER = """## Environment
Two trivia environments where the model answers questions.

## Verification logic
verify() compares the answer with the reference; 1 when equal, else 0.

## Prompts / tasks
Collected from a public trivia dataset; domain: knowledge.

## Licensing
Data: CC BY 4.0. Code: Apache 2.0 software.

## Reward profiling
Profiled 500 prompts with Qwen3-4B, 16 responses per prompt; mean reward 0.5.
"""


def two_server_pr(repo: GitRepo) -> None:
    repo.write({"resources_servers/old/app.py": "x = 1\n"})
    repo.server("kept", good_server_files("kept"))
    repo.commit("a server on main")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("one", good_server_files("one"))
    repo.server("two", good_server_files("two"))
    repo.write({"resources_servers/kept/README.md": "# kept\nchanged\n"})
    repo.commit("add one and two, change kept")


def test_pr_mode_for_one_server_keeps_the_pr_semantics(repo: GitRepo, tmp_path: Path) -> None:
    two_server_pr(repo)
    (tmp_path / "body.md").write_text(BODY_NAMING_NO_SERVER)
    proc, report = check_pr(repo, "main", tmp_path, "--server", "one", "--pr-body", str(tmp_path / "body.md"))
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert [(s["name"], s["status"]) for s in report["servers"]] == [("one", "added")]
    assert report["base_sha"] == repo.git("rev-parse", "main").strip()  # PR mode: the merge base
    assert {f["id"] for f in report["pr"]["findings"]} >= {"GR301", "GR302", "GR303", "GR304"}
    assert any("also touches kept, two" in n for n in report["notes"])
    # the PR adds two servers: a body that names neither counts for none, also in a one-server job
    gr401 = by_id(report["servers"][0])["GR401"]
    assert gr401["status"] != "pass" and "name" in gr401["message"].lower(), gr401
    # a changed server keeps its PR semantics too: not asked for evidence
    proc, report = check_pr(repo, "main", tmp_path, "--server", "kept")
    assert [(s["name"], s["status"]) for s in report["servers"]] == [("kept", "changed")]
    assert not [f for f in report["servers"][0]["findings"] if f["id"].startswith("GR4")]


def test_pr_mode_for_a_server_the_pr_does_not_touch_exits_2_naming_it(repo: GitRepo, tmp_path: Path) -> None:
    two_server_pr(repo)
    for args in (("--server", "nope"), ("--server", "one", "--server", "absent"), ("--server", "../etc")):
        proc, report = check_pr(repo, "main", tmp_path, *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and args[-1] in lines[0], proc.stderr
        assert report == {}
    proc = run("check", "--repo", str(repo.path), "--all", "--server", "one", "--no-docker")
    assert proc.returncode == 2 and "--all cannot be combined" in proc.stderr


def test_the_matrix_path_plan_check_per_server_merge_reports(repo: GitRepo, tmp_path: Path) -> None:
    two_server_pr(repo)
    (tmp_path / "body.md").write_text(BODY_NAMING_NO_SERVER)
    assert (
        run("plan", "--repo", str(repo.path), "--base", "main", "--output", str(tmp_path / "plan.json")).returncode == 0
    )
    servers = json.loads((tmp_path / "plan.json").read_text())["servers"]
    assert servers == ["kept", "one", "two"]
    parts = []
    for name in servers:
        out = tmp_path / f"{name}.json"
        args = ("--base", "main", "--server", name, "--no-docker", "--pr-body", str(tmp_path / "body.md"))
        run("check", "--repo", str(repo.path), *args, "--json", str(out))
        parts.append(str(out))
    joined = tmp_path / "joined.json"
    proc = run("merge-reports", "--plan", str(tmp_path / "plan.json"), "--json", str(joined), *parts)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(joined.read_text())
    assert [s["name"] for s in report["servers"]] == servers
    assert report["pr"] is not None and {f["id"] for f in report["pr"]["findings"]} >= {"GR301", "GR304"}
    assert not any("reviewed here" in n for n in report["notes"])
