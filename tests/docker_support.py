"""Docker helpers shared by the tests that need a daemon: why to skip, and what a run left behind."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

DEFAULT_BASE_IMAGE = "gym-review-base:trixie"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def base_image() -> str:
    return os.environ.get("GYM_REVIEW_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def ca_bundle() -> Path | None:
    """The host's CA bundle, which pip in a container needs behind a TLS-intercepting proxy."""
    return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None


def docker_skip_reason() -> str | None:
    """Why Docker tests cannot run here, or None: a daemon answers and the base image is present."""
    from gym_review_bot.sandbox.docker_api import unavailable_reason

    reason = unavailable_reason()
    if reason:
        return reason
    import docker

    client = docker.from_env()
    try:
        client.images.get(base_image())
    except docker.errors.ImageNotFound:
        return f"base image {base_image()!r} is not present (build it with .ci/setup-docker.sh)"
    finally:
        client.close()
    return None


def daemon_state() -> dict[str, dict[str, str]]:
    """Every container, network and image (dependency cache images excepted): id -> owner label."""
    import docker

    from gym_review_bot.sandbox.docker_api import LABEL_KIND, LABEL_OWNER

    client = docker.from_env()
    try:
        cache = {i.id for i in client.images.list(filters={"label": f"{LABEL_KIND}=cache"})}
        return {
            "containers": {c.id: (c.labels or {}).get(LABEL_OWNER, "") for c in client.containers.list(all=True)},
            "networks": {n.id: (n.attrs.get("Labels") or {}).get(LABEL_OWNER, "") for n in client.networks.list()},
            "images": {i.id: (i.labels or {}).get(LABEL_OWNER, "") for i in client.images.list() if i.id not in cache},
        }
    finally:
        client.close()


def leftovers(before: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """What was added since `before` that this process, a finished process or no one owns: leaks.

    Another test session may share the daemon; what its live processes own is not ours to judge.
    """
    import docker

    from gym_review_bot.sandbox.docker_api import owner_alive, owner_label

    mine = owner_label()

    after = daemon_state()
    client = docker.from_env()
    try:
        hostnames = {str(c.attrs.get("Config", {}).get("Hostname", "")) for c in client.containers.list()}
    finally:
        client.close()
    left = {}
    for kind, objects in after.items():
        added = {i for i, owner in objects.items() if i not in before[kind]}
        left[kind] = {i for i in added if objects[i] in ("", mine) or not owner_alive(objects[i], hostnames)}
    return left


class Listener:
    """A TCP listener on this machine (loopback, or 0.0.0.0 to be reachable from containers) that records
    who connected and echoes what it gets: the isolation tests try to reach it from where nothing should."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[0])
            with conn:
                conn.settimeout(5)
                try:
                    data = conn.recv(1024)
                    if data:
                        conn.sendall(data)
                except OSError:
                    pass

    def close(self) -> None:
        # shutdown() wakes the accept() blocked in the other thread; a bare close() would leave it
        # blocked on a descriptor number the next test's socket may reuse (and then echo its requests).
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
