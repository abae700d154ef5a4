"""Core changes without Docker (issue 22): the plan's reach, sample and cost; GR501 from the sample's rows; the
comparison with the merge base; the last audit's results; merge-reports and publish's trust; the comment."""

from __future__ import annotations

import json
import subprocess
import sys
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import pytest

from gym_review_bot.audit.keys import tool_version
from gym_review_bot.audit.models import AuditReport, Keys, Replay, ServerAudit
from gym_review_bot.blast.baseline import DEFAULT_SANDBOX_S, base_keys, from_audit, median_seconds
from gym_review_bot.blast.compare import compare, replayed
from gym_review_bot.blast.run import SampleRequest, judge_sample
from gym_review_bot.blast.sample import find_radius
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.blast import breaks_outcome
from gym_review_bot.discover import discover_pr
from gym_review_bot.judge import judge
from gym_review_bot.models import (
    AffectedServer,
    BlastRadius,
    CheckChange,
    Finding,
    RewardChange,
    SampledServer,
    ServerReport,
    plain,
)
from gym_review_bot.plan import merge_reports
from gym_review_bot.render.markdown import render_markdown
from gym_review_bot.review import ReviewOptions
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import ReplayResult
from gym_review_bot.sandbox.runner import _Run, reproduction
from gym_review_bot.trust import Untrusted, verify_report
from tests.conftest import GitRepo

NO_JUDGE = "{name}:\n  resources_servers:\n    {name}:\n      entrypoint: app.py\n      domain: math\n"
WITH_JUDGE = NO_JUDGE + "      judge_model_server:\n        type: responses_api_models\n        name: judge_model\n"


def _server(name: str, imports: str, config: str = NO_JUDGE, rollouts: str | None = None) -> dict[str, str]:
    files = {
        f"resources_servers/{name}/app.py": f"{imports}\n\n\nclass Server:\n    pass\n",
        f"resources_servers/{name}/configs/{name}.yaml": config.format(name=name),
    }
    if rollouts is not None:
        files[f"resources_servers/{name}/data/example_rollouts.jsonl"] = rollouts
    return files


def registry(tmp_path: Path, sample: int = 4) -> GitRepo:
    """nemo_gym/ (base imports schema) and servers importing it in known ways, committed on main.

    alpha: base and config (so base, schema, config); beta: base; gamma: schema; judge: base, its config names a
    judge model; recorded: base, names a judge whose answers its rollouts record; plain: nothing of nemo_gym."""
    repo = GitRepo(tmp_path / "gym")
    files = {
        "nemo_gym/__init__.py": "",
        "nemo_gym/base.py": "from nemo_gym.schema import Request\n\n\nclass Base:\n    pass\n",
        "nemo_gym/schema.py": "class Request:\n    pass\n",
        "nemo_gym/config.py": "KEYS = ('entrypoint',)\n",
        "nemo_gym/cli.py": "import sys\n",
        "README.md": "# Gym\n",
        ".gym-review.yaml": f"github:\n  audit_sample: {sample}\n",
    }
    files |= _server("alpha", "from nemo_gym.base import Base\nfrom nemo_gym import config")
    files |= _server("beta", "from nemo_gym.base import Base")
    files |= _server("gamma", "import nemo_gym.schema")
    files |= _server("judge", "from nemo_gym.base import Base", WITH_JUDGE)
    judged = {"responses_create_params": {"input": "A=B?"}, "response": {"output": []}}  # a judge call as recorded
    recorded = json.dumps({"responses_create_params": {}, "reward": 1.0, "judge_evaluations": [judged]})
    files |= _server("recorded", "from nemo_gym.base import Base", WITH_JUDGE, recorded + "\n")
    files |= _server("plain", "import json")
    repo.write(files)
    repo.commit("registry")
    return repo


def branch(repo: GitRepo, name: str, files: dict[str, str]) -> str:
    repo.git("checkout", "-q", "-b", name, "main")
    repo.write(files)
    head = repo.commit(name)
    repo.git("checkout", "-q", "main")
    return head


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gym_review_bot", *args], capture_output=True, text=True)


