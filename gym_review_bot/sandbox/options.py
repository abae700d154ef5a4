"""Sandbox settings: one dataclass, its command-line flags, and how the flags map onto it.

A dataclass, not a pydantic model: every `gym-review check` imports this module for its flags, and pydantic
costs a quarter of a second; it is imported only to read or write the settings as JSON (`to_json`/`from_json`).
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gym_review_bot.argtypes import memory_size, positive_float, positive_int

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

# Environment variables a TLS-intercepting proxy setup usually sets on the host; their CA bundle is
# handed to pip during the build (the file only, never the variable or any other host setting).
CA_BUNDLE_ENV_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
BASE_IMAGE_ENV_VAR = "GYM_REVIEW_BASE_IMAGE"
DEFAULT_PYTHON_VERSION = "3.12"


@dataclass(kw_only=True)
class SandboxOptions:
    """How the sandbox builds, limits and times a server's container."""

    base_image: str | None = None
    ca_bundle: Path | None = None
    boot_timeout: float = 180
    request_timeout: float = 60
    replay_timeout: float = 300
    concurrency: int = 8
    test_timeout: float = 600
    memory: str = "4g"
    pids: int = 1024
    cpus: float = 1.0
    allow_url_deps: bool = False
    build_timeout: float = 900
    build_disk: str = "8g"
    package_hosts: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str | bytes) -> SandboxOptions:
        """Settings written by `to_json` (validated: a wrong type is a pydantic.ValidationError)."""
        from gym_review_bot.models import adapter

        return adapter(cls).validate_json(text)

    def to_json(self) -> str:
        from gym_review_bot.models import plain

        return json.dumps(plain(self))

    def build_disk_bytes(self) -> int:
        return size_bytes(self.build_disk)

    def ca_bundles(self) -> list[Path]:
        """Every readable CA bundle to give pip: --ca-bundle first, then the ones the environment names."""
        candidates = [self.ca_bundle] if self.ca_bundle else []
        candidates += [Path(os.environ[name]) for name in CA_BUNDLE_ENV_VARS if os.environ.get(name)]
        seen: list[Path] = []
        for path in candidates:
            if path.is_file() and path not in seen:
                seen.append(path)
        return seen


def size_bytes(text: str) -> int:
    """Bytes of a Docker size such as 8g (already validated by `memory_size`)."""
    match = re.match(r"^([0-9]+)([bkmg]?)$", text.strip().lower())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def package_host(text: str) -> str:
    """HOST:PORT of a package index the build may reach (a DNS name or an IP address, port 1-65535)."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if not sep or not (is_ip or _HOST.match(host)):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. pypi.example.com:443)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be a number from 1 to 65535")
    return f"{host.lower()}:{int(port)}"


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's flags (--docker/--no-docker belong to the CLI, not here)."""
    group = parser.add_argument_group("Docker sandbox")
    group.add_argument(
        "--base-image",
        help=f"image to build on (default: ${BASE_IMAGE_ENV_VAR}, else python:<.python-version>-slim)",
    )
    group.add_argument("--ca-bundle", type=Path, help="CA bundle pip trusts during the build (TLS proxies)")
    group.add_argument("--boot-timeout", type=positive_float, default=180, help="seconds for GET / to answer")
    group.add_argument("--request-timeout", type=positive_float, default=60, help="seconds per /verify request")
    group.add_argument(
        "--replay-timeout", type=positive_float, default=300, help="seconds for the whole replay (both rounds, probes)"
    )
    group.add_argument("--concurrency", type=positive_int, default=8, help="concurrent /verify requests")
    group.add_argument("--test-timeout", type=positive_float, default=600, help="seconds for the server's pytest")
    group.add_argument(
        "--memory", type=memory_size, default="4g", help="container memory limit (docker syntax, e.g. 4g)"
    )
    group.add_argument("--pids", type=positive_int, default=1024, help="container process/thread limit")
    group.add_argument("--cpus", type=positive_float, default=1.0, help="container CPU limit")
    group.add_argument("--build-timeout", type=positive_float, default=900, help="seconds for the dependency install")
    group.add_argument(
        "--build-disk",
        type=memory_size,
        default="8g",
        help="what the dependency install may write, on tmpfs (its memory limit is --memory plus this; e.g. 8g)",
    )
    group.add_argument(
        "--package-host",
        dest="package_hosts",
        type=package_host,
        action="append",
        metavar="HOST:PORT",
        help="another package index host the build may reach, besides pypi.org and files.pythonhosted.org (repeatable)",
    )
    group.add_argument(
        "--allow-url-deps",
        action="store_true",
        help="honour requirements that change the package index or install from a URL/VCS",
    )


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    names = [f.name for f in dataclasses.fields(SandboxOptions)]
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return SandboxOptions(**values)
