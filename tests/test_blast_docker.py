"""Core changes judged with the sandbox (issue 22): hand-written PRs to `nemo_gym/` on a small registry of real
servers of the nemo-gym 0.4.0 wheel, each installing the checkout's own `nemo_gym/` (`-e nemo-gym[dev] @ ../../`,
as NeMo Gym's servers do), so a change there changes what they run. Each PR breaks a set of servers known from
reading the files; GR501 must name exactly those, with the check that breaks.

The answer keys, from the wheel's code:

- `example_single_tool_call` and `format_verification` override `setup_webserver(self)`; `equivalence_rule` and
  `circle_count` inherit it. All four configs name no model server: every one is replayable, all are sampled.
- `equivalence_rule` and `format_verification` have example rollouts that carry `agent_ref` (`type`, `name`);
  the other two carry none.
- The resources-server entries of `equivalence_rule`, `format_verification` and `circle_count` carry a `value:`
  key; `example_single_tool_call`'s carries only `entrypoint`, `domain`, `verified` and `description`.
- `circle_count`'s stored rollouts are stale at the merge base already (GR203 fails there: docs/sandbox.md), so
  GR203 failing here is pre-existing, never a break.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit_registry import installable_registry
from tests.conftest import GitRepo, write_tree
from tests.corpus import CorpusUnavailable, corpus_root, wheel_path
from tests.sandbox.conftest import wheel_server
from tests.test_audit_docker import _needs_docker, nothing_left  # noqa: F401 - fixtures: a daemon, nothing left
from tests.test_audit_docker import sandbox as audit_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]  # the daemon as it was found
SERVERS = ("circle_count", "equivalence_rule", "example_single_tool_call", "format_verification")
BASE = "nemo_gym/base_resources_server.py"
UTILS = "nemo_gym/server_utils.py"
RUN_REQUEST = "class BaseRunRequest(BaseModel):\n    responses_create_params: NeMoGymResponseCreateParamsNonStreaming\n"


def sandbox() -> list[str]:
    # A cold install of nemo_gym's dependencies takes minutes; a boot under a loaded daemon can take two (a boot
    # that timed out here and not at the base would read as a break).
    return [*audit_sandbox(), "--build-timeout", "1800", "--boot-timeout", "300", "--request-timeout", "60"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """main: the wheel's nemo_gym/ at the root, installable, and four of its servers as the wheel has them."""
    try:
        unpacked, wheel = corpus_root(), wheel_path()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot fetch the nemo-gym 0.4.0 wheel (offline?): {exc}")
    repo = installable_registry(tmp_path_factory.mktemp("blast") / "registry", unpacked, ())
    for name in SERVERS:
        files = wheel_server(wheel, name)
        assert files["requirements.txt"] == b"-e nemo-gym[dev] @ ../../\n"  # it runs the checkout's nemo_gym/
        write_tree(repo.path / "resources_servers" / name, files)
    repo.commit("four servers of the wheel")
    return repo


