"""The only module that talks to Docker: labels, builds, networks, containers, and what a run leaves."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import docker
import docker.errors
import docker.utils
import requests.exceptions
from docker.models.containers import Container
from docker.types import LogConfig

# What a process prints when fork() or thread creation hits the pids limit: EAGAIN, in Python's words
# (BlockingIOError), glibc's, or a C++ runtime's (Ray and gRPC abort with std::system_error, exit 134).
# Only the hint of a failure message depends on it, never a verdict.
PIDS_SIGNS = (
    "can't start new thread",
    "Resource temporarily unavailable",
)
DISK_FULL_SIGNS = ("No space left on device", "[Errno 28]")  # ENOSPC: the build's tmpfs is full
# What pip prints when its proxy is gone (only a message's detail depends on it, never a verdict).
PROXY_ERROR_SIGNS = ("ProxyError", "Cannot connect to proxy", "Tunnel connection failed")
INTERRUPTED = "the sandbox was interrupted; not the PR's fault"

LABEL_RUN = "gym-review-bot.run"
LABEL_OWNER = "gym-review-bot.owner"  # hostname:pid:process start time, to tell live runs from dead ones
LABEL_KIND = "gym-review-bot.kind"  # run | tmp | cache
LABEL_CACHE_KEY = "gym-review-bot.cache-key"
CACHE_REPO = "gym-review-bot-cache"
RUN_REPO = "gym-review-bot-run"
TMP_REPO = "gym-review-bot-tmp"
LOG_CAP_BYTES = 64 * 1024
LOG_TAIL_LINES = 60
# Builds stream pip output; a quiet minute on the socket is not a dead daemon.
BUILD_SOCKET_TIMEOUT = 1800
DockerError = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def client(timeout: int = 120) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def unavailable_reason() -> str | None:
    """None when a daemon answers ping, else a one-line reason."""
    try:
        c = client(timeout=10)
        try:
            c.ping()
        finally:
            c.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no daemon"
        text = str(exc).strip().splitlines()
        return f"no Docker daemon reachable ({type(exc).__name__}: {text[0] if text else 'no detail'})"


def _process_start(pid: int) -> str:
    """The kernel's start time of a process (clock ticks since boot), '' where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def owner_alive(owner: str, running_hostnames: set[str]) -> bool:
    """Whether the process that labelled a run still runs (same start time: not a reused pid)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname():
        # Another bot container on this daemon: alive while a container with that hostname runs.
        return host in running_hostnames
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return not start or _process_start(pid) == start


def cap_log(raw: bytes, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, at most LOG_CAP_BYTES of them."""
    text = raw[-LOG_CAP_BYTES:].decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class BuildResult:
    image_id: str | None
    log_tail: str
    error: str | None = None


@dataclass
class ExitInfo:
    """Why a container stopped, as far as Docker knows."""

    running: bool
    exit_code: int | None = None
    oom_killed: bool = False
    pids_current: int | None = None
    gone: bool = False  # the container no longer exists: someone else removed it

    def killed_from_outside(self) -> bool:
        """SIGKILL without an out-of-memory kill (exit 137; the init process cannot be killed from inside), or
        vanished: an outside actor, when it was not the sandbox itself that killed it."""
        return self.gone or (not self.running and self.exit_code == 137 and not self.oom_killed)


