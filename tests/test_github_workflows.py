"""The example workflows and action.yml: minimal permissions, no PR code near a write token, no
expressions inside scripts, zizmor (offline) clean, and valid against GitHub's schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
# Per workflow, per job: the token's permissions (nothing more).
EXPECTED_PERMISSIONS = {
    "gym-review.yml": {  # plan reads the last registry audit's report (another run's artifact); runs no PR code
        "plan": {"actions": "read", "contents": "read"},
        "review": {"contents": "read"},
        "blast": {"contents": "read"},
        "join": {"contents": "read"},
    },
    "gym-review-publish.yml": {
        "pr": {"actions": "read"},
        "publish": {
            "actions": "read",
            "contents": "read",
            "issues": "write",
            "pull-requests": "write",
            "statuses": "write",
        },
    },
    "gym-review-base.yml": {"*": {"contents": "read", "packages": "write"}},
    "gym-review-commands.yml": {
        "*": {"actions": "write", "contents": "read", "issues": "write", "pull-requests": "read"}
    },
    "gym-review-merge.yml": {
        "*": {
            "actions": "read",
            "contents": "write",
            "issues": "write",
            "pull-requests": "write",
            "statuses": "write",
        }
    },
    "gym-review-new-head.yml": {"*": {"contents": "read", "pull-requests": "write", "statuses": "write"}},
    "gym-review-release.yml": {"*": {"contents": "read", "packages": "write"}},
}


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    return on if isinstance(on, dict) else {on: None}


def steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_the_six_workflows_and_the_release_are_there():
    audit = "gym-review-audit.yml"  # its jobs' permissions differ per job: tests/test_audit_workflow.py
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == sorted([*EXPECTED_PERMISSIONS, audit])
    assert set(triggers(load("gym-review.yml"))["pull_request"]["types"]) == {
        "opened",
        "synchronize",
        "reopened",
        "edited",
    }
    assert "workflow_run" in triggers(load("gym-review-publish.yml"))
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers(load("gym-review-base.yml")))
    assert "issue_comment" in triggers(load("gym-review-commands.yml"))
    merge = triggers(load("gym-review-merge.yml"))
    assert merge["pull_request_target"]["types"] == ["labeled"] and "schedule" in merge
    assert triggers(load("gym-review-new-head.yml"))["pull_request_target"]["types"] == ["synchronize"]


def test_no_workflow_names_a_label():
    # merge runs on every `labeled` event and ignores all but the config's ready label: a registry's own
    # label name needs no workflow edit.
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "ready-to-merge" not in text and "label.name" not in text, path.name


def test_publish_merge_and_commands_share_one_group_per_pr_and_never_cancel_it():
    groups = {
        "gym-review-publish.yml": load("gym-review-publish.yml")["jobs"]["publish"]["concurrency"],
        "gym-review-merge.yml": load("gym-review-merge.yml")["jobs"]["merge"]["concurrency"],
        "gym-review-commands.yml": load("gym-review-commands.yml")["jobs"]["command"]["concurrency"],
    }
    numbers = {
        "gym-review-publish.yml": "needs.pr.outputs.number",
        "gym-review-merge.yml": "github.event.pull_request.number",
        "gym-review-commands.yml": "github.event.issue.number",
    }
    for name, concurrency in groups.items():
        assert concurrency["cancel-in-progress"] is False, name
        assert concurrency["group"].startswith("gym-review-pr-${{ " + numbers[name]), (name, concurrency)


def test_the_review_checks_out_the_prs_head_not_the_merge_commit():
    for step in steps(load("gym-review.yml")):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
            assert step["with"]["fetch-depth"] == 0


@pytest.mark.parametrize("name", sorted(EXPECTED_PERMISSIONS))
def test_permissions_are_minimal_per_job(name):
    workflow = load(name)
    top = workflow.get("permissions")
    assert isinstance(top, dict), f"{name}: permissions must be an explicit mapping (no default token scope)"
    expected = EXPECTED_PERMISSIONS[name]
    assert set(expected) in ({"*"}, set(workflow["jobs"])), name
    for job_name, job in workflow["jobs"].items():
        effective = job.get("permissions", top)
        wanted = expected.get(job_name, expected.get("*"))
        assert isinstance(effective, dict) and effective == wanted, (name, job_name)


@pytest.mark.parametrize("name", sorted(EXPECTED_PERMISSIONS))
def test_no_expression_inside_a_script(name):
    for step in steps(load(name)):
        assert "${{" not in step.get("run", ""), (
            f"{name}: {step.get('name', step.get('run'))!r} uses ${{{{ }}}} in run:"
        )


@pytest.mark.parametrize("name", sorted(EXPECTED_PERMISSIONS))
def test_no_pr_code_checked_out_where_a_token_can_write(name):
    workflow = load(name)
    text = (WORKFLOWS / name).read_text()
    writes = any(
        "write" in (job.get("permissions") or workflow.get("permissions") or {}).values()
        for job in workflow["jobs"].values()
    )
    if not writes and "secrets." not in text:
        return
    for step in steps(workflow):
        uses = step.get("uses", "")
        assert not uses.startswith("./"), f"{name}: a local action would run the checkout's code"
        if uses.startswith("actions/checkout@"):
            options = step.get("with") or {}
            assert "ref" not in options and "repository" not in options, (
                f"{name}: checks out something other than the base"
            )
            assert options.get("persist-credentials") is False


def test_the_pr_workflow_holds_no_write_token_and_no_secret():
    text = (WORKFLOWS / "gym-review.yml").read_text()
    workflow = load("gym-review.yml")
    assert "secrets." not in text and "write" not in str(workflow["permissions"])
    assert all("write" not in str(job.get("permissions", {})) for job in workflow["jobs"].values())
    # The token (actions: read) only where the last audit's report is fetched: the plan job, before any PR code runs
    for name, job in workflow["jobs"].items():
        assert name == "plan" or "github.token" not in str(job), name


def test_the_publish_workflow_downloads_from_the_triggering_run():
    workflow = load("gym-review-publish.yml")
    downloads = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/download-artifact@")]
    assert len(downloads) == 2
    assert all(d["with"]["run-id"] == "${{ github.event.workflow_run.id }}" for d in downloads)
    assert workflow["jobs"]["pr"]["if"].startswith("github.event.workflow_run.event == 'pull_request'")
    assert workflow["jobs"]["publish"]["needs"] == "pr"


def test_every_action_is_pinned_to_a_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for step in steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                ref = step["uses"].rpartition("@")[2]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), (path.name, step["uses"])


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_zizmor_offline_finds_nothing_at_medium_or_above():
    result = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--min-severity",
            "medium",
            "--format",
            "plain",
            str(WORKFLOWS),
            str(ROOT / "action.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_zizmor_suppression_is_justified_inline():
    for path in [*WORKFLOWS.glob("*.yml"), ROOT / "action.yml"]:
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                reason = line.split("]", 1)[1].strip()
                assert len(reason.split()) >= 5, f"{path.name}: suppression without a reason: {line.strip()}"


@pytest.mark.parametrize(
    "schema, files",
    [("vendor.github-workflows", sorted(WORKFLOWS.glob("*.yml"))), ("vendor.github-actions", [ROOT / "action.yml"])],
)
def test_github_schemas_accept_them(schema, files):
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_inputs_and_outputs():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert {"github-token", "mode", "base-ref", "docker", "base-image", "fail-on", "bot-login"} <= set(action["inputs"])
    assert {"verdict", "complete", "report", "servers"} <= set(action["outputs"])
    assert action["runs"]["using"] == "docker" and action["inputs"]["fail-on"]["default"] == "error"