@pytest.fixture(scope="module")
def last_audit(registry: GitRepo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`gym-review audit --docker` of main, as the weekly audit leaves it: the merge base's results."""
    out = tmp_path_factory.mktemp("audit") / "audit.json"
    registry.git("checkout", "-q", "main")
    cmd = ["audit", "--repo", str(registry.path), *sandbox(), "--json", str(out), "--quiet"]
    done = subprocess.run([sys.executable, "-m", "gym_review_bot", *cmd], capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    assert {s["name"] for s in json.loads(out.read_text())["servers"]} == set(SERVERS)
    return out


def pull_request(repo: GitRepo, branch: str, edits: list[tuple[str, str, str]]) -> None:
    """A branch off main with each (path, old, new) edit made (each `old` must be there: the answer key holds)."""
    repo.git("checkout", "-q", "-B", branch, "main")
    for path, old, new in edits:
        text = (repo.path / path).read_text()
        assert old in text, f"{path}: {old!r} is not there"
        (repo.path / path).write_text(text.replace(old, new, 1))
    repo.commit(branch)
    repo.git("checkout", "-q", "main")


def review(repo: GitRepo, branch: str, out: Path, *extra: str) -> tuple[int, dict, str]:
    """`gym-review check --base main --head BRANCH` with the sandbox: exit code, JSON report, comment."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = ["check", "--repo", str(repo.path), "--base", "main", "--head", branch, *sandbox(), *extra]
    cmd += ["--json", str(out / "report.json"), "--markdown", str(out / "comment.md"), "--quiet"]
    done = subprocess.run([sys.executable, "-m", "gym_review_bot", *cmd], capture_output=True, text=True)
    assert (out / "report.json").is_file(), done.stderr
    return done.returncode, json.loads((out / "report.json").read_text()), (out / "comment.md").read_text()


def gr501(report: dict) -> dict:
    return next(f for f in report["pr"]["findings"] if f["id"] == "GR501")


def broken(report: dict) -> set[tuple[str, str]]:
    """(server, check) of every break GR501 names, from the report's blast radius."""
    return {(row["name"], c["id"]) for row in report["blast"]["results"] for c in row["breaks"]}


def judged_all(report: dict) -> None:
    """Every server was sampled and judged: no row left `error` (then the answer key would prove nothing)."""
    blast = report["blast"]
    assert sorted(blast["sampled"]) == list(SERVERS) and blast["not_sampled"] == []
    assert {r["name"]: r["outcome"] for r in blast["results"] if r["outcome"] in ("error", "not_run")} == {}


def test_a_base_class_method_breaks_the_servers_that_override_it(registry, last_audit, tmp_path):
    """`SimpleResourcesServer.setup_webserver` now takes the app to set up: the servers overriding the old
    signature no longer boot; those inheriting it are untouched."""
    pull_request(
        registry,
        "base-class-method",
        [
            (BASE, "    def setup_webserver(self) -> FastAPI:\n        app = FastAPI()\n\n        self.setup_session",
             "    def setup_webserver(self, app: FastAPI) -> FastAPI:\n        self.setup_session"),
            (UTILS, "        app = server.setup_webserver()\n        server.setup_liveness(app)",
             "        app = server.setup_webserver(FastAPI())\n        server.setup_liveness(app)"),
        ],
    )  # fmt: skip
    code, report, comment = review(registry, "base-class-method", tmp_path, "--audit", str(last_audit))
    judged_all(report)
    assert broken(report) == {("example_single_tool_call", "GR202"), ("format_verification", "GR202")}
    finding = gr501(report)
    assert finding["status"] == "fail" and finding["severity"] == "warning" and code == 0  # a warning by default
    assert "`example_single_tool_call`: GR202" in finding["message"] and "equivalence_rule" not in finding["message"]
    rows = {r["name"]: r for r in report["blast"]["results"]}
    assert rows["circle_count"]["outcome"] == "pre_existing" and "GR203" in rows["circle_count"]["pre_existing"]
    assert rows["circle_count"]["base_from"] == "audit" and rows["equivalence_rule"]["base_from"] != "run"
    assert set(report["blast"]["modules"]) == {BASE, UTILS}
    line = next(ln for ln in comment.splitlines() if "**Core change:**" in ln)
    assert r"4 servers import it, 4 sampled, 2 break: <code>example\_single\_tool\_call</code> GR202" in line


def test_a_request_schema_field_breaks_the_servers_whose_rollouts_send_it(registry, last_audit, tmp_path):
    """`BaseRunRequest.agent_ref` becomes a typed field whose `version` is required: the stored rollouts that send
    an `agent_ref` (without one) are refused (HTTP 422); the others replay as before."""
    pull_request(
        registry,
        "request-schema-field",
        [
            (
                BASE,
                RUN_REQUEST,
                "class AgentRef(BaseModel):\n    type: str\n    name: str\n    version: str\n\n\n"
                f"{RUN_REQUEST}    agent_ref: Optional[AgentRef] = None\n",
            )
        ],
    )
    _, report, comment = review(registry, "request-schema-field", tmp_path, "--audit", str(last_audit))
    judged_all(report)
    assert broken(report) == {("equivalence_rule", "GR203"), ("format_verification", "GR203")}
    rows = {r["name"]: r for r in report["blast"]["results"]}
    rewards = rows["equivalence_rule"]["rewards"]
    assert [(r["line"], r["stored"], r["base"], r["head"]) for r in rewards] == [
        (1, 1.0, 1.0, None), (2, 0.0, 0.0, None), (3, 0.0, 0.0, None), (4, 0.0, 0.0, None), (5, 0.0, 0.0, None)
    ]  # fmt: skip
    assert all("422" in r["note"] for r in rewards)
    assert "line 1: stored 1, base 1, head none" in gr501(report)["message"]
    assert "line 1: stored 1, base 1, head none" in comment and r"<summary>⚠️ <code>equivalence\_rule</code>" in comment


def test_a_config_key_breaks_the_servers_whose_config_carries_an_undeclared_key(registry, tmp_path):
    """Resources-server configs refuse unknown keys (`verified` and `description` declared, `value` not): the servers
    whose entry carries `value:` no longer boot. No audit report: each merge base is reviewed in a run of its own."""
    pull_request(
        registry,
        "config-key",
        [
            (BASE, "from pydantic import BaseModel\n", "from pydantic import BaseModel, ConfigDict\n"),
            (
                BASE,
                "class BaseResourcesServerConfig(BaseRunServerInstanceConfig):\n    pass\n",
                "class BaseResourcesServerConfig(BaseRunServerInstanceConfig):\n"
                '    model_config = ConfigDict(extra="forbid")\n\n    verified: bool = False\n'
                "    description: Optional[str] = None\n",
            ),
        ],
    )
    _, report, _ = review(registry, "config-key", tmp_path)
    judged_all(report)
    assert broken(report) == {
        ("circle_count", "GR202"),
        ("equivalence_rule", "GR202"),
        ("format_verification", "GR202"),
    }
    rows = {r["name"]: r for r in report["blast"]["results"]}
    assert rows["example_single_tool_call"]["outcome"] in ("passes", "pre_existing")
    assert {r["base_from"] for r in rows.values() if r["outcome"] == "breaks"} == {"run"}


def test_a_docs_only_pr_has_no_core_change(registry, tmp_path):
    registry.git("checkout", "-q", "-B", "docs-only", "main")
    (registry.path / "README.md").write_text("# A registry\n\nNow with more words.\n")
    registry.commit("docs")
    registry.git("checkout", "-q", "main")
    _, report, comment = review(registry, "docs-only", tmp_path)
    assert report["blast"] is None
    assert gr501(report)["status"] == "skip" and gr501(report)["skip_kind"] == "not_applicable"
    assert "GR501" not in comment and "Core change" not in comment