@dataclass
class RunScope:
    """Everything one sandbox run creates, labelled with its run id and removed by close()."""

    docker: docker.DockerClient
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    owner: str = field(default_factory=owner_label)
    containers: list[Container] = field(default_factory=list)
    networks: list[Any] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)
    killed: set[str] = field(default_factory=set)  # ids of the containers the sandbox itself killed
    closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def labels(self, kind: str = "run") -> dict[str, str]:
        return {LABEL_RUN: self.run_id, LABEL_OWNER: self.owner, LABEL_KIND: kind}

    def build(self, context: IO[bytes], tag: str, network: bool) -> BuildResult:
        """Build from a tar context through the API; the tag is removed by close() unless released."""
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        image_id = None
        api = docker.APIClient(timeout=BUILD_SOCKET_TIMEOUT, **docker.utils.kwargs_from_env())
        try:
            context.seek(0)
            self.images.append(tag)
            stream = api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                network_mode="bridge" if network else "none",
                use_config_proxy=False,  # no host setting reaches the build
            )
            for chunk in stream:
                if "stream" in chunk:
                    tail.extend(line[:500] for line in chunk["stream"].splitlines() if line.strip())
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = chunk["aux"].get("ID", image_id)
                if "error" in chunk:
                    error = str(chunk["error"]).strip()[:2000]
                    tail.append(error)
                    return BuildResult(None, "\n".join(tail), error)
        except DockerError as exc:
            return BuildResult(None, "\n".join(tail), f"{type(exc).__name__}: {exc}")
        finally:
            api.close()
        return BuildResult(image_id or tag, "\n".join(tail))

    def kill(self, container: Container) -> None:
        """Kill a container of this run, remembering that it was the sandbox that did (not an outside actor)."""
        self.killed.add(container.id)
        kill(container)

    def interrupted(self, container: Container) -> bool:
        """Whether a container of this run was killed or removed by someone other than the sandbox."""
        return container.id not in self.killed and exit_info(container).killed_from_outside()

    def container(
        self,
        image: str,
        command: list[str],
        role: str,
        network_mode: str,
        limits: dict[str, Any],
        files: dict[str, bytes] | None = None,
    ) -> Container:
        """Create and start a container of this run; `files` (path: content) are copied in before it starts."""
        with self._lock:  # a thread may not add a container once close() has begun
            if self.closed:
                raise RuntimeError("the sandbox run is being cleaned up")
            c = self.docker.containers.create(
                image,
                command,
                name=f"gym-review-{self.run_id}-{role}",
                labels=self.labels(),
                network_mode=network_mode,
                log_config=LogConfig(type="json-file", config={"max-size": "10m", "max-file": "1"}),
                **limits,
            )
            self.containers.append(c)
        if files:
            c.put_archive("/", _tar(files))
        c.start()
        return c

    def close(self) -> list[str]:
        """Remove every container, network and image of this run; return what could not be removed."""
        problems: list[str] = []
        with self._lock:
            self.closed = True
        seen = {c.id: c for c in self.containers}
        seen.update({c.id: c for c in self._labelled_containers()})
        for c in seen.values():
            problem = _remove_container(c)
            if problem:
                problems.append(problem)
        for net in self.networks:
            try:
                net.remove()
            except docker.errors.NotFound:
                pass
            except DockerError as exc:
                problems.append(f"network {net.name}: {exc}")
        for tag in self.images:
            try:
                self.docker.images.remove(tag, force=True, noprune=False)
            except docker.errors.ImageNotFound:
                pass
            except DockerError as exc:
                problems.append(f"image {tag}: {exc}")
        for volume in self.volumes:
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                pass
            except DockerError as exc:
                problems.append(f"volume {volume.name}: {exc}")
        remove_layers(self.docker, {"label": f"{LABEL_RUN}={self.run_id}"})
        return problems

    def _labelled_containers(self) -> list[Container]:
        """Containers of this run not created here: the builder's intermediate ones."""
        try:
            return self.docker.containers.list(all=True, filters={"label": f"{LABEL_RUN}={self.run_id}"})
        except DockerError:
            return []


def _remove_container(c: Container, settle: float = 60) -> str | None:
    """Force-remove a container and wait until it is gone (a killed cgroup can take a while)."""
    deadline = time.monotonic() + settle
    while True:
        try:
            c.remove(force=True, v=True)
        except docker.errors.NotFound:
            return None
        except DockerError as exc:
            if time.monotonic() > deadline:
                return f"container {c.name}: {exc}"
        try:
            c.reload()
        except docker.errors.NotFound:
            return None
        except DockerError:
            pass
        if time.monotonic() > deadline:
            return f"container {c.name}: still present after {settle:g} s"
        time.sleep(0.5)