def plan(repo: GitRepo, head: str, *extra: str) -> dict:
    done = cli("plan", "--repo", str(repo.path), "--base", "main", "--head", head, *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SCHEMA_AND_CONFIG = {"nemo_gym/schema.py": "class Request:\n    task: str\n", "nemo_gym/config.py": "KEYS = ()\n"}


# --- the plan: reach, sample, cost -------------------------------------------------------------------------


def test_plan_samples_replayable_servers_first_then_most_changed_modules_then_by_name(tmp_path) -> None:
    repo = registry(tmp_path)
    blast = plan(repo, branch(repo, "core", SCHEMA_AND_CONFIG))["blast"]
    assert blast["modules"] == ["nemo_gym/config.py", "nemo_gym/schema.py"]
    assert blast["count"] == 5 and "plain" not in [a["name"] for a in blast["affected"]]
    # alpha imports both changed modules; judge's rollouts need its model, recorded's carry their judge
    assert blast["sampled"] == ["alpha", "beta", "gamma", "recorded"] and blast["not_sampled"] == ["judge"]
    replayable = {a["name"]: a["replayable"] for a in blast["affected"]}
    assert replayable == {"alpha": True, "beta": True, "gamma": True, "recorded": True, "judge": False}
    assert blast["cost"] == {
        "servers": 4,
        "median_s": DEFAULT_SANDBOX_S,
        "median_from": "default (docs/audit.md's measured median per server)",
        "seconds": round(4 * DEFAULT_SANDBOX_S, 1),
        "base_from_audit": [],
        "seconds_at_most": round(8 * DEFAULT_SANDBOX_S, 1),
    }


def test_replayable_reads_the_resources_servers_entry_as_the_sandbox_counts_its_stand_ins(tmp_path) -> None:
    """Only the resources server's own entry counts (an agent naming the policy model is every server's lot); a
    reference to itself is no model; configs that cannot be read are not replayable."""
    from gym_review_bot.blast.sample import replayable
    from gym_review_bot.sources import GitTree

    agent = "  responses_api_agents:\n    a:\n      model_server:\n        type: responses_api_models\n"
    agent += "        name: policy\n"
    itself = "      me:\n        type: resources_servers\n        name: {name}\n"
    repo = GitRepo(tmp_path / "r")
    files = _server("with_agent", "import json", NO_JUDGE + agent)
    files |= _server("self_ref", "import json", NO_JUDGE + itself)
    files |= _server("duplicate", "import json", NO_JUDGE + "      domain: code\n")
    files |= _server("bomb", "import json", "a: &a [*a]\n")
    no_recording = json.dumps({"reward": 1.0, "judge_evaluations": [{"verdict": "A=B"}]})  # no request, no response
    files |= _server("unreadable", "import json", WITH_JUDGE, no_recording + "\n")
    repo.write(files)
    tree = GitTree(repo.path, repo.commit("servers"))
    found = {n: replayable(tree, n) for n in ("with_agent", "self_ref", "duplicate", "bomb", "unreadable")}
    assert found == {"with_agent": True, "self_ref": True, "duplicate": False, "bomb": False, "unreadable": False}


def test_a_smaller_sample_leaves_the_rest_not_sampled_and_the_prs_own_servers_out(tmp_path) -> None:
    repo = registry(tmp_path, sample=2)
    head = branch(repo, "core", {**SCHEMA_AND_CONFIG, "resources_servers/beta/app.py": "import nemo_gym.schema\n"})
    blast = plan(repo, head)["blast"]
    assert blast["sampled"] == ["alpha", "gamma"] and blast["in_pr"] == ["beta"]
    assert blast["not_sampled"] == ["judge", "recorded"]  # not looked at past the full sample: by name


@pytest.mark.parametrize(
    "files",
    [
        {"README.md": "# Gym, documented\n"},
        {"resources_servers/delta/app.py": "from nemo_gym.base import Base\n", "resources_servers/delta/x.py": "\n"},
    ],
    ids=["docs-only", "adds-a-server"],
)
def test_a_pr_changing_no_shared_code_has_no_blast_radius(tmp_path, files) -> None:
    repo = registry(tmp_path)
    head = branch(repo, "pr", files)
    assert plan(repo, head)["blast"] is None
    out = tmp_path / "out"
    out.mkdir()
    cli("check", "--repo", str(repo.path), "--base", "main", "--head", head, "--no-docker",
        "--json", str(out / "r.json"), "--markdown", str(out / "c.md"))  # fmt: skip
    report = json.loads((out / "r.json").read_text())
    [gr501] = [f for f in report["pr"]["findings"] if f["id"] == "GR501"]
    assert report["blast"] is None and (gr501["status"], gr501["skip_kind"]) == ("skip", "not_applicable")
    assert "GR501" not in (out / "c.md").read_text() and "Core change" not in (out / "c.md").read_text()


def test_a_shared_library_under_resources_servers_is_a_core_change(tmp_path) -> None:
    repo = registry(tmp_path)
    repo.write({"resources_servers/common/__init__.py": "", "resources_servers/common/util.py": "X = 1\n"})
    repo.write({"resources_servers/gamma/app.py": "from resources_servers.common import util\n"})
    repo.commit("a library")
    blast = plan(repo, branch(repo, "lib", {"resources_servers/common/util.py": "X = 2\n"}))["blast"]
    assert blast["modules"] == ["resources_servers/common/util.py"] and blast["sampled"] == ["gamma"]


def test_check_without_the_sandbox_reports_the_reach_and_leaves_gr501_not_requested(tmp_path) -> None:
    repo = registry(tmp_path)
    head = branch(repo, "core", SCHEMA_AND_CONFIG)
    out = tmp_path / "r.json"
    done = cli("check", "--repo", str(repo.path), "--base", "main", "--head", head, "--no-docker",
               "--json", str(out), "--markdown", str(tmp_path / "c.md"))  # fmt: skip
    report = json.loads(out.read_text())
    [gr501] = [f for f in report["pr"]["findings"] if f["id"] == "GR501"]
    assert done.returncode == 0 and report["complete"] is False
    assert (gr501["status"], gr501["skip_kind"], gr501["severity"]) == ("skip", "not_requested", "warning")
    assert [r["outcome"] for r in report["blast"]["results"]] == ["not_run"] * 4
    line = next(ln for ln in (tmp_path / "c.md").read_text().splitlines() if "Core change" in ln)
    assert line.startswith("⏭️ **Core change:** 5 servers import it, 4 sampled, not judged (")


def test_blast_flags_are_checked(tmp_path) -> None:
    repo = registry(tmp_path)
    head = branch(repo, "core", SCHEMA_AND_CONFIG)
    base = ["check", "--repo", str(repo.path), "--no-docker"]
    assert cli(*base, "--blast", "alpha").returncode == 2  # PR mode only
    done = cli(*base, "--base", "main", "--head", head, "--blast", "plain")
    assert done.returncode == 2 and "--blast plain: not a server this PR's change reaches" in done.stderr


# --- judging the sample --------------------------------------------------------------------------------------


def _found_and_radius(tmp_path: Path):
    repo = registry(tmp_path)
    found = discover_pr(repo.path, "main", branch(repo, "core", SCHEMA_AND_CONFIG))
    return found, find_radius(found, 4)


def test_the_audit_timeout_and_a_missing_daemon_leave_rows_error_never_pass(tmp_path) -> None:
    found, radius = _found_and_radius(tmp_path)
    late = judge_sample(found, radius, ["alpha"], ReviewOptions(sandbox="run"), SampleRequest(timeout=1e-9))
    assert [(r.outcome, r.reason) for r in late] == [
        ("error", "--audit-timeout (1e-09 s) ran out before it was reviewed.")
    ]
    options = ReviewOptions(sandbox="unavailable", sandbox_reason="no Docker daemon reachable (x)")
    rows = judge_sample(found, radius, radius.sampled, options, SampleRequest())
    assert {r.outcome for r in rows} == {"error"}
    assert breaks_outcome(replace(radius, results=rows)).status == "error"


def _finding(check_id: str, status: str, message: str = "m", skip_kind: str | None = None) -> Finding:
    return Finding(id=check_id, severity="error", status=status, title=f"title {check_id}", message=message,
                   skip_kind=skip_kind)  # fmt: skip


def _report_of(findings: list[Finding]) -> ServerReport:
    return ServerReport(name="s", path="resources_servers/s", status="checked", findings=findings)


def test_compare_names_only_checks_that_pass_at_the_base_and_fail_here(tmp_path) -> None:
    found, _ = _found_and_radius(tmp_path)
    head = [_finding("GR202", "fail"), _finding("GR203", "skip", skip_kind="prerequisite_failed"),
            _finding("GR109", "fail"), _finding("GR205", "pass")]  # fmt: skip
    base = [_finding("GR202", "pass"), _finding("GR203", "fail"), _finding("GR109", "fail"), _finding("GR205", "pass")]
    row = compare("s", ["nemo_gym/base.py"], _report_of(head), _report_of(base), found.head)
    assert row.outcome == "breaks" and [c.id for c in row.breaks] == ["GR202"] and row.pre_existing == ["GR109"]
    old = compare("s", [], _report_of([_finding("GR203", "fail")]), _report_of([_finding("GR203", "fail")]), found.head)
    assert (old.outcome, old.breaks) == ("pre_existing", [])
    waited = compare(
        "s",
        [],
        _report_of([_finding("GR205", "fail")]),
        _report_of([_finding("GR205", "skip", skip_kind="prerequisite_failed")]),
        found.head,
    )  # noqa: E501
    assert waited.outcome == "pre_existing"
    unknown = compare("s", [], _report_of([_finding("GR205", "error")]), None, found.head)
    assert unknown.outcome == "error" and unknown.reason.startswith("GR205 could not run")
    untold = compare(
        "s", [], _report_of([_finding("GR205", "fail")]), _report_of([_finding("GR205", "error")]), found.head
    )
    assert untold.outcome == "error" and "could not tell" in untold.reason
    assert compare("s", [], _report_of([_finding("GR205", "pass")]), None, found.head).outcome == "passes"


def test_reward_lines_are_read_from_the_sandboxs_own_gr203_message(tmp_path) -> None:
    """The listing GR203 writes (sandbox/runner.py), parsed back: rewards returned, and answers that were none."""
    repo = GitRepo(tmp_path / "r")
    rows = [{"responses_create_params": {}, "response": {}, "reward": r} for r in (1.0, 0.0, 1.0)]
    repo.write({"resources_servers/s/data/example_rollouts.jsonl": "\n".join(json.dumps(r) for r in rows) + "\n"})
    repo.commit("rollouts")
    found = discover_pr(repo.path, "HEAD", "HEAD")
    run = _Run(found.head, "s", SandboxOptions())
    first = [
        ReplayResult(1, 1.0, returned=0.0),
        ReplayResult(2, 0.0, returned=0.0),
        ReplayResult(3, 1.0, error="HTTP 422"),
    ]
    reproduction(run, first, "")
    message = run.outcomes["GR203"].message
    assert replayed(message) == {1: (0.0, None), 3: (None, "HTTP 422")}
    head = _report_of([Finding(id="GR203", severity="error", status="fail", message=message)])
    row = compare("s", [], head, _report_of([_finding("GR203", "pass")]), found.head)
    assert [(r.line, r.stored, r.base, r.head, r.note) for r in row.rewards] == [
        (1, 1.0, 1.0, 0.0, None), (3, 1.0, 1.0, None, "HTTP 422")
    ]  # fmt: skip


# --- the last audit's results --------------------------------------------------------------------------------


def _audit_entry(keys: Keys, verdict: str = "fail", carried: bool = False, wall_s: float = 30.0) -> ServerAudit:
    report = _report_of([_finding("GR202", "pass"), _finding("GR203", "fail")])
    return ServerAudit(name="alpha", path="resources_servers/alpha", verdict=verdict, keys=keys, report=report,
                       replay=Replay(mode="no_model"), verified_at="2026-11-30T00:00:00Z", carried=carried,
                       wall_s=wall_s)  # fmt: skip


def test_the_merge_base_comes_from_the_last_audit_only_when_every_key_matches(tmp_path) -> None:
    found, _ = _found_and_radius(tmp_path)
    keys = base_keys(found, ["alpha"])
    now = keys.of("alpha")
    assert len(now.server_tree) == 40 and len(now.nemo_gym_tree or "") == 40  # git tree ids at the merge base
    assert now.tool_version == tool_version() and now.policy_blob != "defaults"
    assert from_audit(AuditReport(servers=[_audit_entry(now)]), "alpha", keys) is not None
    for changed in ({"nemo_gym_tree": "0" * 40}, {"server_tree": "0" * 40}, {"tool_version": "0.0.0+old"}):
        stale = now.model_copy(update=changed)
        assert from_audit(AuditReport(servers=[_audit_entry(stale)]), "alpha", keys) is None, changed
    assert from_audit(AuditReport(servers=[_audit_entry(now, verdict="error")]), "alpha", keys) is None
    assert (
        from_audit(AuditReport(servers=[_audit_entry(now.model_copy(update={"sandbox": False}))]), "alpha", keys)
        is None
    )  # noqa: E501


def test_the_cost_uses_the_audits_median_sandbox_time(tmp_path) -> None:
    found, _ = _found_and_radius(tmp_path)
    keys = base_keys(found, ["alpha"]).of("alpha")
    entries = [_audit_entry(keys, wall_s=w) for w in (10.0, 40.0, 20.0)] + [_audit_entry(keys, carried=True, wall_s=1)]
    assert median_seconds(AuditReport(servers=entries))[0] == 20.0
    assert median_seconds(None)[0] == DEFAULT_SANDBOX_S


def test_plan_counts_the_base_results_the_audit_covers(tmp_path) -> None:
    repo = registry(tmp_path)
    head = branch(repo, "core", SCHEMA_AND_CONFIG)
    found = discover_pr(repo.path, "main", head)
    audit = AuditReport(servers=[_audit_entry(base_keys(found, ["alpha"]).of("alpha"), wall_s=50.0)])
    (tmp_path / "audit.json").write_text(audit.to_json())
    cost = plan(repo, head, "--audit", str(tmp_path / "audit.json"))["blast"]["cost"]
    assert cost["base_from_audit"] == ["alpha"] and cost["median_s"] == 50.0
    assert (cost["seconds"], cost["seconds_at_most"]) == (200.0, 350.0)  # 4 heads, 3 bases at most


# --- GR501, merge-reports, trust, the comment ---------------------------------------------------------------


def _breaking_row() -> SampledServer:
    change = CheckChange(id="GR203", title="Example rollouts reproduce their rewards", base="pass", head="fail")
    reward = RewardChange(line=2, stored=1.0, base=1.0, head=0.0)
    return SampledServer(name="math_with_judge", modules=["nemo_gym/base.py"], outcome="breaks", breaks=[change],
                         rewards=[reward], base_from="audit", seconds=12.0)  # fmt: skip


def _radius(*rows: SampledServer, affected: int = 23) -> BlastRadius:
    names = [r.name for r in rows]
    others = [f"s{i:02d}" for i in range(affected - len(rows))]
    return BlastRadius(modules=["nemo_gym/base.py"], affected=[AffectedServer(name=n) for n in names + others],
                       sample_size=8, sampled=names, not_sampled=others, results=list(rows))  # fmt: skip


def test_gr501_names_the_server_the_check_and_the_rewards_that_moved() -> None:
    passing = SampledServer(name="quiet", outcome="passes")
    old = SampledServer(name="stale", outcome="pre_existing", pre_existing=["GR203"])
    outcome = breaks_outcome(_radius(_breaking_row(), passing, old))
    assert outcome.status == "fail"
    assert outcome.message.startswith(
        "1 of 3 sampled servers break: `math_with_judge`: GR203 (Example rollouts reproduce their rewards) passes at "
        "the merge base and fails here (line 2: stored 1, base 1, head 0)."
    )
    assert "quiet" not in outcome.message and "stale" not in outcome.message
    assert breaks_outcome(_radius(passing, old)).status == "pass"
    assert breaks_outcome(_radius(passing, SampledServer(name="x", outcome="error", reason="r"))).status == "error"
    assert breaks_outcome(_radius(affected=0)).status == "pass"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("", ("fail", "warning", None, "pass")),  # a warning by default: the review passes
        ("severity: {GR501: error}\n", ("fail", "error", None, "fail")),
        ('severity: {GR501: "off"}\n', ("skip", "warning", "disabled_by_policy", "pass")),
    ],
    ids=["default-warning", "error", "off"],
)
def test_gr501_is_a_warning_by_default_and_the_merge_bases_rules_set_it(tmp_path, rule, expected) -> None:
    from gym_review_bot.review import review

    repo = registry(tmp_path)
    (repo.path / ".gym-review.yaml").write_text(f"github:\n  audit_sample: 4\n{rule}")
    repo.commit("the registry's rules")
    found = discover_pr(repo.path, "main", branch(repo, "core", SCHEMA_AND_CONFIG))
    report = review(found, ReviewOptions(), _radius(_breaking_row())).report
    [gr501] = [f for f in report.pr.findings if f.id == "GR501"]
    assert (gr501.status, gr501.severity, gr501.skip_kind, report.verdict) == expected


