"""`.github/workflows/gym-review-audit.yml`: weekly and by hand, a plan, a matrix of shards on a read-only token,
a merge, and a publish job that alone can write and runs no server code; its shell steps run here for real."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from tests.audit_support import registry

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "gym-review-audit.yml"
PERMISSIONS = {
    "plan": {"actions": "read", "contents": "read"},
    "shard": {"contents": "read"},
    "merge": {"contents": "read"},
    "publish": {"contents": "read", "issues": "write"},
}


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def step(job: str, name: str) -> dict:
    return next(s for s in workflow()["jobs"][job]["steps"] if s.get("name") == name)


def test_weekly_and_by_hand_with_the_shards_and_parallelism_as_inputs():
    on = workflow().get("on", workflow().get(True))
    assert on["schedule"][0]["cron"].split()[4] == "1"  # weekly
    assert {"shards", "max-parallel", "max-age"} <= set(on["workflow_dispatch"]["inputs"])


def test_each_job_has_its_own_least_permissions_and_only_publish_writes():
    jobs = workflow()["jobs"]
    assert workflow()["permissions"] == {}
    assert {name: job["permissions"] for name, job in jobs.items()} == PERMISSIONS
    shard = jobs["shard"]
    assert shard["strategy"]["fail-fast"] is False
    assert shard["strategy"]["max-parallel"] == "${{ fromJSON(needs.plan.outputs.max-parallel) }}"
    assert shard["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["merge"]["if"] == "always() && needs.plan.result == 'success'"  # a failed shard is merged as error


def test_publish_runs_no_server_code():
    publish = workflow()["jobs"]["publish"]
    checkout = next(s for s in publish["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert "ref" not in checkout["with"] and checkout["with"]["persist-credentials"] is False
    assert set(checkout["with"]["sparse-checkout"].split()) == {
        ".gym-review.yaml",
        ".github/CODEOWNERS",
        "CODEOWNERS",
        "docs/CODEOWNERS",
    }
    scripts = " ".join(s.get("run", "") for s in publish["steps"])
    assert "gym-review audit-publish" in scripts and not re.search(r"gym-review audit\s", scripts)
    assert "pytest" not in scripts and "docker" not in scripts


def test_values_reach_scripts_only_through_env_and_actions_are_pinned():
    for job in workflow()["jobs"].values():
        for s in job["steps"]:
            assert "${{" not in s.get("run", ""), s.get("name")
            if "uses" in s:
                assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", s["uses"]), s["uses"]


def _script(job: str, name: str, env: dict[str, str], cwd: Path, bin_dir: Path) -> str:
    """Run one of the workflow's `run:` steps with bash -e as the runner does, its env: values given."""
    out = cwd / "github_output"
    out.touch()
    environ = {
        **os.environ,
        **env,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"),
    }
    script = step(job, name)["run"]
    subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=environ, check=True, capture_output=True, text=True)
    return out.read_text()


# `gym-review` as the steps call it, with the shard's --docker and --base-image IMAGE turned into --no-docker.
STATIC_SHIM = """#!/bin/bash
args=(); skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case "$a" in --docker) args+=(--no-docker);; --base-image) skip=1;; *) args+=("$a");; esac
done
exec "PYTHON" -m gym_review_bot "${args[@]}"
"""


def _gym_review(bin_dir: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "gym-review"
    shim.write_text(STATIC_SHIM.replace("PYTHON", sys.executable))
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)


def test_the_plan_shard_and_merge_steps_run(tmp_path):
    """The steps' shell, for real: the plan's outputs, each shard's audit (static here), the merge with a shard
    missing (its servers `error`), and the merge's upload directory."""
    repo = registry(tmp_path, ("alpha", "beta", "gamma", "delta", "epsilon"))
    bin_dir = tmp_path / "bin"
    _gym_review(bin_dir)
    outputs = _script("plan", "Plan", {"SHARDS": "3", "MAX_PARALLEL": "999"}, repo.path, bin_dir)
    values = dict(line.split("=", 1) for line in outputs.splitlines())
    assert json.loads(values["matrix"]) == ["1/3", "2/3", "3/3"] and values["max-parallel"] == "256"
    assert values["commit"] == repo.git("rev-parse", "HEAD")
    for k, shard in enumerate(json.loads(values["matrix"])[:2]):
        env = {"SHARD": shard, "REPOSITORY": "Org/Gym", "MAX_AGE": "30"}
        _script("shard", "Audit this shard", env, repo.path, bin_dir)
        target = repo.path / "shards" / f"gym-review-audit-shard-{k}"
        target.mkdir(parents=True)
        (repo.path / "audit-shard/audit.json").rename(target / "audit.json")
    _script("merge", "Merge", {"REPOSITORY": "Org/Gym"}, repo.path, bin_dir)
    merged = json.loads((repo.path / "audit/audit.json").read_text())
    missing = [s["name"] for s in merged["servers"] if s["verdict"] == "error"]
    assert missing and all("shard 3/3" in s["reason"] for s in merged["servers"] if s["verdict"] == "error")
    assert merged["verdict"] == "error" and (repo.path / "audit/index.html").is_file()
    assert "Registry health" in (repo.path / "summary.md").read_text()
