"""The review on the real servers of the nemo-gym 0.4.0 wheel: it never crashes, and it fails what it should.

tests/corpus_expectations.yaml lists, for every server of the wheel, the error- and warning-level
ids a careful reader of the server's files expects to fail, with the reason. An entry whose
`tool_disagrees` is set records a known defect of a check: its per-server test is a strict xfail
(it turns red when the check is fixed, so the marker gets removed) and the whole-corpus test reports
it without failing, while holding the tool to `tool_reports` (what it reported when the defect
was recorded).
"""

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
from corpus import CorpusUnavailable, corpus_root, server_dirs  # noqa: E402

pytestmark = pytest.mark.corpus

EXPECTATIONS = Path(__file__).with_name("corpus_expectations.yaml")
CLI_TIMEOUT_S = 300


def _load_expectations() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(EXPECTATIONS.read_text(encoding="utf-8"))["servers"]


EXPECTED = _load_expectations()
SERVERS = sorted(name for name, entry in EXPECTED.items() if not entry.get("not_a_server"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    try:
        return corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot download the nemo-gym 0.4.0 wheel (offline?): {exc}")


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=CLI_TIMEOUT_S,
    )


def _assert_clean_exit(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (
        f"gym-review exited {done.returncode}; stderr:\n{done.stderr[-4000:]}"
    )


@pytest.fixture(scope="session")
def all_report(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of one `check --all --no-docker` over the whole wheel."""
    out = tmp_path_factory.mktemp("corpus") / "report.json"
    done = _run_cli("--repo", str(corpus), "--all", "--no-docker", "--json", str(out), cwd=out.parent)
    _assert_clean_exit(done)
    return json.loads(out.read_text(encoding="utf-8"))


def failing_ids(server: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(error-level ids, warning-level ids) of the findings that fail."""
    errors, warnings = set(), set()
    for finding in server["findings"]:
        if finding["status"] == "fail":
            (errors if finding["severity"] == "error" else warnings).add(finding["id"])
    return errors, warnings


def _differences(name: str, server: dict[str, Any] | None, expected: dict[str, Any] | None = None) -> list[str]:
    """One line per id where the report and the expectations (by default, the reading) differ."""
    entry = EXPECTED[name]
    want_ids = expected if expected is not None else entry
    if server is None:
        return [f"{name}: not in the report (expected as a server)"]
    got_errors, got_warnings = failing_ids(server)
    lines = []
    for level, got, want in (
        ("error", got_errors, set(want_ids.get("errors") or [])),
        ("warning", got_warnings, set(want_ids.get("warnings") or [])),
    ):
        for gid in sorted(got - want):
            message = next(f["message"] for f in server["findings"] if f["id"] == gid)
            lines.append(f"{name}: {gid} ({level}) fails but is not expected: {message[:200]}")
        for gid in sorted(want - got):
            reason = (entry.get("reasons") or {}).get(gid, "no reason recorded")
            lines.append(f"{name}: {gid} ({level}) expected to fail but does not; expected because: {reason}")
    return lines


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in report["servers"]}


def test_expectations_cover_every_server_of_the_wheel(corpus: Path) -> None:
    on_disk = set(server_dirs(corpus))
    listed = set(EXPECTED)
    assert on_disk == listed, (
        f"in the wheel but not in {EXPECTATIONS.name}: {sorted(on_disk - listed)}; "
        f"in {EXPECTATIONS.name} but not in the wheel: {sorted(listed - on_disk)}"
    )


def test_every_expectation_has_a_reason() -> None:
    missing = [
        f"{name}: {gid}"
        for name in SERVERS
        for gid in [*(EXPECTED[name].get("errors") or []), *(EXPECTED[name].get("warnings") or [])]
        if not (EXPECTED[name].get("reasons") or {}).get(gid)
    ]
    assert not missing, "expected failures without a reason:\n" + "\n".join(missing)


def test_all_reports_every_server_and_only_servers(all_report: dict[str, Any]) -> None:
    reported = set(_by_name(all_report))
    assert reported == set(SERVERS), (
        f"reported but not expected as servers: {sorted(reported - set(SERVERS))}; "
        f"expected but not reported: {sorted(set(SERVERS) - reported)}"
    )


def test_corpus_matches_expectations(all_report: dict[str, Any]) -> None:
    """One assertion over the whole corpus, listing every difference.

    A server with `tool_disagrees` is held to `tool_reports` (what the tool reported when the
    defect was recorded), so that any other change on it still shows; the disagreement itself is printed.
    """
    servers = _by_name(all_report)
    known, unexpected = [], []
    for name in SERVERS:
        entry = EXPECTED[name]
        if entry.get("tool_disagrees"):
            known += _differences(name, servers.get(name))
            drift = _differences(name, servers.get(name), entry["tool_reports"])
            unexpected += [f"{line} [vs tool_reports; if the check was fixed, drop tool_disagrees]" for line in drift]
        else:
            unexpected += _differences(name, servers.get(name))
    if known:
        print("Known check defects (tool_disagrees in the expectations):\n" + "\n".join(known))
    listing = "\n".join(unexpected)
    assert not unexpected, f"{len(unexpected)} difference(s) from {EXPECTATIONS.name}:\n{listing}"


def _server_param(name: str) -> Any:
    disagreement = EXPECTED[name].get("tool_disagrees")
    marks = [pytest.mark.xfail(reason=f"check defect: {disagreement}", strict=True)] if disagreement else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_server_param(n) for n in SERVERS])
def test_server_matches_expectations(all_report: dict[str, Any], name: str) -> None:
    diffs = _differences(name, _by_name(all_report).get(name))
    assert not diffs, "\n".join(diffs)


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "corpus",
        "GIT_AUTHOR_EMAIL": "corpus@example.invalid",
        "GIT_COMMITTER_NAME": "corpus",
        "GIT_COMMITTER_EMAIL": "corpus@example.invalid",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def test_pr_adding_every_server_reviews_without_crashing(corpus: Path, tmp_path: Path) -> None:
    repo = tmp_path / "gym"
    (repo / "nemo_gym").mkdir(parents=True)
    shutil.copy2(corpus / "nemo_gym" / "config_types.py", repo / "nemo_gym" / "config_types.py")
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--no-verify", "-m", "base")
    shutil.copytree(corpus / "resources_servers", repo / "resources_servers", symlinks=True)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--no-verify", "-m", "add every server")
    out = tmp_path / "report.json"
    done = _run_cli("--repo", str(repo), "--base", "main~1", "--no-docker", "--json", str(out), cwd=tmp_path)
    _assert_clean_exit(done)
    report = json.loads(out.read_text(encoding="utf-8"))
    statuses = {s["name"]: s["status"] for s in report["servers"]}
    assert set(statuses) == set(SERVERS), (
        f"missing from the PR report: {sorted(set(SERVERS) - set(statuses))}; "
        f"unexpected: {sorted(set(statuses) - set(SERVERS))}"
    )
    not_added = {n: s for n, s in statuses.items() if s != "added"}
    assert not not_added, f"servers not reported as added: {not_added}"