def remove_layers(dk: docker.DockerClient, filters: dict[str, str]) -> int:
    """Remove untagged images a build left (a failed step keeps the layers before it).

    The kept cache image's own parent layers carry the run label too; Docker refuses to remove a
    layer with children, which keeps them.
    """
    removed = 0
    try:
        layers = [i for i in dk.images.list(all=True, filters=filters) if not i.tags]
    except DockerError:
        return 0
    progress = True
    while layers and progress:  # a child must go before its parent: repeat while something goes
        progress = False
        for image in list(layers):
            try:
                dk.images.remove(image.id, noprune=False)
            except docker.errors.ImageNotFound:
                pass
            except DockerError:
                continue
            layers.remove(image)
            removed += 1
            progress = True
    return removed


def _tar(files: dict[str, bytes]) -> bytes:
    """A tar of files owned by root, readable by all: what put_archive takes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put_directory(container: Container, path: str, owner: str) -> None:
    """Create an empty directory owned by `owner` (uid:gid) in a container that has not started."""
    uid, _, gid = owner.partition(":")
    info = tarfile.TarInfo(path.strip("/"))
    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, int(uid), int(gid), int(time.time())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(info)
    container.put_archive("/", buf.getvalue())


def put_files(container: Container, files: dict[str, bytes]) -> None:
    """Copy files (absolute path: content) into a container whose root is writable."""
    container.put_archive("/", _tar(files))


def put_stream(container: Container, path: str, size: int, source: IO[bytes]) -> None:
    """Copy one file of `size` bytes into a container, streamed from `source` (never held in memory)."""
    info = tarfile.TarInfo(path.lstrip("/"))
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())

    def chunks() -> Iterator[bytes]:
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        left = size
        while left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        yield b"\0" * left  # a file that shrank meanwhile: padded to what the header says
        yield b"\0" * (-size % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE)

    container.put_archive("/", chunks())


class OutputTooLarge(Exception):
    """A command of ours printed more than its cap: a fault of the sandbox, not of the PR."""


def exec_output(container: Container, command: list[str], cap: int, timeout: float) -> tuple[int | None, bytes, str]:
    """(exit code, stdout, stderr tail) of a command run in a running container, stdout read up to `cap` bytes.

    `timeout` bounds each quiet gap on the socket; the commands run here bound their own duration.
    """
    api = docker.APIClient(timeout=max(int(timeout), 10), **docker.utils.kwargs_from_env())
    out, err = bytearray(), bytearray()
    try:
        exec_id = api.exec_create(container.id, command, stdout=True, stderr=True)["Id"]
        for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
            out += chunk_out or b""
            err = (err + (chunk_err or b""))[-LOG_CAP_BYTES:]
            if len(out) > cap:
                raise OutputTooLarge(f"{' '.join(command[:3])} printed more than {cap} bytes")
        code = api.exec_inspect(exec_id).get("ExitCode")
    finally:
        api.close()
    return code, bytes(out), err.decode("utf-8", "replace")


def exec_lines(
    container: Container, command: list[str], on_line: Any, max_line: int, timeout: float
) -> tuple[int | None, str]:
    """(exit code, stderr tail) of a command run in a running container; `on_line` gets each stdout line as it comes.

    A line over `max_line` bytes raises OutputTooLarge; `timeout` bounds each quiet gap on the socket.
    """
    api = docker.APIClient(timeout=max(int(timeout), 10), **docker.utils.kwargs_from_env())
    pending, err = b"", bytearray()
    try:
        exec_id = api.exec_create(container.id, command, stdout=True, stderr=True)["Id"]
        for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
            err = (err + (chunk_err or b""))[-LOG_CAP_BYTES:]
            if not chunk_out:
                continue
            *lines, pending = (pending + chunk_out).split(b"\n")
            for line in lines:
                on_line(line)
            if len(pending) > max_line:
                raise OutputTooLarge(f"{' '.join(command[:3])} printed a line of more than {max_line} bytes")
        if pending:
            on_line(pending)
        code = api.exec_inspect(exec_id).get("ExitCode")
    finally:
        api.close()
    return code, err.decode("utf-8", "replace")


def exit_info(container: Container, with_pids: bool = False) -> ExitInfo:
    try:
        container.reload()
        state = container.attrs.get("State", {})
    except docker.errors.NotFound:
        return ExitInfo(running=False, gone=True)
    except DockerError:
        return ExitInfo(running=False)
    info = ExitInfo(
        running=bool(state.get("Running")),
        exit_code=state.get("ExitCode") if not state.get("Running") else None,
        oom_killed=bool(state.get("OOMKilled")),
    )
    if info.running and with_pids:
        try:
            stats = container.stats(stream=False, one_shot=True)
            info.pids_current = (stats.get("pids_stats") or {}).get("current")
        except DockerError:
            pass
    return info


def logs_tail(container: Container, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return cap_log(container.logs(stdout=True, stderr=True, tail=lines * 4), lines)
    except DockerError as exc:
        return f"(logs unavailable: {exc})"


def stdout_bytes(container: Container, cap: int) -> bytes:
    """The container's standard output (the log driver caps it at 10 MB), at most its last `cap` bytes."""
    try:
        return bytes(container.logs(stdout=True, stderr=False))[-cap:]
    except DockerError:
        return b""


