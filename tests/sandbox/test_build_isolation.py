"""The dependency build: no PR text in a shell, limits, a network that reaches only the package index."""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from conftest import make_git_tree

from gym_review_bot.sandbox import context, docker_api, image, proxy
from gym_review_bot.sandbox.cleanup import remove_cache_images
from gym_review_bot.sandbox.options import SandboxOptions, add_cli_arguments, options_from_args, package_host
from gym_review_bot.sandbox.requirements import LocalDependency, Requirements, read_requirements
from gym_review_bot.sandbox.runner import run_sandbox
from gym_review_bot.sources import GitTree
from tests.docker_support import Listener

INJECTION = "-e nemo-gym[dev'; echo INJECTED uid=$(id -u); echo '] @ ../../"
INJECTED = re.compile(r"INJECTED uid=\d")
SERVER = "resources_servers/probe"


# --- the proxy script, on this machine's loopback -------------------------------------------------


@contextmanager
def proxy_process(*args: str) -> Iterator[int]:
    """The shipped proxy script on the host (`python3 -I -c`), as the build runs it; its port."""
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", proxy.script(), "--listen", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield int(re.search(r"listening on port (\d+)", line).group(1))  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(10)


def connect_via(proxy_port: int, target: str) -> tuple[str, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n", 1)[0].decode(), sock


def test_proxy_tunnels_to_an_allowed_host_only() -> None:
    target, other = Listener(), Listener()
    try:
        with proxy_process("--trusted", f"127.0.0.1:{target.port}") as port:
            status, sock = connect_via(port, f"127.0.0.1:{target.port}")
            assert " 200 " in status
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            sock.close()
            status, sock = connect_via(port, f"127.0.0.1:{other.port}")
            sock.close()
            assert " 403 " in status
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(f"GET http://127.0.0.1:{target.port}/ HTTP/1.1\r\n\r\n".encode())
            assert b" 405 " in sock.recv(1024)
            sock.close()
        assert other.peers == [] and len(target.peers) == 1
    finally:
        target.close()
        other.close()


def test_proxy_accepts_a_bare_lf_head_and_forwards_what_follows_it() -> None:
    target = Listener()
    try:
        with proxy_process("--trusted", f"127.0.0.1:{target.port}") as port:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(f"CONNECT 127.0.0.1:{target.port} HTTP/1.1\n\nearly".encode())
            answer = b""
            while b"early" not in answer:
                chunk = sock.recv(1024)
                assert chunk, answer
                answer += chunk
            sock.close()
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nearly")
    finally:
        target.close()


def test_proxy_refuses_default_hosts_that_resolve_to_private_or_metadata_addresses() -> None:
    target = Listener()
    try:
        # A default (not operator-named) host must resolve to a public address: loopback is refused.
        with proxy_process("--host", f"127.0.0.1:{target.port}", "--trusted", "169.254.169.254:80") as port:
            status, sock = connect_via(port, f"127.0.0.1:{target.port}")
            sock.close()
            assert " 502 " in status
            # Link-local (cloud metadata) is refused even when named by the operator, before any connection.
            status, sock = connect_via(port, "169.254.169.254:80")
            sock.close()
            assert " 502 " in status
        assert target.peers == []
    finally:
        target.close()


def test_proxy_serves_only_clients_of_the_build_network() -> None:
    target = Listener()
    try:
        with proxy_process("--clients", "10.99.0.0/16", "--trusted", f"127.0.0.1:{target.port}") as port:
            status, sock = connect_via(port, f"127.0.0.1:{target.port}")
            sock.close()
            assert status == ""
        assert target.peers == []
    finally:
        target.close()


def test_proxy_goes_through_the_hosts_upstream_proxy() -> None:
    target = Listener()
    try:
        with proxy_process("--trusted", f"127.0.0.1:{target.port}") as upstream:
            chained = ("--trusted", f"127.0.0.1:{target.port}", "--upstream", f"127.0.0.1:{upstream}")
            with proxy_process(*chained) as port:
                status, sock = connect_via(port, f"127.0.0.1:{target.port}")
                assert " 200 " in status
                sock.sendall(b"pong")
                assert sock.recv(4) == b"pong"
                sock.close()
        assert len(target.peers) == 1
    finally:
        target.close()


def test_upstream_proxy_comes_from_the_bots_environment_only() -> None:
    assert proxy.upstream_proxy({"HTTPS_PROXY": "http://user:pw@proxy.corp:8080"}) == "proxy.corp:8080"
    assert proxy.upstream_proxy({"http_proxy": "proxy.corp"}) == "proxy.corp:80"
    assert proxy.upstream_proxy({}) is None
    args = proxy.proxy_arguments(["172.30.0.0/16"], ["mirror.corp:8443"], None)
    assert args.count("--host") == 2 and "pypi.org:443" in args and "files.pythonhosted.org:443" in args
    assert args[args.index("--trusted") + 1] == "mirror.corp:8443"


# --- options --------------------------------------------------------------------------------------


def parse(*argv: str) -> SandboxOptions:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return options_from_args(parser.parse_args(list(argv)))


def test_build_flags_defaults_and_values() -> None:
    default = parse()
    assert (default.build_timeout, default.build_disk, default.package_hosts) == (900, "8g", [])
    assert default.build_disk_bytes() == 8 * 1024**3
    given = parse("--build-timeout", "30", "--build-disk", "512m", "--package-host", "Mirror.Corp:8443")
    assert (given.build_timeout, given.build_disk_bytes(), given.package_hosts) == (
        30,
        512 * 1024**2,
        ["mirror.corp:8443"],
    )


@pytest.mark.parametrize("bad", ["pypi.org", "pypi.org:0", "pypi.org:70000", "a b:443", "-x:443", "host;rm:443"])
def test_package_host_refuses_what_is_not_host_port(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        package_host(bad)
    with pytest.raises(SystemExit):
        parse("--package-host", bad)


# --- no PR text in a Dockerfile or a shell ------------------------------------------------------------


def test_injection_line_reaches_only_a_data_file(tmp_path: Path) -> None:
    tree = make_git_tree(tmp_path / "repo", {"pyproject.toml": "[project]\nname='x'\n", f"{SERVER}/app.py": ""})
    injection = "[dev'; echo INJECTED uid=$(id -u); echo ']"
    with pytest.raises(ValueError):
        LocalDependency("", injection)  # the reader refuses it (GR108 fails the line) ...
    dep = LocalDependency("", "[dev]")
    dep.extras = injection  # ... and were it ever let through, it would still reach only a data file
    reqs = Requirements(lines=["six==1.16.0"], local=[dep])
    with tarfile.open(fileobj=context.deps_context("base:1", reqs, tree, [], {"k": "v"})) as tar:
        dockerfile = tar.extractfile("Dockerfile").read().decode()  # type: ignore[union-attr]
        plan = json.load(tar.extractfile("deps/plan.json"))  # type: ignore[arg-type]
    assert "INJECTED" not in dockerfile and "RUN" not in dockerfile
    assert [ln.split()[0] for ln in dockerfile.splitlines() if ln] == ["FROM", "LABEL", "COPY", "COPY"]
    assert plan["local"] == [{"dir": "local0", "extras": "[dev'; echo INJECTED uid=$(id -u); echo ']", "marker": ""}]


# --- against the real daemon ------------------------------------------------------------------------

docker_test = pytest.mark.docker


@contextmanager
def scope_open() -> Iterator[docker_api.RunScope]:
    scope = docker_api.RunScope(docker_api.client())
    try:
        yield scope
    finally:
        assert scope.close() == []
        scope.docker.close()


def build(
    tmp_path: Path, files: dict[str, str], options: SandboxOptions, scope: docker_api.RunScope
) -> image.ImageResult:
    tree = make_git_tree(tmp_path / "repo", files)
    reqs = read_requirements(tree, SERVER)
    return image.ensure_cache(scope, options.base_image or "", reqs, tree, options)


def drop_cache(result: image.ImageResult) -> None:
    if result.tag:
        dk = docker_api.client()
        try:
            key = dk.images.get(result.tag).labels[docker_api.LABEL_CACHE_KEY]
            remove_cache_images(dk, key=key)
        finally:
            dk.close()


def drop_cache_of(tree: GitTree, reqs: Requirements, options: SandboxOptions) -> None:
    """Remove the cache image these requirements would reuse, so that the build runs cold."""
    dk = docker_api.client()
    try:
        base_id = dk.images.get(options.base_image or "").id
        remove_cache_images(dk, key=image.cache_key(base_id, reqs, tree, bool(options.ca_bundles())))
    finally:
        dk.close()


def probe_package(setup_body: str) -> dict[str, str]:
    """A server whose requirements install a local package: its setup.py is the PR's code at build time."""
    setup = (
        f"import os, socket, sys, time\n{setup_body}\nfrom setuptools import setup\nsetup(name='probe', version='1')\n"
    )
    return {
        f"{SERVER}/requirements.txt": "./pkg\n",
        f"{SERVER}/app.py": "",
        f"{SERVER}/pkg/setup.py": setup,
    }


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_injection_in_extras_executes_nothing(tmp_path: Path, options: SandboxOptions) -> None:
    files = {
        "pyproject.toml": "[project]\nname = 'nemo-gym'\nversion = '0'\n",
        f"{SERVER}/requirements.txt": INJECTION + "\n",
        f"{SERVER}/app.py": "",
    }
    tree = make_git_tree(tmp_path / "repo", files)
    parsed = read_requirements(tree, SERVER)
    # Whatever the parser (GR108) makes of the line, the build runs none of it; with the extras kept
    # as written, the install script refuses them.
    dep = LocalDependency("", "[dev]")
    dep.extras = "[dev'; echo INJECTED uid=$(id -u); echo ']"  # past the reader, which refuses it
    forced = Requirements(local=[dep])
    for reqs in (parsed, forced):
        with scope_open() as scope:
            result = image.ensure_cache(scope, options.base_image or "", reqs, tree, options)
            logs = [result.log_tail, result.error or ""] + [docker_api.logs_tail(c, 400) for c in scope.containers]
            assert not any(INJECTED.search(log) for log in logs)
            drop_cache(result)
    assert result.tag is None and "not PEP 508 names" in result.log_tail


def control_reaches(dk: docker.DockerClient, base: str, port: int) -> tuple[str, str]:
    """A container on the default bridge connects to the host listener via docker0: (address, its output)."""
    code = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)"
    c = dk.containers.create(base, ["sleep", "30"], network="bridge", labels={docker_api.LABEL_KIND: "test"})
    try:
        c.start()
        c.reload()
        gateway = c.attrs["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        rc, out = c.exec_run(["python3", "-c", code, gateway, str(port)])
        return gateway, f"exit {rc}: {out.decode(errors='replace')}"
    finally:
        c.remove(force=True)


# setup.py of the probe: who it runs as, and whether it reaches the host through every gateway it can
# name (the addresses written into it by the test, and the gateway of its own network, from its route
# table), directly and through the proxy, or the internet directly.
REACH_PROBE = """
def gateways():
    found = []
    for line in open('/proc/net/route').read().splitlines()[1:]:
        f = line.split()
        dest, mask = int(f[1], 16), int(f[7], 16)
        if mask:
            net = socket.ntohl(dest & mask)
            found.append(socket.inet_ntoa((net + 1).to_bytes(4, 'big')))
    return found

def attempt(host, port):
    try:
        socket.create_connection((host, port), 3).close()
        return 'REACHED'
    except OSError as exc:
        return type(exc).__name__

def via_proxy(host, port):
    url = os.environ.get('HTTPS_PROXY', '')
    phost, pport = url.split('//')[1].rsplit(':', 1)
    try:
        s = socket.create_connection((phost, int(pport)), 10)
        crlf = bytes([13, 10])  # setuptools rewrites the two-character escape in setup.py
        s.sendall(f'CONNECT {host}:{port} HTTP/1.1'.encode() + crlf + crlf)
        return s.recv(100).split(crlf)[0].decode()
    except OSError as exc:
        return f'{url} {type(exc).__name__}'

targets = TARGETS + gateways()
lines = [f'PROBE uid={os.getuid()}', 'PROBE gateways=' + ','.join(gateways())]
for host in targets:
    lines.append(f'PROBE direct {host}:{PORT} {attempt(host, PORT)}')
    lines.append(f'PROBE proxy {host}:{PORT} {via_proxy(host, PORT)}')
lines.append(f"PROBE internet {attempt('pypi.org', 443)}")
print('\\n'.join(lines), flush=True)
sys.exit('PROBE done')
"""


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_build_runs_as_nobody_and_reaches_neither_host_nor_internet(tmp_path: Path, options: SandboxOptions) -> None:
    listener = Listener("0.0.0.0")
    dk = docker_api.client()
    try:
        docker0, control = control_reaches(dk, options.base_image or "", listener.port)
        assert control.startswith("exit 0") and listener.peers, f"the control container must reach the host: {control}"
        listener.peers.clear()
        body = REACH_PROBE.replace("TARGETS", repr([docker0])).replace("PORT", str(listener.port))
        with scope_open() as scope:
            result = build(tmp_path, probe_package(body), options, scope)
            build_net = next(n for n in scope.networks if n.name.endswith("-build"))
            build_gateway = docker_api.network_subnets(build_net) and build_net.attrs["IPAM"]["Config"][0]["Gateway"]
            proxy_c = next(c for c in scope.containers if c.name.endswith("-proxy"))
            proxy_c.reload()
            host_config = proxy_c.attrs["HostConfig"]
            proxy_log = docker_api.logs_tail(proxy_c, 200)
        log = result.log_tail
        assert result.tag is None and "PROBE uid=65534" in log, log + proxy_log
        assert build_gateway in log and docker0 in log  # both gateways were tried
        assert "REACHED" not in log and listener.peers == [], log
        assert re.search(rf"PROBE proxy {re.escape(docker0)}:\d+ HTTP/1.1 403", log), log
        assert "PROBE internet gaierror" in log or "PROBE internet TimeoutError" in log, log
        # setuptools came from the index through the proxy, which refused the probe's CONNECTs.
        assert "tunnel" in proxy_log and "not an allowed package host" in proxy_log
        assert host_config["ReadonlyRootfs"] and host_config["CapDrop"] == ["ALL"]
        assert proxy_c.attrs["Config"]["User"] == context.SANDBOX_UID
    finally:
        listener.close()
        dk.close()


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_a_real_install_from_the_index_works_through_the_proxy(tmp_path: Path, options: SandboxOptions) -> None:
    tree = make_git_tree(tmp_path / "repo", {f"{SERVER}/requirements.txt": "six==1.16.0\n", f"{SERVER}/app.py": ""})
    reqs = read_requirements(tree, SERVER)
    drop_cache_of(tree, reqs, options)
    with scope_open() as scope:
        result = image.ensure_cache(scope, options.base_image or "", reqs, tree, options)
    try:
        assert result.tag and result.error is None, result.log_tail
        assert "Successfully installed six-1.16.0" in result.log_tail
        dk = docker_api.client()
        out = dk.containers.run(
            result.tag, ["/opt/venv/bin/python", "-c", "import six, pytest; print('ok')"], remove=True
        )
        dk.close()
        assert out.strip() == b"ok"
    finally:
        drop_cache(result)


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_a_build_past_its_deadline_fails_gr201_naming_the_flag(tmp_path: Path, options: SandboxOptions) -> None:
    files = probe_package("time.sleep(3600)")
    files[f"{SERVER}/configs/probe.yaml"] = "probe:\n  resources_servers:\n    probe:\n      entrypoint: app.py\n"
    tree = make_git_tree(tmp_path / "repo", files)
    result = run_sandbox(tree, "probe", replace(options, build_timeout=20))
    found = {f.id: f for f in result.findings}
    assert found["GR201"].status == "fail"
    assert "did not finish within 20 s (--build-timeout)" in found["GR201"].message, found["GR201"].message
    assert found["GR202"].status == "skip" and "did not build" in found["GR202"].message


LIMIT_CASES = {
    "memory": (
        "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))",
        {"memory": "512m", "build_disk": "256m"},  # the build's tmpfs counts as memory: the limit is both
        "out of memory (limit --memory 512m plus --build-disk 256m",
    ),
    "pids": (
        "for _ in range(1500):\n    if os.fork() == 0:\n        time.sleep(5)\n        os._exit(0)",
        {"pids": 200},
        "process/thread limit (--pids 200)",
    ),
    "timeout": ("time.sleep(3600)", {"build_timeout": 25}, "did not finish within 25 s (--build-timeout)"),
    "disk": (
        "with open('/tmp/fill', 'wb') as fh:\n    for _ in range(100):\n        fh.write(os.urandom(16 << 20))\n"
        "        fh.flush()\ntime.sleep(3600)",
        {"build_disk": "400m", "build_timeout": 240},
        "wrote more than 400m (--build-disk)",
    ),
}


@docker_test
@pytest.mark.usefixtures("nothing_left")
@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_build_is_stopped_by_its_limits(tmp_path: Path, options: SandboxOptions, case: str) -> None:
    body, changes, expected = LIMIT_CASES[case]
    options = replace(options, **changes)
    with scope_open() as scope:
        result = build(tmp_path, probe_package(body), options, scope)
    assert result.tag is None
    assert expected in (result.error or ""), f"{result.error}\n{result.log_tail}"


# --- the disk cap: a fixed-size filesystem, not a poll ----------------------------------------------

# One call: posix_fallocate of 5 GiB (reproduction: 5.1 GB reached the host against a 512 MB cap).
FALLOCATE = "fd = os.open('fill', os.O_CREAT | os.O_WRONLY)\nos.posix_fallocate(fd, 0, 5 << 30)\ntime.sleep(3600)"
# Many files, then writes as fast as they go (reproduction: a 1 GB cap overshot 2.5 times).
MANY_FILES_THEN_FAST = (
    "os.makedirs('many', exist_ok=True)\n"
    "for i in range(20000):\n"
    "    with open(f'many/{i}', 'w') as fh:\n"
    "        fh.write('x' * 100)\n"
    "block = b'\\0' * (64 << 20)\n"
    "with open('big', 'wb') as fh:\n"
    "    for _ in range(200):\n"
    "        fh.write(block)\n"
    "time.sleep(3600)"
)
# Sparse files cost a tmpfs nothing, but the copy off it would write them out in full.
SPARSE_THEN_SUCCEED = (
    "for i in range(4):\n    with open(f'/opt/venv/sparse{i}', 'wb') as fh:\n        fh.truncate(2 << 30)\n"
)


class DiskWatch:
    """The largest growth of the filesystem holding Docker's data, sampled every 50 ms while a build runs."""

    def __init__(self) -> None:
        dk = docker_api.client()
        self.root = dk.info()["DockerRootDir"]
        dk.close()
        self.start = shutil.disk_usage(self.root).used
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, shutil.disk_usage(self.root).used - self.start)
            time.sleep(0.05)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak


@docker_test
@pytest.mark.usefixtures("nothing_left")
@pytest.mark.parametrize(
    ("body", "cap"),
    [(FALLOCATE, "512m"), (MANY_FILES_THEN_FAST, "1g"), (SPARSE_THEN_SUCCEED, "1g")],
    ids=["fallocate-5g", "many-files-then-fast-writes", "sparse-files-then-success"],
)
def test_the_disk_cap_holds_inside_the_build(tmp_path: Path, options: SandboxOptions, body: str, cap: str) -> None:
    options = replace(options, build_disk=cap, build_timeout=300)
    watch = DiskWatch()
    start = time.monotonic()
    try:
        with scope_open() as scope:
            result = build(tmp_path, probe_package(body), options, scope)
            volumes = [v.name for v in scope.volumes]
    finally:
        growth = watch.stop()
    assert result.tag is None, result.log_tail
    assert f"wrote more than {cap} (--build-disk)" in (result.error or ""), f"{result.error}\n{result.log_tail}"
    assert time.monotonic() - start < 240  # stopped by the filesystem, not by the deadline
    # Other jobs share this disk: anything they write counts too, so this bounds from above.
    assert growth <= options.build_disk_bytes() * 1.1, f"the host disk grew by {growth / 2**20:.0f} MiB"
    dk = docker_api.client()
    try:
        assert not [v for v in dk.volumes.list() if v.name in volumes]  # the tmpfs volume is gone too
    finally:
        dk.close()


FORK_BOMB_QUIET = (
    "children = []\n"
    "while True:\n"
    "    try:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(3600)\n"
    "            os._exit(0)\n"
    "    except OSError:\n"
    "        time.sleep(0.1)  # keep trying, quietly: nothing in the log tells the pids limit"
)


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_a_quiet_fork_bomb_is_stopped_at_the_pids_limit_not_the_deadline(
    tmp_path: Path, options: SandboxOptions
) -> None:
    # Reproduction: a build fork bomb ran to the 900 s build timeout and was named as a timeout.
    options = replace(options, pids=200, build_timeout=300)
    start = time.monotonic()
    with scope_open() as scope:
        result = build(tmp_path, probe_package(FORK_BOMB_QUIET), options, scope)
    assert result.tag is None and "process/thread limit (--pids 200)" in (result.error or ""), result.error
    assert time.monotonic() - start < 120


@docker_test
@pytest.mark.usefixtures("nothing_left")
def test_concurrent_builds_of_one_key_leave_one_image_and_no_orphan(tmp_path: Path, options: SandboxOptions) -> None:
    files = {f"{SERVER}/requirements.txt": "six==1.16.0\n", f"{SERVER}/app.py": "# concurrent\n"}
    tree = make_git_tree(tmp_path / "repo", files)
    reqs = read_requirements(tree, SERVER)
    drop_cache_of(tree, reqs, options)
    results: list[image.ImageResult] = []

    def one() -> None:
        with scope_open() as scope:
            results.append(image.ensure_cache(scope, options.base_image or "", reqs, tree, options))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dk = docker_api.client()
    try:
        assert len(results) == 2 and results[0].tag == results[1].tag and results[0].tag, results
        key = dk.images.get(results[0].tag).labels[docker_api.LABEL_CACHE_KEY]
        same_key = [i for i in dk.images.list(all=True) if (i.labels or {}).get(docker_api.LABEL_CACHE_KEY) == key]
        assert [i.tags for i in same_key] == [[results[0].tag]]
        assert remove_cache_images(dk, key=key) == 1
    finally:
        dk.close()


@docker_test
def test_cleanup_cache_removes_untagged_images_with_the_bots_labels(options: SandboxOptions) -> None:
    dk = docker_api.client()
    key = "orphan-test-key"
    labels = {docker_api.LABEL_KIND: "cache", docker_api.LABEL_RUN: "", docker_api.LABEL_CACHE_KEY: key}
    tag = "gym-review-bot-test:orphan"

    def build_one(n: int) -> str:
        dockerfile = f"FROM {options.base_image}\nLABEL n={n}\n"
        ctx = io.BytesIO()
        with tarfile.open(fileobj=ctx, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            tar.addfile(info, io.BytesIO(dockerfile.encode()))
        ctx.seek(0)
        built, _ = dk.images.build(fileobj=ctx, custom_context=True, tag=tag, labels=labels, rm=True)
        return built.id

    try:
        orphan = build_one(1)
        kept = build_one(2)  # takes the tag: the first image is now untagged, as after a lost race
        assert not dk.images.get(orphan).tags
        assert remove_cache_images(dk, key=key) == 2  # the tagged one and the orphan
        for image_id in (orphan, kept):
            with pytest.raises(docker.errors.ImageNotFound):
                dk.images.get(image_id)
    finally:
        for ref in (tag,):
            try:
                dk.images.remove(ref, force=True)
            except docker.errors.ImageNotFound:
                pass
        dk.close()
