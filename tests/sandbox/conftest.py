"""Fixtures for the sandbox tests: real git repositories, a real Docker daemon, the real nemo-gym wheel."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sources import GitTree
from tests.corpus import CorpusUnavailable, wheel_path
from tests.docker_support import base_image, ca_bundle, daemon_state, docker_skip_reason, leftovers

NEMO_GYM_VERSION = "0.4.0"
NEMO_GYM_REQUIREMENT = f"nemo-gym=={NEMO_GYM_VERSION}\n"


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    docker_items = [i for i in items if i.get_closest_marker("docker") and i.path.is_relative_to(here)]
    if not docker_items:
        return
    reason = docker_skip_reason()
    if reason:
        for item in docker_items:
            item.add_marker(pytest.mark.skip(reason=f"Docker tests skipped: {reason}"))


@pytest.fixture
def options() -> SandboxOptions:
    """Test settings: the local base image, the host CA bundle (TLS proxy), tight timeouts."""
    return SandboxOptions(
        base_image=base_image(),
        ca_bundle=ca_bundle(),
        boot_timeout=120,
        request_timeout=20,
        test_timeout=300,
    )


@pytest.fixture
def nothing_left() -> Iterator[None]:
    """Asserts that the run added nothing to the daemon (cache images excepted).

    Other processes may use the same daemon meanwhile (another test session): what they remove is
    ignored, and so is what they add under their own owner label. Anything of this process, or
    without an owner label, counts.
    """
    before = daemon_state()
    yield
    assert leftovers(before) == {"containers": set(), "networks": set(), "images": set()}


# --- The nemo-gym 0.4.0 wheel ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def nemo_gym_wheel() -> Path:
    """The nemo-gym 0.4.0 wheel, downloaded once into the cache; skips when it cannot be fetched."""
    try:
        return wheel_path()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot download the nemo-gym {NEMO_GYM_VERSION} wheel (offline?): {exc}")


def wheel_server(wheel: Path, name: str) -> dict[str, bytes]:
    """A real server's files from the wheel: {path relative to the server dir: bytes}."""
    prefix = f"resources_servers/{name}/"
    with zipfile.ZipFile(wheel) as archive:
        return {
            n[len(prefix) :]: archive.read(n)
            for n in archive.namelist()
            if n.startswith(prefix) and not n.endswith("/") and "__pycache__" not in n
        }