class Vanished(Exception):
    """A container of the run no longer exists: removed from outside."""


def wait(container: Container, timeout: float) -> int | None:
    """The exit code, or None when the container still runs after `timeout` seconds; Vanished when it is gone."""
    try:
        return int(container.wait(timeout=timeout).get("StatusCode", -1))
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        return None
    except docker.errors.NotFound as exc:
        raise Vanished(f"container {container.name} was removed while the sandbox ran") from exc


def kill(container: Container) -> None:
    try:
        container.kill()
    except DockerError:
        pass


def image_exists(dk: docker.DockerClient, ref: str) -> str | None:
    """The id of a local image, or None."""
    try:
        return dk.images.get(ref).id
    except docker.errors.ImageNotFound:
        return None


def pull(dk: docker.DockerClient, ref: str) -> str | None:
    """Pull an image; None on success, else the reason."""
    try:
        dk.images.pull(ref)
        return None
    except DockerError as exc:
        return f"{type(exc).__name__}: {str(exc).strip()[:500]}"


def iter_labelled(dk: docker.DockerClient, kind: str) -> Iterator[Any]:
    """Containers, networks or images that carry a run label."""
    flt = {"label": LABEL_RUN}
    if kind == "containers":
        yield from dk.containers.list(all=True, filters=flt)
    elif kind == "networks":
        yield from dk.networks.list(filters=flt)
    elif kind == "volumes":
        yield from dk.volumes.list(filters=flt)
    else:
        yield from dk.images.list(filters=flt)


# --- build: the dependency install in a limited container, on a network whose only exit is the proxy ---

BUILD_POLL_S = 1.0
# Docker's option that leaves the bridge without an address: an internal network alone still reaches
# the host through its gateway.
NO_GATEWAY = {"com.docker.network.bridge.inhibit_ipv4": "true"}


@dataclass
class InstallOutcome:
    """How a build container ended: its exit code, or why it was stopped (timed out, pids, the proxy gone)."""

    exit_code: int | None
    stopped: str | None = None  # "timeout", "pids" or "proxy": the sandbox stopped it
    oom_killed: bool = False
    interrupted: bool = False  # killed (137, no out-of-memory kill) or removed by someone else
    log_tail: str = ""


def tmpfs_volume(scope: RunScope, role: str, size: int, owner: str) -> str:
    """A labelled volume of this run that is a tmpfs of `size` bytes owned by `owner` (uid:gid); its name.

    Unlike a container's own tmpfs, a volume's content outlives the container that wrote it as long as
    another container has it mounted, and what is written beyond its size fails with ENOSPC.
    """
    uid, _, gid = owner.partition(":")
    volume = scope.docker.volumes.create(
        name=f"gym-review-{scope.run_id}-{role}",
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": f"size={size},uid={uid},gid={gid},mode=0755"},
        labels=scope.labels(),
    )
    scope.volumes.append(volume)
    return volume.name


