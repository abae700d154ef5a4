"""Fixtures for the sandbox tests: real git repositories, a real Docker daemon, the real nemo-gym wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gym_review_bot.sandbox.docker_api import LABEL_KIND, LABEL_OWNER, owner_label
from gym_review_bot.sandbox.docker_api import unavailable_reason as docker_unavailable_reason
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sources import GitTree

NEMO_GYM_VERSION = "0.4.0"
NEMO_GYM_REQUIREMENT = f"nemo-gym=={NEMO_GYM_VERSION}\n"
WHEEL = f"nemo_gym-{NEMO_GYM_VERSION}-py3-none-any.whl"
DEFAULT_BASE_IMAGE = "gym-review-base:trixie"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def make_git_tree(root: Path, files: dict[str, str | bytes]) -> GitTree:
    """A real git repository holding `files`, committed; its head tree."""
    root.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
            cwd=root, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    git("init", "-q", "-b", "main")
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git("add", "-A")
    git("commit", "-q", "-m", "server")
    return GitTree(root, git("rev-parse", "HEAD"))


def server_files(name: str, files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    return {f"resources_servers/{name}/{rel}": content for rel, content in files.items()}


# --- Docker ---------------------------------------------------------------------------------------


def _docker_skip_reason() -> str | None:
    reason = docker_unavailable_reason()
    if reason:
        return reason
    import docker

    image = base_image()
    client = docker.from_env()
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return f"base image {image!r} is not present (build it with .ci/setup-docker.sh)"
    finally:
        client.close()
    return None


def base_image() -> str:
    return os.environ.get("GYM_REVIEW_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    docker_items = [i for i in items if i.get_closest_marker("docker") and i.path.is_relative_to(here)]
    if not docker_items:
        return
    reason = _docker_skip_reason()
    if reason:
        for item in docker_items:
            item.add_marker(pytest.mark.skip(reason=f"Docker tests skipped: {reason}"))


@pytest.fixture
def options() -> SandboxOptions:
    """Test settings: the local base image, the host CA bundle (TLS proxy), tight timeouts."""
    return SandboxOptions(
        base_image=base_image(),
        ca_bundle=HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None,
        boot_timeout=120,
        request_timeout=20,
        test_timeout=300,
    )


def daemon_state() -> dict[str, dict[str, str]]:
    """Every container, network and image (dependency cache images excepted): id -> owner label."""
    import docker

    client = docker.from_env()
    try:
        cache = {i.id for i in client.images.list(filters={"label": f"{LABEL_KIND}=cache"})}
        networks = client.networks.list()  # the list carries the labels: no per-network look-up to race
        return {
            "containers": {c.id: (c.labels or {}).get(LABEL_OWNER, "") for c in client.containers.list(all=True)},
            "networks": {n.id: (n.attrs.get("Labels") or {}).get(LABEL_OWNER, "") for n in networks},
            "images": {i.id: (i.labels or {}).get(LABEL_OWNER, "") for i in client.images.list() if i.id not in cache},
        }
    finally:
        client.close()


@pytest.fixture
def nothing_left() -> Iterator[None]:
    """Asserts that the run added nothing to the daemon (cache images excepted).

    Other processes may use the same daemon meanwhile (another test session): what they remove is
    ignored, and so is what they add under their own owner label. Anything of this process, or
    without an owner label, counts.
    """
    before = daemon_state()
    yield
    after = daemon_state()
    mine = owner_label()
    for kind in before:
        added = {i: owner for i, owner in after[kind].items() if i not in before[kind]}
        left = {i for i, owner in added.items() if owner in ("", mine)}
        assert not left, f"{kind} left behind: {left}"


# --- The nemo-gym 0.4.0 wheel ---------------------------------------------------------------------


def _cache_dir() -> Path:
    configured = os.environ.get("GYM_REVIEW_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "gym-review-bot"


@pytest.fixture(scope="session")
def nemo_gym_wheel() -> Path:
    """The nemo-gym 0.4.0 wheel, downloaded once into the cache; skips when it cannot be fetched."""
    cache = _cache_dir()
    wheel = cache / WHEEL
    if wheel.is_file():
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
            "3.12", "--disable-pip-version-check", f"nemo-gym=={NEMO_GYM_VERSION}", "-d", tmp,
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot download the nemo-gym {NEMO_GYM_VERSION} wheel: {exc}")
        if done.returncode != 0 or not (Path(tmp) / WHEEL).is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"cannot download the nemo-gym {NEMO_GYM_VERSION} wheel: {last[0]}")
        os.replace(Path(tmp) / WHEEL, wheel)
    return wheel


def wheel_server(wheel: Path, name: str) -> dict[str, bytes]:
    """A real server's files from the wheel: {path relative to the server dir: bytes}."""
    prefix = f"resources_servers/{name}/"
    with zipfile.ZipFile(wheel) as archive:
        return {
            n[len(prefix) :]: archive.read(n)
            for n in archive.namelist()
            if n.startswith(prefix) and not n.endswith("/") and "__pycache__" not in n
        }
