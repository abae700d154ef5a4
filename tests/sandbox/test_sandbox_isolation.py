"""Run time against a real daemon: no route anywhere, a replay the server cannot talk its way out of."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import make_git_tree, server_files
from sandbox_fixtures import STDLIB_APP, answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox
from tests.docker_support import Listener

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


def run(tmp_path: Path, name: str, files: dict, options: SandboxOptions, **kw: bool) -> dict[str, Finding]:
    tree = make_git_tree(tmp_path / "repo", server_files(name, files))
    return {f.id: f for f in run_sandbox(tree, name, options, **kw).findings}


@pytest.fixture
def listener() -> Iterator[Listener]:
    one = Listener("0.0.0.0")
    yield one
    one.close()


@pytest.fixture
def control(options: SandboxOptions) -> Iterator[Any]:
    """A container on the default bridge: it must reach the host listener, or the test cannot fail."""
    dk = docker.from_env()
    box = dk.containers.run(options.base_image, ["sleep", "300"], network_mode="bridge", detach=True)
    try:
        box.reload()
        yield box
    finally:
        box.remove(force=True)
        dk.close()


def gateways(control: Any) -> list[str]:
    """The gateway of every Docker network, docker0's address among them, as Docker reports them."""
    dk = docker.from_env()
    try:
        found = {
            cfg["Gateway"]
            for net in dk.networks.list()
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []
            if cfg.get("Gateway") and ":" not in cfg["Gateway"]
        }
    finally:
        dk.close()
    found.add(control.attrs["NetworkSettings"]["Networks"]["bridge"]["Gateway"])  # the docker0 address
    return sorted(found)


PROBE = """
import socket

TARGETS = {targets!r}


def reached_host() -> bool:
    for target in TARGETS:
        try:
            socket.create_connection(target, timeout=2).close()
            return True
        except OSError:
            pass
    return False
"""

PROBING_TEST = """
from app import reached_host


def test_the_host_is_out_of_reach():
    assert not reached_host()
"""


def test_server_and_tests_reach_no_host_address_while_a_bridge_container_does(
    tmp_path: Path, options: SandboxOptions, listener: Listener, control: Any
) -> None:
    targets = [(gw, listener.port) for gw in gateways(control)]
    # The stored rewards are the fair ones; a verify() that reached the host would return 0.5.
    verify = "reward = 0.5 if reached_host() else (1.0 if body.expected_answer in response_text(body) else 0.0)"
    files = answer_server("no_route", verify_body=verify, extra=PROBE.format(targets=targets), test=PROBING_TEST)
    found = run(tmp_path, "no_route", files, options)
    assert {k: f.status for k, f in found.items()} == {f"GR20{i}": "pass" for i in range(1, 7)}, {
        k: f.message for k, f in found.items() if f.status != "pass"
    }
    assert listener.peers == []
    # The control: the same listener, through the docker0 address, from a container on the default bridge.
    bridge_gw = control.attrs["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
    code = f"import socket; socket.create_connection(({bridge_gw!r}, {listener.port}), timeout=5).close()"
    exit_code, output = control.exec_run(["python3", "-I", "-c", code])
    assert exit_code == 0, output
    deadline = time.monotonic() + 5
    while not listener.peers and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listener.peers, "the control container did not reach the host listener: the test cannot fail"


EXITING_CONFTEST = "import os\n\nos._exit(0)\n"
FAILING = "def test_fails():\n    assert False\n"


def stdlib_server(name: str, verify_status: int = 200, endless_root: bool = False) -> dict[str, str]:
    files = answer_server(name, rewards=[1.0, 1.0, 0.0, 1.0, 1.0])
    files["app.py"] = STDLIB_APP.format(verify_status=verify_status, endless_root=endless_root)
    return files


def test_verify_is_found_by_calling_it_and_a_test_run_without_a_report_fails(
    tmp_path: Path, options: SandboxOptions
) -> None:
    # Reproductions: an openapi listing no paths, with POST /verify answering 0.123, skipped GR203-GR206;
    # conftest.py with os._exit(0) plus a failing test passed GR205.
    files = stdlib_server("hidden_verify")
    files["tests/conftest.py"] = EXITING_CONFTEST
    files["tests/test_app.py"] = FAILING
    found = run(tmp_path, "hidden_verify", files, options)
    assert found["GR202"].status == "pass", found["GR202"].message
    gr203 = found["GR203"]
    assert gr203.status == "fail" and "5 of 5" in gr203.message and "returned 0.123" in gr203.message
    gr205 = found["GR205"]
    assert gr205.status == "fail" and "no junit report" in gr205.message


def test_a_404_from_verify_fails_when_gr102_found_a_verify_and_skips_otherwise(
    tmp_path: Path, options: SandboxOptions
) -> None:
    files = stdlib_server("no_verify", verify_status=404)
    expected = run(tmp_path / "a", "no_verify", files, options, verify_expected=True)
    assert expected["GR203"].status == "fail" and "HTTP 404" in expected["GR203"].message
    unexpected = run(tmp_path / "b", "no_verify", files, options, verify_expected=False)
    assert unexpected["GR203"].status == "skip" and "HTTP 404" in unexpected["GR203"].message


def test_an_endless_answer_to_get_root_is_cut_and_the_boot_times_out(tmp_path: Path, options: SandboxOptions) -> None:
    # Reproduction: an endless 200 body on GET / kept the bot past --boot-timeout 20, growing to 2.1 GB.
    files = stdlib_server("endless_root", endless_root=True)
    tree = make_git_tree(tmp_path / "repo", server_files("endless_root", files))
    start = time.monotonic()
    result = run_sandbox(tree, "endless_root", replace(options, boot_timeout=8))
    gr202 = {f.id: f for f in result.findings}["GR202"]
    assert gr202.status == "fail" and "did not answer GET / within 8 s" in gr202.message
    assert result.timings.boot_s is not None and result.timings.boot_s < 8 + 5
    assert time.monotonic() - start < 300


def test_a_fault_of_the_sandbox_machinery_is_error_not_a_failure_of_the_pr(
    tmp_path: Path, options: SandboxOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gym_review_bot.sandbox import runner

    def broken(*args: object) -> None:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(runner, "load_server_config", broken)  # our own code, not a library's
    found = run(tmp_path, "faulty", answer_server("faulty"), options)
    assert found["GR201"].status == "error" and "OverflowError" in found["GR201"].message
    assert all(found[f"GR20{i}"].status == "error" for i in range(1, 7))


def test_clean_up_problems_reach_the_report_notes_and_stderr(
    tmp_path: Path, options: SandboxOptions, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gym_review_bot.sandbox import docker_api

    real_close = docker_api.RunScope.close

    def close_with_a_problem(self: docker_api.RunScope) -> list[str]:
        return [*real_close(self), "container gym-review-x-server: still present after 60 s"]

    def stop(*args: object) -> None:
        raise RuntimeError("stop here")  # end the run early: only the clean-up matters

    from gym_review_bot.sandbox import runner

    monkeypatch.setattr(docker_api.RunScope, "close", close_with_a_problem)  # our own code, not a library's
    monkeypatch.setattr(runner, "load_server_config", stop)
    tree = make_git_tree(tmp_path / "repo", server_files("untidy", answer_server("untidy")))
    result = run_sandbox(tree, "untidy", options)
    assert any("still present after 60 s" in note for note in result.notes)
    assert "still present after 60 s" in capsys.readouterr().err
    assert not any(f.status == "fail" for f in result.findings)  # not the PR's failure
