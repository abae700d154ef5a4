"""Sandbox settings: one pydantic model, its command-line flags, and how the flags map onto it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import BaseModel

from gym_review_bot.argtypes import memory_size, positive_float, positive_int

# Environment variables a TLS-intercepting proxy setup usually sets on the host; their CA bundle is
# handed to pip during the build (the file only, never the variable or any other host setting).
CA_BUNDLE_ENV_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
BASE_IMAGE_ENV_VAR = "GYM_REVIEW_BASE_IMAGE"
DEFAULT_PYTHON_VERSION = "3.12"


class SandboxOptions(BaseModel):
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

    def ca_bundles(self) -> list[Path]:
        """Every readable CA bundle to give pip: --ca-bundle first, then the ones the environment names."""
        candidates = [self.ca_bundle] if self.ca_bundle else []
        candidates += [Path(os.environ[name]) for name in CA_BUNDLE_ENV_VARS if os.environ.get(name)]
        seen: list[Path] = []
        for path in candidates:
            if path.is_file() and path not in seen:
                seen.append(path)
        return seen


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
    group.add_argument(
        "--allow-url-deps",
        action="store_true",
        help="honour requirements that change the package index or install from a URL/VCS",
    )


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    fields = SandboxOptions.model_fields
    values = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    return SandboxOptions(**values)
