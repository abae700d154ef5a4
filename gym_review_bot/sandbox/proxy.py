"""The dependency build's only exit: an allow-listing CONNECT proxy in its own limited container."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from gym_review_bot.sandbox import context, docker_api

# pip's default index and the host it serves its files from.
DEFAULT_PACKAGE_HOSTS = ("pypi.org:443", "files.pythonhosted.org:443")
PROXY_PORT = 3128
READY_TIMEOUT = 30
READY_MARK = "gym-review-proxy: listening"


@dataclass
class Proxy:
    url: str  # what pip is given: http://<address on the build network>:<port>
    container: Any


def script() -> str:
    return resources.files("gym_review_bot.sandbox").joinpath("_proxy_server.py").read_text(encoding="utf-8")


def upstream_proxy(environ: dict[str, str] | None = None) -> str | None:
    """HOST:PORT of the proxy the bot's own environment uses for HTTPS, if any."""
    env = os.environ if environ is None else environ
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        value = env.get(name, "").strip()
        if value:
            parts = urlsplit(value if "://" in value else f"http://{value}")
            if parts.hostname:
                return f"{parts.hostname}:{parts.port or 80}"
    return None


def proxy_arguments(client_subnets: list[str], extra_hosts: list[str], upstream: str | None) -> list[str]:
    """The proxy's command-line: the defaults must resolve to public addresses, the operator's hosts need not."""
    args = ["--listen", str(PROXY_PORT)]
    for subnet in client_subnets:
        args += ["--clients", subnet]
    for host in DEFAULT_PACKAGE_HOSTS:
        if host not in extra_hosts:
            args += ["--host", host]
    for host in extra_hosts:
        args += ["--trusted", host]
    if upstream:
        args += ["--upstream", upstream]
    return args


def limits(memory: str = "256m") -> dict[str, Any]:
    return {
        "user": context.SANDBOX_UID,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 128,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(1e9),
        "init": True,
    }


def start_proxy(scope: docker_api.RunScope, image: str, build_net: Any, extra_hosts: list[str]) -> Proxy:
    """Start the proxy on the build network and the default bridge; raises RuntimeError when it does not come up."""
    args = proxy_arguments(docker_api.network_subnets(build_net), extra_hosts, upstream_proxy())
    command = ["python3", "-I", "-c", script(), *args]
    container = docker_api.build_container(scope, image, command, "proxy", ["bridge", build_net.name], limits())
    container.start()
    if not docker_api.wait_for_log(container, READY_MARK, READY_TIMEOUT):
        log = docker_api.logs_tail(container, 20)
        why = f"{docker_api.INTERRUPTED}: " if scope.interrupted(container) else ""
        raise RuntimeError(f"{why}the sandbox's package proxy did not start within {READY_TIMEOUT} s:\n{log}")
    return Proxy(f"http://{docker_api.address_on(container, build_net.name)}:{PROXY_PORT}", container)