def _job_report(tmp_path: Path, head: str, radius: BlastRadius | None, name: str) -> Path:
    """What a blast job writes: no server of its own, the PR's checks, its row."""
    repo = registry(tmp_path / name)
    found = discover_pr(repo.path, "main", branch(repo, "core", SCHEMA_AND_CONFIG))
    from gym_review_bot.review import review

    found.pr_servers, found.servers = list(found.servers), []
    report = review(found, ReviewOptions(), radius).report
    report.head_sha = head
    path = tmp_path / f"{name}.json"
    path.write_text(report.to_json())
    return path


def test_merge_reports_judges_gr501_from_every_blast_jobs_row_and_publish_accepts_it(tmp_path) -> None:
    head = "c" * 40
    planned = _radius(_breaking_row(), SampledServer(name="quiet", outcome="passes"))
    plan_file = _plan_of(tmp_path, planned)
    one = _job_report(tmp_path, head, replace(planned, results=[_breaking_row()]), "job1")
    report = merge_reports(plan_file, [one])  # the other sampled server's job left nothing
    [gr501] = [f for f in report.pr.findings if f.id == "GR501"]
    rows = {r.name: r for r in report.blast.results}
    assert rows["quiet"].outcome == "error" and "missing" in rows["quiet"].reason
    assert gr501.status == "fail" and "math_with_judge" in gr501.message and "could not be judged" in gr501.message
    paths = ["nemo_gym/base.py"]
    assert verify_report(report, Catalogue(), paths).verdict == report.verdict
    forged = deepcopy(report)
    next(f for f in forged.pr.findings if f.id == "GR501").status = "pass"
    with pytest.raises(Untrusted, match="GR501 disagrees with its blast radius"):
        verify_report(forged, Catalogue(), paths)


