"""The registry audit with the Docker sandbox: a registry made stale in each way the issue names shows up as
newly failing, with the right server, in the JSON, the Markdown and the HTML; the rest is carried over; a
killed shard is `error`. Real servers (the sandbox tests' answer servers, the nemo-gym 0.4.0 wheel's own
`nemo_gym/` and `equivalence_llm_judge`), a real daemon, real git checkouts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.audit_registry import add_wheel_server, answer_registry, installable_registry
from tests.audit_support import audit, entry, html_section, newly_failing, section
from tests.corpus import CorpusUnavailable, corpus_root, wheel_path
from tests.docker_support import base_image, ca_bundle, daemon_state, docker_skip_reason, leftovers
from tests.sandbox.sandbox_fixtures import answer_server

pytestmark = pytest.mark.docker
NO_SUCH_PACKAGE = "gym-review-audit-no-such-package==21.0.0\n"


@pytest.fixture(autouse=True)
def _needs_docker() -> None:
    reason = docker_skip_reason()
    if reason:
        pytest.skip(f"Docker tests skipped: {reason}")


@pytest.fixture
def nothing_left():
    before = daemon_state()
    yield
    assert leftovers(before) == {"containers": set(), "networks": set(), "images": set()}


def sandbox() -> list[str]:
    """The sandbox on the local base image (and the host's CA bundle, for a TLS-intercepting proxy)."""
    ca = ["--ca-bundle", str(ca_bundle())] if ca_bundle() else []
    return ["--docker", "--base-image", base_image(), *ca, "--boot-timeout", "120", "--request-timeout", "20"]


def wheel() -> Path:
    try:
        return wheel_path()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot download the nemo-gym 0.4.0 wheel (offline?): {exc}")


def flip_first_reward(server_dir: Path) -> None:
    """The first stored reward changed (1 <-> 0): the rollouts no longer match what verify() returns."""
    path = server_dir / "data" / "example_rollouts.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[0])
    row["reward"] = 0.0 if row["reward"] else 1.0
    lines[0] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")


def test_a_changed_reward_and_a_requirement_that_no_longer_installs_are_newly_failing(tmp_path, nothing_left):
    repo = answer_registry(tmp_path / "registry", ("answer_a", "answer_b", "answer_c"))
    started = time.monotonic()
    code, week1, _, _ = audit(repo.path, tmp_path / "week1", *sandbox(), "--jobs", "2")
    took = time.monotonic() - started
    assert code == 0 and week1["sandbox"] and week1["base_image"]["id"].startswith("sha256:")
    for server in week1["servers"]:
        assert server["verdict"] == "pass" and server["replay"]["mode"] == "no_model", server["name"]
        assert server["keys"]["packages"] and server["timings"]["boot_s"] > 0
    assert took < sum(s["wall_s"] for s in week1["servers"])  # --jobs 2: sandboxes ran side by side

    flip_first_reward(repo.path / "resources_servers/answer_a")
    with open(repo.path / "resources_servers/answer_b/requirements.txt", "a") as fh:
        fh.write(NO_SUCH_PACKAGE)
    repo.commit("a stored reward changed; a requirement that no longer installs")
    code, week2, markdown, html = audit(
        repo.path, tmp_path / "week2", *sandbox(), "--github-repo", "org/gym", previous=tmp_path / "week1/audit.json"
    )
    assert code == 1 and newly_failing(week2) == ["answer_a", "answer_b"]
    assert entry(week2, "answer_a")["failing"] == ["GR203"] and entry(week2, "answer_b")["failing"] == ["GR201"]
    assert [s["name"] for s in week2["servers"] if s["carried"]] == ["answer_c"]
    assert entry(week2, "answer_c")["keys"]["packages"] == entry(week1, "answer_c")["keys"]["packages"]
    line = section(markdown, "Newly failing")
    assert "`answer_a`" in line and "(GR203)" in line and "`answer_b`" in line and "(GR201)" in line
    assert "`answer_c`" not in line
    item = html_section(html, "newly-failing")
    assert 'data-server="answer_a"' in item and 'data-server="answer_b"' in item and "answer_c" not in item


MEMORY_HOG = "hog = []\n        while True:\n            hog.append(b'x' * (64 << 20))\n        reward = 0.0"


def test_jobs_run_sandboxes_side_by_side_each_within_its_own_memory_limit(tmp_path, nothing_left):
    repo = answer_registry(tmp_path / "registry", ("answer_a",))
    repo.server("memory_hog", answer_server("memory_hog", verify_body=MEMORY_HOG))
    repo.commit("a verify() that eats memory")
    started = time.monotonic()
    code, report, _, _ = audit(repo.path, tmp_path / "out", *sandbox(), "--jobs", "2", "--memory", "2g")
    took = time.monotonic() - started
    assert code == 1 and entry(report, "answer_a")["verdict"] == "pass"
    hog = entry(report, "memory_hog")
    gr203 = next(f for f in hog["report"]["findings"] if f["id"] == "GR203")
    assert hog["failing"] == ["GR203"] and "out of memory (limit --memory 2g)" in gr203["message"]
    assert took < sum(s["wall_s"] for s in report["servers"])  # the two sandboxes overlapped


def test_a_nemo_gym_change_that_breaks_a_base_class_fails_the_servers_that_run_it(tmp_path, nothing_left):
    """The checkout's own nemo_gym/ (the wheel's), installed by a server as NeMo Gym's are (`-e nemo-gym[dev] @
    ../../`); a base class gains a required field. A server pinned to the released nemo-gym is re-run and passes."""
    try:
        unpacked = corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot unpack the nemo-gym 0.4.0 wheel (offline?): {exc}")
    repo = installable_registry(tmp_path / "registry", unpacked, ("answer_core",))
    repo.server("answer_pinned", answer_server("answer_pinned"))
    repo.commit("a server on the released nemo-gym")
    code, _, _, _ = audit(repo.path, tmp_path / "week1", *sandbox(), "--build-timeout", "1800")
    assert code == 0
    base = repo.path / "nemo_gym" / "base_resources_server.py"
    text = base.read_text()
    marker = "class BaseRunRequest(BaseModel):\n    responses_create_params: NeMoGymResponseCreateParamsNonStreaming\n"
    assert marker in text
    base.write_text(text.replace(marker, marker + "    task_id: str\n"))
    repo.commit("base: every request names its task")
    code, week2, markdown, html = audit(
        repo.path, tmp_path / "week2", *sandbox(), "--build-timeout", "1800", previous=tmp_path / "week1/audit.json"
    )
    assert code == 1 and newly_failing(week2) == ["answer_core"]
    core = entry(week2, "answer_core")
    assert core["failing"] == ["GR203"] and core["reason"] == "nemo_gym/ changed"
    pinned = entry(week2, "answer_pinned")
    assert pinned["verdict"] == "pass" and not pinned["carried"] and pinned["reason"] == "nemo_gym/ changed"
    assert "`answer_core`" in section(markdown, "Newly failing") and "answer_pinned" not in section(
        markdown, "Newly failing"
    )
    assert 'data-server="answer_core"' in html_section(html, "newly-failing")


def test_a_judge_prompt_edit_reruns_the_judge_server_and_never_passes_it(tmp_path, nothing_left):
    """The wheel's equivalence_llm_judge, whose rollouts record their judge calls. Its prompt edited, it is run
    again: the recorded-judge replay answers its judge in week 1 (a pass), and in week 2 verify() asks the judge
    what the recording does not hold, so the edit shows as newly failing."""
    repo = answer_registry(tmp_path / "registry", ("answer_a",))
    add_wheel_server(repo, wheel(), "equivalence_llm_judge")
    # The wheel's config names two example datasets' licence "TBD" (GR113): named, so week 1 can pass.
    config = repo.path / "resources_servers/equivalence_llm_judge/configs/equivalence_llm_judge.yaml"
    config.write_text(config.read_text().replace('license: "TBD"', "license: Apache 2.0"))
    repo.commit("dataset licences named")
    _, week1, _, _ = audit(repo.path, tmp_path / "week1", *sandbox())
    prompt = repo.path / "resources_servers/equivalence_llm_judge/prompt_templates/equivalence_llm_judge.txt"
    prompt.write_text(prompt.read_text().replace("[[A=B]]", "[[EQUAL]]"))
    repo.commit("judge prompt edited")
    _, week2, markdown, html = audit(repo.path, tmp_path / "week2", *sandbox(), previous=tmp_path / "week1/audit.json")
    judge, before = entry(week2, "equivalence_llm_judge"), entry(week1, "equivalence_llm_judge")
    assert judge["keys"]["server_tree"] != before["keys"]["server_tree"] and not judge["carried"]
    assert judge["verdict"] != "pass" and entry(week2, "answer_a")["carried"]
    assert before["verdict"] == "pass" and before["replay"]["mode"] == "recorded_judge", before["replay"]
    assert before["replay"]["recorded_judge"] == before["replay"]["rollouts"] == 5
    assert newly_failing(week2) == ["equivalence_llm_judge"]
    assert "`equivalence_llm_judge`" in section(markdown, "Newly failing")
    assert 'data-server="equivalence_llm_judge"' in html_section(html, "newly-failing")


def _owned_by(labels: dict | None, pid: int) -> bool:
    from gym_review_bot.sandbox.docker_api import LABEL_OWNER

    return (labels or {}).get(LABEL_OWNER, "").startswith(f"{socket.gethostname()}:{pid}:")


def _remove_objects_of(pid: int) -> None:
    """What a SIGKILLed audit left on the daemon: its containers, networks and images (a build's layers too,
    children before parents), found by their owner label; shared dependency images carry none. The low-level
    listings: an object another run removes meanwhile is simply not there."""
    import docker

    from gym_review_bot.sandbox.docker_api import LABEL_OWNER

    client = docker.from_env()
    api, mine = client.api, {"label": LABEL_OWNER}
    try:
        for container in api.containers(all=True, filters=mine):
            if _owned_by(container.get("Labels"), pid):
                api.remove_container(container["Id"], force=True)
        for network in api.networks(filters=mine):
            if _owned_by(network.get("Labels"), pid):
                api.remove_network(network["Id"])
        images = [i["Id"] for i in api.images(all=True, filters=mine) if _owned_by(i.get("Labels"), pid)]
        while images:
            left = []
            for image in images:
                try:
                    api.remove_image(image, force=True)
                except docker.errors.ImageNotFound:
                    pass
                except docker.errors.APIError:
                    left.append(image)  # it has children: they go first
            if len(left) == len(images):
                raise AssertionError(f"cannot remove the killed run's images: {left}")
            images = left
    finally:
        client.close()


def _serving(pid: int) -> bool:
    """Whether the audit has a server container (a finished run removes its own: this is the next one's)."""
    import docker

    from gym_review_bot.sandbox.docker_api import LABEL_OWNER

    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": LABEL_OWNER})
        return any(_owned_by(c.get("Labels"), pid) and c["Names"][0].endswith("-server") for c in found)
    finally:
        client.close()


def test_a_killed_shard_shows_error_never_pass(tmp_path, nothing_left):
    repo = answer_registry(tmp_path / "registry", ("answer_a", "answer_b"))
    plan = tmp_path / "plan.json"
    subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "audit-plan", "--repo", str(repo.path), "--shards", "1",
         "--output", str(plan)],
        check=True, capture_output=True,
    )  # fmt: skip
    report = tmp_path / "shard" / "audit.json"
    report.parent.mkdir()
    shard = subprocess.Popen(
        [sys.executable, "-m", "gym_review_bot", "audit", "--repo", str(repo.path), "--shard", "1/1", *sandbox(),
         "--json", str(report), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and shard.poll() is None:
            if report.is_file() and json.loads(report.read_text())["servers"] and _serving(shard.pid):
                break  # the first server is done and written; the second one's server is starting
            time.sleep(0.5)
        assert shard.poll() is None, "the shard finished before it could be killed"
        os.kill(shard.pid, signal.SIGKILL)  # a runner lost mid-job
        shard.wait()
    finally:
        if shard.poll() is None:
            shard.kill()
            shard.wait()
        _remove_objects_of(shard.pid)
    killed = json.loads(report.read_text())
    assert not killed["finished"] and [s["name"] for s in killed["servers"]] == ["answer_a"]
    merged = tmp_path / "merged.json"
    done = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "audit-merge", "--plan", str(plan), "--json", str(merged),
         "--markdown", str(tmp_path / "merged.md"), str(report)],
        capture_output=True, text=True,
    )  # fmt: skip
    joined = json.loads(merged.read_text())
    assert done.returncode == 3 and joined["verdict"] == "error" and not joined["finished"]
    b = entry(joined, "answer_b")
    assert b["verdict"] == "error" and b["reason"] == "no result: shard 1/1 stopped before this server"
    assert entry(joined, "answer_a")["verdict"] == "pass"
    assert "1 not judged" in (tmp_path / "merged.md").read_text()
