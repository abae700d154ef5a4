"""docs/nemo-gym.gym-review.yaml on the nemo-gym 0.4.0 wheel: PR mode adding a server, and --all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from corpus import CorpusUnavailable, corpus_root  # noqa: E402

pytestmark = pytest.mark.corpus

ROOT = Path(__file__).parent.parent
EXPECTED = yaml.safe_load(Path(__file__).with_name("policy_corpus_expectations.yaml").read_text(encoding="utf-8"))
CORPUS_EXPECTED = yaml.safe_load(Path(__file__).with_name("corpus_expectations.yaml").read_text(encoding="utf-8"))
CONFIG = ROOT / EXPECTED["config"]
ADDED = sorted(EXPECTED["pr"])


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Corpus Author",
        "GIT_AUTHOR_EMAIL": "corpus@example.invalid",
        "GIT_COMMITTER_NAME": "Corpus Author",
        "GIT_COMMITTER_EMAIL": "corpus@example.invalid",
    }
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def _cli(*args: str, cwd: Path) -> dict[str, Any]:
    out = cwd / f"report-{len(list(cwd.glob('report-*.json')))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", *args, "--no-docker", "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gym_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository: main holds the wheel's tree without the servers under test, plus the config."""
    try:
        corpus = corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot download the nemo-gym 0.4.0 wheel (offline?): {exc}")
    repo = tmp_path_factory.mktemp("policy-corpus") / "gym"
    shutil.copytree(corpus, repo, symlinks=True, ignore=shutil.ignore_patterns("*.dist-info"))
    shutil.copy2(CONFIG, repo / ".gym-review.yaml")
    held_back = repo.parent / "held_back"
    for name in ADDED:
        shutil.move(repo / "resources_servers" / name, held_back / name)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all", "--force")  # the wheel ships files its .gitignore lists
    _git(repo, "commit", "--quiet", "--no-verify", "-m", "base: the wheel's tree and NeMo Gym's rules")
    for name in ADDED:
        _git(repo, "checkout", "--quiet", "-b", f"add-{name}", "main")
        shutil.copytree(held_back / name, repo / "resources_servers" / name, symlinks=True)
        _git(repo, "add", "--all", "--force")  # the wheel ships files its .gitignore lists
        sign = ["--signoff"] if EXPECTED["pr"][name]["signed_off"] else []
        _git(repo, "commit", "--quiet", "--no-verify", *sign, "-m", f"Add {name}")
    _git(repo, "checkout", "--quiet", "main")
    for name in ADDED:  # the working tree holds every server, for --all
        shutil.copytree(held_back / name, repo / "resources_servers" / name, symlinks=True, dirs_exist_ok=True)
    return repo


def _failing(server: dict[str, Any]) -> tuple[set[str], set[str]]:
    errors = {f["id"] for f in server["findings"] if f["status"] == "fail" and f["severity"] == "error"}
    warnings = {f["id"] for f in server["findings"] if f["status"] == "fail" and f["severity"] == "warning"}
    return errors, warnings


@pytest.mark.parametrize("name", ADDED)
def test_pr_adding_a_wheel_server_under_nemo_gyms_rules(gym_repo: Path, name: str, tmp_path: Path) -> None:
    want = EXPECTED["pr"][name]
    report = _cli("--repo", str(gym_repo), "--base", "main", "--head", f"add-{name}", cwd=tmp_path)
    blob = _git(gym_repo, "rev-parse", "main:.gym-review.yaml")
    assert report["policy"] == {"source": "file", "path": ".gym-review.yaml", "blob_sha": blob}
    [server] = report["servers"]
    assert (server["name"], server["status"]) == (name, "added")
    # GR120 (the commits) is a check of the PR itself: it is in report.pr, once per PR
    server = {**server, "findings": server["findings"] + [f for f in report["pr"]["findings"] if f["id"] == "GR120"]}
    errors, warnings = _failing(server)
    assert (sorted(errors), sorted(warnings)) == (want["errors"], want["warnings"]), [
        f["message"] for f in server["findings"] if f["status"] == "fail"
    ]
    by_id = {f["id"]: f for f in server["findings"]}
    assert {i for i in want["passes"] if by_id[i]["status"] != "pass"} == set()
    assert report["verdict"] == want["verdict"]


def test_all_over_the_wheel_under_nemo_gyms_rules(gym_repo: Path, tmp_path: Path) -> None:
    report = _cli("--repo", str(gym_repo), "--all", cwd=tmp_path)
    assert report["policy"]["source"] == "file"
    servers = {s["name"]: s for s in report["servers"]}
    expected_servers = {n for n, e in CORPUS_EXPECTED["servers"].items() if not e.get("not_a_server")}
    assert set(servers) == expected_servers
    wrong = []
    for name, server in sorted(servers.items()):
        by_id = {f["id"]: f for f in server["findings"]}
        for check_id in EXPECTED["all"]["not_applicable"]:
            if (by_id[check_id]["status"], by_id[check_id]["skip_kind"]) != ("skip", "not_applicable"):
                wrong.append(f"{name}: {check_id} {by_id[check_id]['status']}: {by_id[check_id]['message'][:200]}")
        for check_id in EXPECTED["all"]["pass_everywhere"]:
            if by_id[check_id]["status"] != "pass":
                wrong.append(f"{name}: {check_id} {by_id[check_id]['status']}: {by_id[check_id]['message'][:200]}")
        gr119_expected = "GR119" in (CORPUS_EXPECTED["servers"][name].get("warnings") or [])
        if (by_id["GR119"]["status"] == "fail") != gr119_expected:
            wrong.append(f"{name}: GR119 {by_id['GR119']['status']}: {by_id['GR119']['message'][:200]}")
    assert not wrong, "\n".join(wrong)