def test_publish_refuses_no_shared_code_for_a_pr_changing_nemo_gym(tmp_path) -> None:
    report = merge_reports(_plain_plan(tmp_path), [_job_report(tmp_path, "c" * 40, None, "plainjob")])
    gr501 = next(f for f in report.pr.findings if f.id == "GR501")
    assert gr501.skip_kind == "not_requested"  # the job saw the core change, and was given no sample
    forged = deepcopy(report)
    forged.blast = None
    next(f for f in forged.pr.findings if f.id == "GR501").skip_kind = "not_applicable"
    with pytest.raises(Untrusted, match="changes no shared code"):
        verify_report(forged, Catalogue(), ["nemo_gym/base.py"])


def _plain_plan(tmp_path: Path) -> Path:
    path = tmp_path / "plain-plan.json"
    path.write_text(json.dumps({"head": "c" * 40, "base": "b" * 40, "servers": []}))
    return path


def _plan_of(tmp_path: Path, radius: BlastRadius) -> Path:
    path = tmp_path / "plan.json"
    blast = {k: v for k, v in plain(radius).items() if k not in ("results", "reason")}
    path.write_text(json.dumps({"head": "c" * 40, "base": "b" * 40, "servers": [], "blast": blast}))
    return path


def test_the_comment_has_one_summary_line_and_each_sampled_server_folded(tmp_path) -> None:
    quiet = SampledServer(name="quiet", modules=["nemo_gym/base.py"], outcome="passes", seconds=9.0)
    radius = _radius(_breaking_row(), quiet)
    report = merge_reports(_plan_of(tmp_path, radius), [_job_report(tmp_path, "c" * 40, radius, "c")])
    text = render_markdown(report, judge(report))
    line = next(ln for ln in text.splitlines() if "**Core change:**" in ln)
    # names escaped as the table's are (GitHub shows `math_with_judge`)
    summary = r"23 servers import it, 2 sampled, 1 breaks: <code>math\_with\_judge</code> GR203."
    assert line == f"⚠️ **Core change:** {summary}"
    assert r"<summary>⚠️ <code>math\_with\_judge</code>: breaks (GR203)</summary>" in text
    assert "  - line 2: stored 1, base 1, head 0" in text and "merge base: the last audit's result" in text
    assert "<summary>✅ <code>quiet</code>: no change</summary>" in text
    assert "Not sampled (21): <code>s00</code>" in text


def test_the_comments_core_change_parts_escape_the_reports_names_and_reasons(tmp_path) -> None:
    """A server name or a reason is text from the PR's tree: the templates show it, never as HTML, link or mention."""
    hostile = SampledServer(
        name="<img src=x>@team",
        modules=[f"nemo_gym/m{i}.py" for i in range(12)],
        outcome="error",
        reason="**bold** [link](http://example.com)",
    )
    radius = _radius(hostile, affected=45)
    report = merge_reports(_plan_of(tmp_path, radius), [_job_report(tmp_path, "c" * 40, radius, "h")])
    text = render_markdown(report, judge(report))
    line = next(ln for ln in text.splitlines() if "**Core change:**" in ln)
    assert line == "🚫 **Core change:** 45 servers import it, 1 sampled, 1 could not be judged."
    assert "<img" not in text and "@team" not in text and "[link](http" not in text
    assert r"could not be judged: \*\*bold\*\* \[link\]" in text
    assert "<code>nemo\\_gym/m9.py</code>, … (2 more)" in text  # ten modules shown, the rest counted
    assert "Not sampled (44):" in text and "<code>s39</code>, … (4 more)" in text
