"""The registry audit without Docker: keys and resume, shards, merge, delta, exit codes, REVERIFY_MODE."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from gym_review_bot.audit.models import Shard
from gym_review_bot.audit.shard import MAX_SHARDS, parse_shard, shard_count, share
from gym_review_bot.audit.treehash import tree_hash
from gym_review_bot.cli import main
from tests.audit_support import (
    UNKNOWN_BASE_APP,
    audit,
    entry,
    html_section,
    newly_failing,
    registry,
    section,
)

ROOT = Path(__file__).resolve().parent.parent


# --- what a result depends on ---------------------------------------------------------------------


def test_tree_hash_is_gits_tree_id(tmp_path):
    repo = registry(tmp_path, ("alpha",))
    tool = repo.path / "resources_servers/alpha/tools/run.sh"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    (repo.path / "resources_servers/alpha/data/link.jsonl").symlink_to("example.jsonl")
    repo.commit("exec bit and a link")
    for rel in ("resources_servers/alpha", "nemo_gym", "resources_servers"):
        assert tree_hash(repo.path, rel) == repo.git("rev-parse", f"HEAD:{rel}")
    (repo.path / "resources_servers/alpha/README.md").write_text("changed\n")
    assert tree_hash(repo.path, "resources_servers/alpha") != repo.git("rev-parse", "HEAD:resources_servers/alpha")
    assert tree_hash(repo.path, "no_such_dir") is None


# --- shards ----------------------------------------------------------------------------------------


def test_shards_cover_every_server_once_and_differ_by_at_most_one():
    names = [f"server_{i:03d}" for i in range(114)]
    for count in (1, 3, 16, 64, 114, 200):
        parts = [share(list(reversed(names)), Shard(index=k, count=count)) for k in range(1, count + 1)]
        flat = [n for part in parts for n in part]
        assert sorted(flat) == names and len(flat) == len(set(flat))
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "1/257", "a/b", "3", "-1/2"])
def test_bad_shard_values_are_usage_errors(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["audit", "--repo", str(tmp_path), "--json", str(tmp_path / "a.json"), f"--shard={text}"])
    assert stop.value.code == 2 and "--shard" in capsys.readouterr().err


def test_shard_count_stays_within_githubs_matrix_limit():
    assert parse_shard("256/256").count == MAX_SHARDS
    assert shard_count(1000, 999) == 256 and shard_count(3, 16) == 3 and shard_count(0, 16) == 1


# --- a whole audit, exit codes ---------------------------------------------------------------------


def test_a_clean_registry_passes_with_exit_0_and_a_valid_report(tmp_path):
    repo = registry(tmp_path)
    code, report, markdown, html = audit(repo.path, tmp_path / "out")
    assert code == 0 and report["verdict"] == "pass" and report["finished"]
    assert [s["name"] for s in report["servers"]] == ["alpha", "beta", "gamma"]
    first = entry(report, "alpha")
    assert first["keys"]["server_tree"] == repo.git("rev-parse", "HEAD:resources_servers/alpha")
    assert first["keys"]["nemo_gym_tree"] == repo.git("rev-parse", "HEAD:nemo_gym")
    assert first["verified_commit"] == report["commit"] == repo.git("rev-parse", "HEAD")
    assert first["replay"]["mode"] == "not_run" and not first["complete"]  # --no-docker: sandbox not requested
    assert {c["id"] for c in first["checks"]} >= {"GR101", "GR203"}
    schema = json.loads((ROOT / "schema/audit-1.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert "0 failing, 0 not judged, 3 passing" in markdown and "Registry health" in html
    assert report["delta"] is None and "Since the previous audit" not in markdown


def test_a_failing_server_exits_1_and_one_that_cannot_be_judged_exits_3(tmp_path):
    repo = registry(tmp_path)
    repo.write({"resources_servers/beta/README.md": "# beta\n"})  # no licence: GR109 fails
    code, report, _, _ = audit(repo.path, tmp_path / "fail")
    assert code == 1 and report["verdict"] == "fail" and entry(report, "beta")["failing"] == ["GR109"]
    repo.write({"resources_servers/beta/README.md": "# beta\n\nLicense: Apache-2.0\n"})
    repo.write({"resources_servers/gamma/app.py": UNKNOWN_BASE_APP})
    code, report, _, _ = audit(repo.path, tmp_path / "error")
    assert code == 3 and report["verdict"] == "error"
    assert entry(report, "gamma")["verdict"] == "error" and "GR102" in entry(report, "gamma")["not_run"]


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["audit", "--repo", str(tmp_path / "nope"), "--json", str(tmp_path / "a.json")]) == 2
    repo = registry(tmp_path)
    assert main(["audit", "--repo", str(repo.path), "--json", str(tmp_path / "a.json"), "--server", "zeta"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    args = ["audit", "--repo", str(repo.path), "--json", str(tmp_path / "a.json"), "--previous", str(bad)]
    assert main(args) == 2
    assert "--previous" in capsys.readouterr().err
    assert main(["audit", "--repo", str(repo.path), "--json", str(tmp_path / "no/such/dir/a.json")]) == 2
    assert "--json" in capsys.readouterr().err


# --- resume ----------------------------------------------------------------------------------------


def test_resume_runs_only_the_changed_server(tmp_path):
    repo = registry(tmp_path)
    _, first, _, _ = audit(repo.path, tmp_path / "one")
    repo.write({"resources_servers/beta/README.md": "# beta\n\nLicense: MIT\n"})
    repo.commit("beta's README")
    _, second, _, _ = audit(repo.path, tmp_path / "two", previous=tmp_path / "one/audit.json")
    assert [s["name"] for s in second["servers"] if not s["carried"]] == ["beta"]
    assert entry(second, "beta")["reason"] == "the server's files changed"
    carried = entry(second, "alpha")
    assert carried["verified_at"] == entry(first, "alpha")["verified_at"]
    assert carried["verified_commit"] == entry(first, "alpha")["verified_commit"] != second["commit"]
    assert second["summary"]["carried"] == 2 and second["summary"]["run"] == 1


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"nemo_gym/config_types.py": "# changed\n"}, "nemo_gym/ changed"),
        ({".gym-review.yaml": "rules: {}\n"}, ".gym-review.yaml changed"),
    ],
)
def test_a_shared_change_reruns_every_server(tmp_path, change, reason):
    repo = registry(tmp_path)
    audit(repo.path, tmp_path / "one")
    original = (repo.path / "nemo_gym/config_types.py").read_text()
    if "nemo_gym/config_types.py" in change:
        change = {"nemo_gym/config_types.py": original + change["nemo_gym/config_types.py"]}
    repo.write(change)
    _, second, _, _ = audit(repo.path, tmp_path / "two", previous=tmp_path / "one/audit.json")
    assert {s["reason"] for s in second["servers"]} == {reason} and second["summary"]["carried"] == 0


def _rewrite(path: Path, change) -> Path:
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))
    return path


def test_old_results_stale_keys_and_unjudged_results_are_not_carried(tmp_path):
    repo = registry(tmp_path)
    audit(repo.path, tmp_path / "one")
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds").replace("+00:00", "Z")

    def age_alpha_break_beta_tool_gamma(report):
        entry(report, "alpha")["verified_at"] = old
        entry(report, "beta")["verdict"] = "error"
        entry(report, "gamma")["keys"]["tool_version"] = "0.0.1+old"

    previous = _rewrite(tmp_path / "one/audit.json", age_alpha_break_beta_tool_gamma)
    _, second, _, _ = audit(repo.path, tmp_path / "two", previous=previous)
    assert "31 days old (--max-age 30)" in entry(second, "alpha")["reason"]
    assert entry(second, "beta")["reason"] == "the previous audit could not judge it"
    assert entry(second, "gamma")["reason"] == "the bot changed"
    _, third, _, _ = audit(repo.path, tmp_path / "three", "--max-age", "40", previous=previous)
    assert entry(third, "alpha")["carried"]


def test_sandbox_results_are_not_carried_into_a_static_audit(tmp_path):
    repo = registry(tmp_path, ("alpha",))
    audit(repo.path, tmp_path / "one")
    previous = _rewrite(tmp_path / "one/audit.json", lambda r: entry(r, "alpha")["keys"].update(sandbox=True))
    _, second, _, _ = audit(repo.path, tmp_path / "two", previous=previous)
    assert entry(second, "alpha")["reason"] == "the sandbox was requested differently"


# --- delta -----------------------------------------------------------------------------------------


def test_a_newly_failing_server_is_named_in_the_json_the_markdown_and_the_html(tmp_path):
    repo = registry(tmp_path)
    audit(repo.path, tmp_path / "one")
    repo.write({"resources_servers/gamma/README.md": "# gamma\n\nLicense: TBD\n"})
    repo.commit("gamma's licence lost")
    code, report, markdown, html = audit(
        repo.path, tmp_path / "two", "--github-repo", "org/gym", previous=tmp_path / "one/audit.json"
    )
    assert code == 1 and newly_failing(report) == ["gamma"]
    assert report["delta"]["newly_failing"][0]["checks"] == ["GR109"]
    line = section(markdown, "Newly failing")
    assert "gamma" in line and "alpha" not in line and "beta" not in line and "(GR109)" in line
    sha = repo.git("rev-parse", "HEAD")
    assert f"https://github.com/org/gym/tree/{sha}/resources_servers/gamma" in line
    item = html_section(html, "newly-failing")
    assert 'data-server="gamma"' in item and "alpha" not in item and "beta" not in item
    # Next week it is still failing, since the day it first failed; then it is fixed.
    _, later, markdown, _ = audit(repo.path, tmp_path / "three", previous=tmp_path / "two/audit.json")
    assert newly_failing(later) == [] and [e["name"] for e in later["delta"]["still_failing"]] == ["gamma"]
    assert later["delta"]["still_failing"][0]["since"] == report["generated_at"][:10]
    repo.write({"resources_servers/gamma/README.md": "# gamma\n\nLicense: Apache-2.0\n"})
    _, fixed, markdown, html = audit(repo.path, tmp_path / "four", previous=tmp_path / "three/audit.json")
    assert [e["name"] for e in fixed["delta"]["fixed"]] == ["gamma"] and "gamma" in section(markdown, "Fixed")
    assert 'data-server="gamma"' in html_section(html, "fixed")


def test_a_clean_registry_shows_nothing_newly_failing(tmp_path):
    repo = registry(tmp_path)
    audit(repo.path, tmp_path / "one")
    repo.write({"resources_servers/alpha/README.md": "# alpha\n\nA better description.\n\nLicense: Apache-2.0\n"})
    code, report, markdown, html = audit(repo.path, tmp_path / "two", previous=tmp_path / "one/audit.json")
    delta = report["delta"]
    assert code == 0 and not (delta["newly_failing"] or delta["fixed"] or delta["still_failing"])
    assert not delta["newly_not_judged"] and section(markdown, "Newly failing") == ""
    assert "No change" in markdown and "data-server" not in html_section(html, "newly-failing")


def test_added_and_removed_servers(tmp_path):
    repo = registry(tmp_path)
    audit(repo.path, tmp_path / "one")
    subprocess.run(["rm", "-r", str(repo.path / "resources_servers/beta")], check=True)
    from tests.conftest import good_server_files

    repo.server("delta", good_server_files("delta"))
    _, report, markdown, _ = audit(repo.path, tmp_path / "two", previous=tmp_path / "one/audit.json")
    assert report["delta"]["added"] == ["delta"] and report["delta"]["removed"] == ["beta"]
    assert "Added since: 1" in markdown and "Removed since: 1" in markdown


# --- REVERIFY_MODE -----------------------------------------------------------------------------------

STATEFUL_APP = """from typing import ClassVar

