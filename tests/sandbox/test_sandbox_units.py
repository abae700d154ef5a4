"""The sandbox's parts that need no Docker: requirements, config, options, findings, the replay client."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from conftest import make_git_tree, server_files
from sandbox_fixtures import answer_server

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.sandbox.catalogue import SANDBOX_CHECKS, skipped_findings
from gym_review_bot.sandbox.image import base_image
from gym_review_bot.sandbox.options import SandboxOptions, add_cli_arguments, options_from_args
from gym_review_bot.sandbox.replay import read_rollouts, strip_nulls
from gym_review_bot.sandbox.requirements import read_requirements
from gym_review_bot.sandbox.runner import run_sandbox
from gym_review_bot.sandbox.server_config import load_server_config

SERVER = "resources_servers/demo"


def tree_with(tmp_path: Path, files: dict[str, str]) -> object:
    return make_git_tree(tmp_path / "repo", files)


# --- GR207 and the install plan -------------------------------------------------------------------


def test_requirements_from_the_index_are_installed_and_pass(tmp_path: Path) -> None:
    tree = tree_with(tmp_path, {f"{SERVER}/requirements.txt": "nemo-gym==0.4.0  # pinned\nnumpy>=1.26\n"})
    reqs = read_requirements(tree, SERVER)
    assert reqs.lines == ["nemo-gym==0.4.0", "numpy>=1.26"]
    assert reqs.url_dependencies == [] and reqs.local == []


def test_index_url_and_vcs_requirements_are_reported_and_not_installed(tmp_path: Path) -> None:
    text = (
        "nemo-gym==0.4.0\n"
        "--extra-index-url https://pypi.example.com/simple\n"
        "-i https://mirror.example.com/simple\n"
        "--find-links=/wheels\n"
        "mylib @ git+https://github.com/example/mylib@v1\n"
        "https://example.com/pkg-1.0.tar.gz\n"
        "-e git+https://github.com/example/other#egg=other\n"
    )
    tree = tree_with(tmp_path, {f"{SERVER}/requirements.txt": text})
    reqs = read_requirements(tree, SERVER)
    assert reqs.lines == ["nemo-gym==0.4.0"]
    assert [(u.line, u.reason.split(" (")[0]) for u in reqs.url_dependencies] == [
        (2, "changes the package index"),
        (3, "changes the package index"),
        (4, "changes the package index"),
        (5, "installs from a version-control URL"),
        (6, "installs from a URL"),
        (7, "installs from a version-control URL"),
    ]
    allowed = read_requirements(tree, SERVER, allow_urls=True)
    assert len(allowed.lines) == 7


def test_nemo_gym_tree_requirement_installs_the_checkout_root(tmp_path: Path) -> None:
    files = {
        f"{SERVER}/requirements.txt": "-e nemo-gym[dev] @ ../../\n-r extra.txt\n",
        f"{SERVER}/extra.txt": "sympy==1.13\n",
        "pyproject.toml": "[project]\nname = 'nemo-gym'\n",
        "nemo_gym/__init__.py": "",
        "resources_servers/other/app.py": "",
    }
    tree = tree_with(tmp_path, files)
    reqs = read_requirements(tree, SERVER)
    assert [(d.path, d.extras) for d in reqs.local] == [("", "[dev]")]
    assert reqs.lines == ["sympy==1.13"] and reqs.url_dependencies == []
    from gym_review_bot.sandbox.requirements import local_files

    # Other servers' trees (and the server itself) are not part of the dependency install.
    assert [e.path for e in local_files(tree, reqs.local[0])] == ["nemo_gym/__init__.py", "pyproject.toml"]


def test_paths_outside_the_checkout_are_reported(tmp_path: Path) -> None:
    text = "-e ../../../../elsewhere\nlib @ file:///opt/lib\n-r ../../../secrets.txt\n"
    tree = tree_with(tmp_path, {f"{SERVER}/requirements.txt": text})
    reqs = read_requirements(tree, SERVER)
    assert reqs.lines == [] and reqs.local == []
    assert [u.line for u in reqs.url_dependencies] == [1, 2, 3]


def test_pyproject_dependencies_and_uv_path_sources(tmp_path: Path) -> None:
    pyproject = (
        "[project]\nname = 'demo'\ndependencies = ['nemo-gym[dev]', 'numpy==2.0', 'lib @ https://x.org/lib.whl']\n"
        "[tool.uv.sources]\nnemo-gym = { path = '../../', editable = true }\n"
    )
    tree = tree_with(tmp_path, {f"{SERVER}/pyproject.toml": pyproject, "pyproject.toml": "[project]\n"})
    reqs = read_requirements(tree, SERVER)
    assert reqs.source == f"{SERVER}/pyproject.toml"
    assert reqs.lines == ["numpy==2.0"]
    assert [(d.path, d.extras) for d in reqs.local] == [("", "[dev]")]
    assert [u.line for u in reqs.url_dependencies] == [3]


# --- The config the sandbox boots -----------------------------------------------------------------


def test_server_config_keeps_only_the_server_entry_on_a_fixed_port(tmp_path: Path) -> None:
    files = server_files("demo", answer_server("demo"))
    cfg = load_server_config(tree_with(tmp_path, files), "demo")
    assert cfg.error is None and cfg.key == "demo" and cfg.entrypoint == "app.py"
    doc = json.loads(json.dumps(__import__("yaml").safe_load(cfg.yaml_text)))
    assert list(doc) == ["demo"]  # the agent entry, which needs a policy model, is left out
    entry = doc["demo"]["resources_servers"]["demo"]
    assert (entry["host"], entry["port"], entry["domain"]) == ("0.0.0.0", 8000, "knowledge")
    assert cfg.dependencies == []


def test_server_config_names_the_servers_verify_depends_on(tmp_path: Path) -> None:
    config = (
        "judge:\n  resources_servers:\n    judge:\n      entrypoint: app.py\n"
        "      judge_model_server:\n        type: responses_api_models\n        name: judge_model\n"
    )
    files = {f"{SERVER}/configs/judge.yaml": config, f"{SERVER}/app.py": ""}
    cfg = load_server_config(tree_with(tmp_path, files), "demo")
    assert cfg.dependencies == ["responses_api_models/judge_model"]
    doc = __import__("yaml").safe_load(cfg.yaml_text)
    # NeMo Gym's ServerClient finds it at host/port: the replay client's stand-in on the shared loopback.
    standin = doc["judge_model"]["responses_api_models"]["judge_model"]
    assert (standin["host"], standin["port"]) == ("127.0.0.1", cfg.standin_ports[0])


def test_server_config_refuses_an_entrypoint_outside_the_server(tmp_path: Path) -> None:
    config = "demo:\n  resources_servers:\n    demo:\n      entrypoint: ../../evil.py\n"
    cfg = load_server_config(tree_with(tmp_path, {f"{SERVER}/configs/demo.yaml": config}), "demo")
    assert cfg.error and "leaves the server directory" in cfg.error


def test_the_sandbox_boots_only_what_gr103_accepts(tmp_path: Path) -> None:
    """One config reader: a config GR103 refuses (a key twice, two documents, an entrypoint naming no file) is
    not booted either, and the sandbox says why."""
    twice = "demo:\n  resources_servers:\n    demo:\n      entrypoint: app.py\n      entrypoint: evil.py\n"
    cfg = load_server_config(
        tree_with(tmp_path / "a", {f"{SERVER}/configs/demo.yaml": twice, f"{SERVER}/app.py": ""}), "demo"
    )
    assert cfg.error and "appears twice" in cfg.error and cfg.yaml_text == b""
    missing = "demo:\n  resources_servers:\n    demo:\n      entrypoint: server.py\n"
    cfg = load_server_config(tree_with(tmp_path / "b", {f"{SERVER}/configs/demo.yaml": missing}), "demo")
    assert cfg.error and "names no file" in cfg.error


def test_server_without_a_config_cannot_be_configured(tmp_path: Path) -> None:
    cfg = load_server_config(tree_with(tmp_path, {f"{SERVER}/app.py": ""}), "demo")
    assert cfg.error and "resources_servers" in cfg.error


# --- Options, base image, findings ----------------------------------------------------------------


def test_cli_flags_map_onto_options_with_the_issue_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    assert options_from_args(parser.parse_args([])) == SandboxOptions()
    args = parser.parse_args(
        ["--base-image", "img:1", "--ca-bundle", "/ca.pem", "--boot-timeout", "5", "--request-timeout", "2",
         "--concurrency", "3", "--test-timeout", "9", "--memory", "1g", "--pids", "64", "--cpus", "0.5",
         "--allow-url-deps", "--replay-timeout", "7"]
    )  # fmt: skip
    opts = options_from_args(args)
    assert opts == SandboxOptions(
        base_image="img:1", ca_bundle=Path("/ca.pem"), boot_timeout=5, request_timeout=2, concurrency=3,
        test_timeout=9, memory="1g", pids=64, cpus=0.5, allow_url_deps=True, replay_timeout=7,
    )  # fmt: skip
    assert SandboxOptions().replay_timeout == 300


def test_options_written_as_json_read_back_the_same_and_a_wrong_type_is_refused() -> None:
    """What a child process is handed: written by models.plain (the one writer), read back by pydantic."""
    import pydantic
    import pytest

    options = SandboxOptions(ca_bundle=Path("/etc/ssl/bundle.crt"), package_hosts=["pypi.internal"], cpus=0.5)
    text = options.to_json()
    assert json.loads(text)["ca_bundle"] == "/etc/ssl/bundle.crt"
    assert SandboxOptions.from_json(text) == options
    with pytest.raises(pydantic.ValidationError):
        SandboxOptions.from_json(text.replace('"cpus": 0.5', '"cpus": "many"'))


def test_ca_bundles_come_from_the_option_and_the_environment(tmp_path: Path, monkeypatch) -> None:
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    a.write_text("A"), b.write_text("B")
    monkeypatch.delenv("PIP_CERT", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(b))
    assert SandboxOptions(ca_bundle=a).ca_bundles() == [a, b]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    assert SandboxOptions().ca_bundles() == []


def test_base_image_follows_option_environment_and_python_version(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GYM_REVIEW_BASE_IMAGE", raising=False)
    plain = tree_with(tmp_path / "a", {"README.md": ""})
    pinned = tree_with(tmp_path / "b", {".python-version": "3.13.1\n"})
    assert base_image(plain, SandboxOptions()) == "python:3.12-slim"
    assert base_image(pinned, SandboxOptions()) == "python:3.13-slim"
    monkeypatch.setenv("GYM_REVIEW_BASE_IMAGE", "local:1")
    assert base_image(pinned, SandboxOptions()) == "local:1"
    assert base_image(pinned, SandboxOptions(base_image="opt:2")) == "opt:2"


def test_catalogue_and_skipped_findings_cover_gr201_to_gr206() -> None:
    ids = [check.id for check in SANDBOX_CHECKS]
    assert ids == [f"GR20{i}" for i in range(1, 7)]  # GR207 reads requirement files: a static check
    assert {check.id: check.severity for check in SANDBOX_CHECKS} == {
        "GR201": "error", "GR202": "error", "GR203": "error", "GR204": "error", "GR205": "error",
        "GR206": "error",
    }  # fmt: skip
    skipped = skipped_findings("--no-docker was given", "not_requested", "demo")
    assert [f.id for f in skipped] == ids
    assert all(f.status == "skip" and f.skip_kind == "not_requested" and f.title and f.fix for f in skipped)
    assert all(f.fingerprint for f in skipped)


def test_sandbox_checks_are_checks_like_the_static_ones() -> None:
    from gym_review_bot.checks.base import Check

    assert all(isinstance(c, Check) for c in SANDBOX_CHECKS)
    static = Catalogue().static_server_checks()
    assert not {c.id for c in SANDBOX_CHECKS} & {c.id for c in static}
    assert "GR207" in {c.id for c in static} and all(c.phase == "sandbox" and c.run is None for c in SANDBOX_CHECKS)
    from gym_review_bot.sandbox import replay

    assert not hasattr(replay, "Outcome")  # one Outcome class: checks.base.Outcome


def test_without_a_daemon_the_sandbox_checks_are_errors_not_passes_or_skips(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    files = server_files("demo", answer_server("demo", requirements="nemo-gym==0.4.0\n-f /wheels\n"))
    result = run_sandbox(tree_with(tmp_path, files), "demo", SandboxOptions())
    by_id = {f.id: f for f in result.findings}
    for i in range(1, 7):
        assert by_id[f"GR20{i}"].status == "error" and "no Docker daemon reachable" in by_id[f"GR20{i}"].message
    assert "GR207" not in by_id  # a static check of the requirement files (checks/requirements.py)
    assert result.timings.build_s is None


# --- Rollouts and probes ----------------------------------------------------------------------------


def test_strip_nulls_is_recursive() -> None:
    assert strip_nulls({"a": None, "b": [{"c": None, "d": 1}, None], "e": {"f": None}}) == {
        "b": [{"d": 1}, None],
        "e": {},
    }


def test_probes_replace_the_output_of_a_real_rollout() -> None:
    import runpy
    from importlib import resources

    from sandbox_fixtures import rollout

    script = runpy.run_path(str(resources.files("gym_review_bot.sandbox").joinpath("_replay_client.py")))
    text = script["UNRELATED_TEXTS"][0]
    probes = script["probe_bodies"](rollout("q", "Paris", "It is Paris.", 1.0), text)
    assert probes["empty response"]["response"]["output"] == []
    message = probes["unrelated text"]["response"]["output"][0]
    assert message["content"][0]["text"] == text and "Paris" not in text
    assert (
        message["id"].startswith("msg_")
        and message["id"] != script["probe_bodies"]({}, text)["unrelated text"]["response"]["output"][0]["id"]
    )  # a random id each time: a verify() cannot tell a probe by it
    assert probes["empty response"]["expected_answer"] == "Paris"


# --- Run ownership and log caps -------------------------------------------------------------------


def test_a_run_is_live_while_its_owner_process_runs() -> None:
    import socket
    import subprocess

    from gym_review_bot.sandbox.docker_api import owner_alive, owner_label

    assert owner_alive(owner_label(), set())
    child = subprocess.Popen(["true"])
    child.wait()
    assert not owner_alive(f"{socket.gethostname()}:{child.pid}:1", set())
    # Same pid, other start time: the pid was reused by another process.
    host, pid, _ = owner_label().split(":")
    assert not owner_alive(f"{host}:{pid}:1", set())
    assert owner_alive("bot-container:7:99", {"bot-container"})
    assert not owner_alive("gone-container:7:99", {"bot-container"})


def test_logs_read_from_a_container_are_capped() -> None:
    from gym_review_bot.sandbox.docker_api import LOG_CAP_BYTES, cap_log

    flood = b"".join(b"line %d\n" % i for i in range(200_000))
    tail = cap_log(flood, lines=10)
    assert tail.splitlines() == [f"line {i}" for i in range(199_990, 200_000)]
    assert len(cap_log(b"x" * (10 * LOG_CAP_BYTES), lines=10)) <= LOG_CAP_BYTES


def test_build_context_streams_files_and_keeps_symlinks_as_links(tmp_path: Path) -> None:
    import os
    import subprocess
    import tarfile

    from gym_review_bot.sandbox.context import STREAM_BYTES, ContextWriter
    from gym_review_bot.sources import FsTree, GitTree

    big = os.urandom(STREAM_BYTES + 7)
    make_git_tree(tmp_path / "repo", {f"{SERVER}/data/big.bin": big, f"{SERVER}/app.py": "x = 1\n"})
    os.symlink("/etc/passwd", tmp_path / "repo" / SERVER / "leak")
    subprocess.run(["git", "add", "-A"], cwd=tmp_path / "repo", check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "link"], cwd=tmp_path / "repo", check=True
    )
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "repo", capture_output=True, text=True)
    for source in (GitTree(tmp_path / "repo", head.stdout.strip()), FsTree(tmp_path / "repo")):
        writer = ContextWriter()
        for entry in source.walk(SERVER):
            writer.add_entry(source, entry, f"src/{entry.path}")
        with tarfile.open(fileobj=writer.close()) as tar:
            assert tar.extractfile(f"src/{SERVER}/data/big.bin").read() == big
            link = tar.getmember(f"src/{SERVER}/leak")
            assert link.issym() and link.linkname == "/etc/passwd"  # a link, not /etc/passwd's content


def test_flags_and_catalogue_import_without_the_docker_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import gym_review_bot.cli, gym_review_bot.review\n"
        "from gym_review_bot.sandbox import options, catalogue\n"
        "assert 'docker' not in sys.modules, 'the Docker SDK was imported'\n"
        "from gym_review_bot.sandbox.runner import run_sandbox\n"
        "assert 'docker' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_replay_sends_what_the_agent_sent_not_what_verify_added(tmp_path: Path) -> None:
    from sandbox_fixtures import examples_jsonl, rollout

    from gym_review_bot.sandbox.replay import input_keys

    row = rollout("q", "Paris", "It is Paris.", 1.0) | {"equivalence_score": 0.9, "_ng_task_index": 0}
    files = {
        f"{SERVER}/data/example.jsonl": examples_jsonl(),
        f"{SERVER}/data/example_rollouts.jsonl": json.dumps(row) + "\n",
    }
    tree = tree_with(tmp_path, files)
    keys = input_keys(tree, f"{SERVER}/data/example.jsonl")
    assert keys == {"responses_create_params", "expected_answer", "response"}
    [r] = read_rollouts(tree, f"{SERVER}/data/example_rollouts.jsonl", keys)
    assert set(r.body or {}) == {"responses_create_params", "expected_answer", "response"}
    assert r.reward == 1.0
    # Without example inputs there is nothing to go by: everything but the reward is sent.
    assert input_keys(tree, f"{SERVER}/data/missing.jsonl") is None
    [r] = read_rollouts(tree, f"{SERVER}/data/example_rollouts.jsonl")
    assert "equivalence_score" in (r.body or {}) and "reward" not in (r.body or {})


def test_gr102_that_could_not_tell_is_settled_only_by_verify_answering() -> None:
    from gym_review_bot.models import Finding
    from gym_review_bot.review import _settled

    def gr102(status: str) -> Finding:
        return Finding(id="GR102", severity="error", status=status, title="t", message="cannot tell", fix="f")

    settled = _settled(gr102("error"))  # review.py settles only a GR102 in `error`, and only when /verify answered
    assert settled.status == "pass" and "sandbox settled it" in settled.message


def test_sandbox_failures_are_pre_existing_only_with_the_same_fingerprint() -> None:
    from gym_review_bot.checks.base import failed
    from gym_review_bot.review import _mark_pre_existing
    from gym_review_bot.sandbox.catalogue import sandbox_finding

    def gr203(key: str, returned: str) -> object:
        return sandbox_finding("GR203", failed(f"line 2: returned {returned}", file="d.jsonl", key=key), "demo")

    head = [gr203("2:1.0", "0.0"), gr203("4:1.0", "0.0")]
    marked = _mark_pre_existing(head, [gr203("2:1.0", "0.5")])  # the same stale line; the server said otherwise
    assert [f.pre_existing for f in marked] == [True, False]


def test_the_virtualenv_copy_keeps_links_as_links_and_stays_within_its_budget(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    from importlib import resources

    script = str(resources.files("gym_review_bot.sandbox").joinpath("_copy_tree.py"))
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "lib" / "pkg").mkdir(parents=True)
    (src / "lib" / "pkg" / "mod.py").write_text("X = 1\n")
    os.utime(src / "lib" / "pkg" / "mod.py", (1_000_000, 1_000_000))
    os.symlink("/etc/passwd", src / "leak")
    (src / ".gym-review-tmp").mkdir()
    (src / ".gym-review-tmp" / "scratch").write_text("build leftovers")
    dst.mkdir()
    done = subprocess.run([sys.executable, "-I", script, str(src), str(dst), "100000"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert os.readlink(dst / "leak") == "/etc/passwd"  # a link, never its target's content
    assert (dst / "lib" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert os.stat(dst / "lib" / "pkg" / "mod.py").st_mtime == 1_000_000  # .pyc files stay valid
    assert not (dst / ".gym-review-tmp").exists()
    with open(src / "sparse", "wb") as fh:
        fh.truncate(1 << 30)  # costs its filesystem nothing, would cost the copy 1 GiB
    again = tmp_path / "again"
    again.mkdir()
    over = subprocess.run([sys.executable, "-I", script, str(src), str(again), "100000"], capture_output=True)
    assert over.returncode == 3 and b"over the budget" in over.stdout
