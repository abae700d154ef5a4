"""Hostile or broken input from a PR gives findings, never a crash, a hang or a memory blow-up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE_FIXTURE, GitRepo, good_server_files, write_tree

BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
)
# Measures the CLI's own peak memory: a fresh interpreter that runs it in-process.
# VmHWM, not getrusage's ru_maxrss: Linux carries the forking parent's RSS into the child's
# ru_maxrss across exec, so a child forked from a big pytest process would report pytest's size.
PEAK_RSS = (
    "import sys\n"
    "from gym_review_bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
    "print('PEAK_KB', hwm)\n"
    "sys.exit(code)\n"
)


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    peak = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("PEAK_KB")]
    assert peak, proc.stdout + proc.stderr
    return proc, peak[0] // 1024


def review_json(repo: Path, tmp_path: Path, *scope: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the CLI on a checkout with --no-docker; its process and its JSON report."""
    out = tmp_path / "review.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gym_review_bot",
            "check",
            "--repo",
            str(repo),
            *scope,
            "--no-docker",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(out.read_text(encoding="utf-8"))


def baseline_mb(tmp_path: Path) -> int:
    root = tmp_path / "baseline"
    shutil.copytree(BASE_FIXTURE, root)
    write_tree(root / "resources_servers/srv", dict(good_server_files("srv")))
    return run_measured("check", "--repo", str(root), "--server", "srv", "--no-docker")[1]


def test_one_gigabyte_example_file_is_reported_without_being_read(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(BASE_FIXTURE, root)
    write_tree(root / "resources_servers/srv", dict(good_server_files("srv")))
    big = root / "resources_servers/srv/data/example.jsonl"
    with open(big, "wb") as fh:  # sparse: 1 GiB on paper, nothing on disk
        fh.truncate(1024**3)
    out = tmp_path / "r.json"
    proc, peak = run_measured("check", "--repo", str(root), "--server", "srv", "--no-docker", "--json", str(out))
    findings = {f["id"]: f for f in json.loads(out.read_text())["servers"][0]["findings"]}
    assert proc.returncode == 1
    assert findings["GR100"]["status"] == "fail" and "1,024.0 MB, over the 50 MB cap" in findings["GR100"]["message"]
    assert findings["GR106"]["status"] == "skip"
    assert peak < baseline_mb(tmp_path) + 40, f"peak RSS {peak} MB: the file was read"


def test_big_file_in_a_git_tree_is_streamed_not_loaded(tmp_path: Path) -> None:
    """Under the cap a large example file is streamed line by line from git, not loaded whole."""
    repo = GitRepo(tmp_path / "repo")
    shutil.copytree(BASE_FIXTURE, repo.path, dirs_exist_ok=True)
    base = repo.commit("base")
    files = good_server_files("srv")
    row = files["data/example.jsonl"].splitlines()[0]
    line_count = (120 * 1024 * 1024) // (len(row) + 1)
    files["data/example.jsonl"] = None
    repo.server("srv", files)
    with open(repo.path / "resources_servers/srv/data/example.jsonl", "w") as fh:
        for _ in range(line_count):
            fh.write(row + "\n")
    repo.commit("huge examples")
    out = tmp_path / "r.json"
    proc, peak = run_measured(
        "check",
        "--repo",
        str(repo.path),
        "--base",
        base,
        "--no-docker",
        "--max-file-mb",
        "200",
        "--json",
        str(out),
    )
    findings = {f["id"]: f for f in json.loads(out.read_text())["servers"][0]["findings"]}
    assert findings["GR106"]["status"] == "pass" and f"{line_count} well-formed rows" in findings["GR106"]["message"]
    assert peak < 120, f"peak RSS {peak} MB for a 120 MB file: it was loaded whole"


def test_yaml_alias_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(BASE_FIXTURE, root)
    write_tree(root / "resources_servers/srv", {**good_server_files("srv"), "configs/bomb.yaml": BILLION_LAUGHS})
    out = tmp_path / "r.json"
    proc, peak = run_measured("check", "--repo", str(root), "--server", "srv", "--no-docker", "--json", str(out))
    findings = {f["id"]: f for f in json.loads(out.read_text())["servers"][0]["findings"]}
    assert findings["GR103"]["status"] == "fail"
    assert "bomb.yaml: YAML expands to more than 100,000 nodes" in findings["GR103"]["message"]
    assert peak < baseline_mb(tmp_path) + 40


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('srv: !!python/object/apply:os.system ["touch /tmp/gym-review-pwned"]\n', "YAML error"),
        ("srv: &x [*x]\n", "No config defines an entry"),  # a cycle: loaded, harmless
        ("- just\n- a list\n", "not a mapping"),
        ("", "No config defines an entry"),
        ("srv:\n  resources_servers:\n    srv: {entrypoint: app.py, domain: math}\n  bad: [\n", "YAML error"),
    ],
)
def test_hostile_or_odd_yaml(server_tree, config: str, expected: str) -> None:
    findings = server_tree({"configs/srv.yaml": config})
    assert findings["GR103"].status == "fail"
    assert expected in findings["GR103"].message
    assert not os.path.exists("/tmp/gym-review-pwned")