def build_network(scope: RunScope) -> Any:
    """A network with no route anywhere, not even to the host: only the containers attached to it."""
    net = scope.docker.networks.create(
        f"gym-review-{scope.run_id}-build", driver="bridge", internal=True, options=NO_GATEWAY, labels=scope.labels()
    )
    scope.networks.append(net)
    return net


def network_subnets(net: Any) -> list[str]:
    net.reload()
    return [c["Subnet"] for c in (net.attrs.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")]


def build_container(
    scope: RunScope,
    image: str,
    command: list[str],
    role: str,
    networks: list[str],
    limits: dict[str, Any],
    environment: dict[str, str] | None = None,
) -> Container:
    """Create (not start) a labelled container of this run, attached to `networks` (the first at creation)."""
    with scope._lock:  # a thread may not add a container once close() has begun
        if scope.closed:
            raise RuntimeError("the sandbox run is being cleaned up")
        c = scope.docker.containers.create(
            image,
            command,
            name=f"gym-review-{scope.run_id}-{role}",
            labels=scope.labels(),
            network=networks[0],
            environment=environment or {},
            log_config=LogConfig(type="json-file", config={"max-size": "10m", "max-file": "1"}),
            **limits,
        )
        scope.containers.append(c)
    for name in networks[1:]:
        scope.docker.networks.get(name).connect(c)
    return c


def address_on(container: Container, network_name: str) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network_name]["IPAddress"]


def wait_for_log(container: Container, text: str, timeout: float) -> bool:
    """Whether `text` appears in the container's log within `timeout` seconds (False once it exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in logs_tail(container, 20):
            return True
        if not exit_info(container).running:
            return text in logs_tail(container, 20)
        time.sleep(0.1)
    return False


def run_to_end(
    scope: RunScope, container: Container, timeout: float, pids: int, proxy: Container | None = None
) -> InstallOutcome:
    """Start a container and wait for it; stopped past `timeout` seconds, as soon as its processes reach the
    `pids` limit, or when the proxy it depends on is gone (then the build cannot go on)."""
    container.start()
    deadline = time.monotonic() + timeout
    stopped = None
    while True:
        try:
            code = wait(container, min(BUILD_POLL_S, max(deadline - time.monotonic(), 0.1)))
        except Vanished:
            code = None
            break
        if code is not None:
            break
        info = exit_info(container, with_pids=True)
        if info.gone:
            break
        if (info.pids_current or 0) >= pids - 2:
            stopped = "pids"  # a fork bomb would otherwise run to the deadline
        elif proxy is not None and not exit_info(proxy).running:
            stopped = "proxy"
        elif time.monotonic() >= deadline:
            stopped = "timeout"
        if stopped:
            scope.kill(container)
            wait(container, 30)
            code = None
            break
    info = exit_info(container)
    interrupted = info.gone or (stopped is None and info.killed_from_outside())
    return InstallOutcome(code, stopped, info.oom_killed, interrupted, logs_tail(container, 200))


def commit(scope: RunScope, container: Container, tag: str, conf: dict[str, Any] | None = None) -> str:
    """Save a container as an image of this run (its tag is removed by close() unless released)."""
    repo, _, name = tag.partition(":")
    scope.images.append(tag)
    image = container.commit(repository=repo, tag=name, conf=conf or {"Labels": scope.labels("tmp")})
    return image.id


def tag_if_absent(scope: RunScope, image_ref: str, tag: str) -> bool:
    """Give an image `tag` unless an image has it already; True when this call tagged it."""
    if image_exists(scope.docker, tag):
        return False
    repo, _, name = tag.partition(":")
    return bool(scope.docker.images.get(image_ref).tag(repo, name))