from nemo_gym.base_resources_server import BaseResourcesServerConfig, ReverifyMode, SimpleResourcesServer


class StatefulConfig(BaseResourcesServerConfig):
    REVERIFY_MODE: ClassVar[ReverifyMode] = ReverifyMode.UNSUPPORTED


class Stateful(SimpleResourcesServer):
    config: StatefulConfig

    async def verify(self, body):
        return body
"""


def test_a_server_marked_unsupported_for_reverification_is_not_replayable(tmp_path):
    from gym_review_bot.audit.replay import NOT_REPLAYABLE, mark_not_replayable
    from gym_review_bot.models import ServerReport
    from tests.github_support import finding

    repo = registry(tmp_path, ("alpha", "beta"))
    repo.write({"resources_servers/beta/app.py": STATEFUL_APP})
    _, report, markdown, html = audit(repo.path, tmp_path / "out")
    assert entry(report, "beta")["reverify_mode"] == "unsupported"
    assert entry(report, "beta")["replay"]["mode"] == "not_replayable"
    assert entry(report, "alpha")["reverify_mode"] is None and entry(report, "alpha")["replay"]["mode"] == "not_run"
    assert "not replayable" in markdown and "not replayable" in html
    # With the sandbox, its stale-looking replay is not judged as stale: skipped, saying why.
    server = ServerReport(
        name="beta",
        path="resources_servers/beta",
        status="checked",
        findings=[finding("GR203", "fail", "2 of 5 rollouts", "beta"), finding("GR205", "fail", "tests", "beta")],
    )
    marked = {f.id: f for f in mark_not_replayable(server).findings}
    assert marked["GR203"].status == "skip" and marked["GR203"].message == NOT_REPLAYABLE
    assert marked["GR205"].status == "fail"  # its tests are judged as ever


# --- merge -------------------------------------------------------------------------------------------


def _plan(repo: Path, out: Path, shards: int) -> Path:
    plan = out / "plan.json"
    out.mkdir(parents=True, exist_ok=True)
    assert main(["audit-plan", "--repo", str(repo), "--shards", str(shards), "--output", str(plan)]) == 0
    return plan


def _merge(plan: Path, out: Path, *reports: Path, previous: Path | None = None) -> tuple[int, dict, str, str]:
    argv = ["audit-merge", "--plan", str(plan), "--json", str(out / "merged.json")]
    argv += ["--markdown", str(out / "merged.md"), "--html", str(out / "merged.html")]
    argv += ["--previous", str(previous)] if previous else []
    code = main([*argv, *map(str, reports)])
    merged = json.loads((out / "merged.json").read_text())
    return code, merged, (out / "merged.md").read_text(), (out / "merged.html").read_text()


def test_shards_merge_into_the_whole_audit(tmp_path):
    repo = registry(tmp_path, ("alpha", "beta", "gamma", "delta", "epsilon"))
    plan = _plan(repo.path, tmp_path, 2)
    assert json.loads(plan.read_text())["matrix"] == ["1/2", "2/2"]
    parts = []
    for k in (1, 2):
        _, part, _, _ = audit(repo.path, tmp_path / f"shard{k}", "--shard", f"{k}/2")
        parts.append(tmp_path / f"shard{k}")
        assert part["shard"] == {"index": k, "count": 2}
    _, whole, _, _ = audit(repo.path, tmp_path / "whole")
    code, merged, _, _ = _merge(plan, tmp_path, *parts)
    assert code == 0 and merged["finished"] and merged["verdict"] == "pass"
    assert [s["name"] for s in merged["servers"]] == sorted(["alpha", "beta", "gamma", "delta", "epsilon"])
    assert [(s["name"], s["keys"]) for s in merged["servers"]] == [(s["name"], s["keys"]) for s in whole["servers"]]


def test_a_missing_shard_is_error_never_a_pass(tmp_path, capsys):
    repo = registry(tmp_path, ("alpha", "beta", "gamma", "delta"))
    plan = _plan(repo.path, tmp_path, 2)
    audit(repo.path, tmp_path / "shard1", "--shard", "1/2")
    code, merged, markdown, html = _merge(plan, tmp_path, tmp_path / "shard1/audit.json")
    assert code == 3 and merged["verdict"] == "error" and not merged["finished"]
    missing = [s for s in merged["servers"] if s["verdict"] == "error"]
    assert [s["name"] for s in missing] == share(["alpha", "beta", "gamma", "delta"], Shard(index=2, count=2))
    assert all("report of shard 2/2 is missing" in s["reason"] for s in missing)
    assert "2 not judged" in markdown and "report of shard 2/2 is missing" in html


def test_a_shard_stopped_midway_leaves_its_other_servers_error(tmp_path):
    from gym_review_bot.audit.progress import PlainProgress
    from gym_review_bot.audit.run import AuditRequest, run_audit, write_report

    class StopAfterOne(PlainProgress):
        def done(self, entry):
            super().done(entry)
            raise KeyboardInterrupt  # as Ctrl-C or SIGTERM would, after the first server

    repo = registry(tmp_path, ("alpha", "beta", "gamma", "delta"))
    plan = _plan(repo.path, tmp_path, 1)
    request = AuditRequest(repo=repo.path, shard=Shard(index=1, count=1))
    with open(os.devnull, "w") as sink:
        report = run_audit(request, StopAfterOne(sink))
    assert not report.finished and report.verdict == "error"
    assert [s.verdict for s in report.servers] == ["pass", "error", "error", "error"]
    write_report(tmp_path / "stopped.json", report)
    code, merged, _, _ = _merge(plan, tmp_path, tmp_path / "stopped.json")
    assert code == 3 and [s["verdict"] for s in merged["servers"]].count("error") == 3


def test_a_shard_report_for_another_commit_is_not_used(tmp_path):
    repo = registry(tmp_path, ("alpha", "beta"))
    audit(repo.path, tmp_path / "old", "--shard", "1/1")
    repo.write({"resources_servers/alpha/README.md": "# alpha\n\nLicense: MIT\n"})
    repo.commit("newer")
    plan = _plan(repo.path, tmp_path, 1)
    code, merged, _, _ = _merge(plan, tmp_path, tmp_path / "old/audit.json")
    assert code == 3 and {s["verdict"] for s in merged["servers"]} == {"error"}
    assert any("another commit" in n for n in merged["notes"])


def test_merge_computes_the_delta_against_the_previous_audit(tmp_path):
    repo = registry(tmp_path, ("alpha", "beta"))
    plan = _plan(repo.path, tmp_path, 2)
    for k in (1, 2):
        audit(repo.path, tmp_path / f"week1-{k}", "--shard", f"{k}/2")
    (tmp_path / "week1").mkdir()
    _merge(plan, tmp_path / "week1", tmp_path / "week1-1", tmp_path / "week1-2")
    repo.write({"resources_servers/beta/README.md": "# beta\n"})
    repo.commit("beta's licence lost")
    plan = _plan(repo.path, tmp_path / "p2", 2)
    previous = tmp_path / "week1/merged.json"
    for k in (1, 2):
        audit(repo.path, tmp_path / f"week2-{k}", "--shard", f"{k}/2", previous=previous)
    (tmp_path / "week2").mkdir()
    shards = (tmp_path / "week2-1", tmp_path / "week2-2")
    code, merged, markdown, html = _merge(plan, tmp_path / "week2", *shards, previous=previous)
    assert code == 1 and newly_failing(merged) == ["beta"]
    assert "beta" in section(markdown, "Newly failing") and 'data-server="beta"' in html_section(html, "newly-failing")


# --- outputs -----------------------------------------------------------------------------------------


def test_the_committed_schema_is_generated_from_the_models():
    from gym_review_bot.audit.schema import SCHEMA_FILE, audit_schema_text

    committed = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == audit_schema_text(), f"regenerate: python -m gym_review_bot.audit.schema > {SCHEMA_FILE}"


def test_plain_progress_lines_in_ci(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    repo = registry(tmp_path, ("alpha", "beta"))
    assert main(["audit", "--repo", str(repo.path), "--json", str(tmp_path / "a.json")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "gym-review audit: 2 server(s) to audit"
    assert err[1].startswith("[1/2] alpha: pass in ") and "(ETA " in err[1]
    assert err[2].startswith("[2/2] beta: pass in ")


def test_progress_is_a_rich_bar_on_a_terminal(monkeypatch):
    import io

    from gym_review_bot.audit.progress import PlainProgress, RichProgress, make_progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert isinstance(make_progress(Tty()), RichProgress)
    assert isinstance(make_progress(io.StringIO()), PlainProgress)
    monkeypatch.setenv("CI", "true")
    assert isinstance(make_progress(Tty()), PlainProgress)


def test_jobs_are_capped_by_the_machines_memory():
    from gym_review_bot.audit.run import effective_jobs

    assert effective_jobs(1, "4g", 64 * 1024**3) == (1, None)
    assert effective_jobs(4, "4g", 64 * 1024**3) == (4, None)
    jobs, note = effective_jobs(8, "4g", 24 * 1024**3)
    assert jobs == 3 and "--jobs 8 lowered to 3" in note
    assert effective_jobs(8, "4g", 4 * 1024**3)[0] == 1


def test_every_audit_option_is_documented_in_the_readme():
    from gym_review_bot.cli import build_parser

    readme = (ROOT / "README.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    for name in ("audit", "audit-plan", "audit-merge", "audit-publish"):
        assert f"gym-review {name}" in readme
        options = {o for a in commands[name]._actions for o in a.option_strings if o.startswith("--")}  # noqa: SLF001
        named = {o for o in options if re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", readme)}
        missing = sorted(options - named - {"--help"})
        assert missing == [], name