def test_deeply_nested_json_is_a_bad_line(server_tree) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    examples = good_server_files("srv")["data/example.jsonl"].splitlines()
    findings = server_tree({"data/example.jsonl": "\n".join([*examples, deep]) + "\n"})
    assert findings["GR106"].status == "fail" and findings["GR106"].line == 6
    assert "nested more than" in findings["GR106"].message


def test_deeply_nested_python_and_yaml_do_not_crash(server_tree) -> None:
    app = "x = " + "(" * 5000 + ")" * 5000 + "\n"
    config = "srv: " + "[" * 5000 + "]" * 5000 + "\n"
    findings = server_tree({"app.py": app, "configs/srv.yaml": config})
    assert findings["GR101"].status == "fail"
    assert findings["GR103"].status == "fail"


def test_empty_files_are_findings(server_tree) -> None:
    empty = {
        rel: ""
        for rel in (
            "app.py",
            "tests/test_app.py",
            "data/example.jsonl",
            "data/example_rollouts.jsonl",
            "README.md",
            "configs/srv.yaml",
        )
    }
    findings = server_tree(empty)
    assert findings["GR101"].status == "pass"  # an empty module parses...
    assert findings["GR102"].status == "fail"  # ...but has no server class
    for check in ("GR103", "GR105", "GR106", "GR107", "GR109"):
        assert findings[check].status == "fail", check


def test_bom_and_crlf_are_accepted(server_tree) -> None:
    files = good_server_files("srv")
    crlf = {rel: "\ufeff" + text.replace("\n", "\r\n") for rel, text in files.items() if rel != "app.py"}
    findings = server_tree(crlf)
    assert {i: f.status for i, f in findings.items() if f.status == "fail"} == {}


def test_symlinked_directory_out_of_the_tree_is_not_followed(server_tree, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "example.jsonl").write_text("{}\n")
    server_tree()
    data = tmp_path / "checkout/resources_servers/srv/data"
    shutil.rmtree(data)
    os.symlink(outside, data)
    from tests.conftest import check_local

    findings = check_local(tmp_path / "checkout", "srv")
    assert findings["GR100"].status == "fail"
    assert "resources_servers/srv/data is a symlink" in findings["GR100"].message
    assert findings["GR106"].status == "skip"


def test_symlink_out_of_the_tree_in_a_git_commit(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("srv")
    files["README.md"] = None
    repo.server("srv", files)
    os.symlink("/etc/passwd", repo.path / "resources_servers/srv/README.md")
    repo.commit()
    proc, report = review_json(repo.path, tmp_path, "--base", "main")
    findings = {f["id"]: f for f in report["servers"][0]["findings"]}
    assert proc.returncode == 1
    assert "symlink to '/etc/passwd'" in findings["GR100"]["message"]
    assert findings["GR109"]["status"] == "skip"


def test_no_temp_files_left_behind(tmp_path: Path) -> None:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "demo", "--quiet"], env=env, check=True, capture_output=True
    )
    assert list(tmp.iterdir()) == []


def test_ordinary_anchors_and_aliases_still_load(server_tree) -> None:
    config = (
        "defaults: &defaults\n  entrypoint: app.py\n  domain: math\n"
        "srv:\n  resources_servers:\n    srv:\n      <<: *defaults\n      description: merged\n"
    )
    assert server_tree({"configs/srv.yaml": config})["GR103"].status == "pass"


def test_file_names_that_are_not_utf8(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", good_server_files("srv"))
    raw = bytes(repo.path) + b"/resources_servers/srv/data/\xff\xfe.jsonl"
    with open(raw, "wb") as fh:
        fh.write(b"{}\n")
    with open(bytes(repo.path) + b"/notes-\xff.md", "wb") as fh:
        fh.write(b"x\n")
    repo.commit()
    for scope in (["--base", "main"], ["--all"]):
        proc, report = review_json(repo.path, tmp_path, *scope)
        assert proc.returncode == 0, proc.stderr
        assert [s["name"] for s in report["servers"]] == ["srv"]
        if scope[0] == "--base":
            assert "notes-\ufffd.md" in " ".join(report["notes"])
