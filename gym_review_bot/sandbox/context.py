"""Docker build contexts as tar files, streamed from the checkout's tree (symlinks kept as links)."""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import tempfile
from importlib import resources
from pathlib import Path
from typing import IO

from gym_review_bot.sandbox.requirements import Requirements, local_files
from gym_review_bot.sources import Entry, SourceTree

VENV = "/opt/venv"
DEPS_DIR = "/opt/gym-review/deps"
LAUNCHER = "/opt/gym-review/launch.py"
SERVER_CONFIG = "/opt/gym-review/server_config.yaml"
SANDBOX_UID = "65534:65534"  # nobody: needs no passwd entry in the base image
SPOOL_BYTES = 32 * 1024 * 1024
TEST_TOOLS = ("pytest", "pytest-asyncio")
# pytest reads its configuration from the checkout root in NeMo Gym's tree (asyncio_mode = "auto").
ROOT_PYTEST_CONFIGS = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg")
STREAM_BYTES = 4 * 1024 * 1024


class ContextWriter:
    """An uncompressed tar written to a spooled temporary file."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.tar = tarfile.open(fileobj=self.file, mode="w", format=tarfile.PAX_FORMAT)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 0
        self.tar.addfile(info, io.BytesIO(data))

    def add_entry(self, tree: SourceTree, entry: Entry, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.mode, info.mtime = 0o644, 0
        if entry.kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, entry.target or ""
            self.tar.addfile(info)
        elif entry.kind == "file" and entry.size > STREAM_BYTES:
            info.size = entry.size  # large files are streamed, never held in memory
            with tree.stream(entry) as fh:
                self.tar.addfile(info, fh)
        elif entry.kind == "file":
            data = tree.read(entry)
            info.size = len(data)
            self.tar.addfile(info, io.BytesIO(data))

    def close(self) -> IO[bytes]:
        self.tar.close()
        self.file.seek(0)
        return self.file


def _run_labels(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in labels.items())


def deps_context(
    base_image: str, reqs: Requirements, tree: SourceTree, ca_bundles: list[Path], labels: dict[str, str]
) -> IO[bytes]:
    """The dependency install's input image: the base plus the install plan, owned by the sandbox user.

    Nothing runs here: the install itself runs in a limited container (`docker_api.run_install`) whose
    command is the fixed `_install_deps.py`; what the pull request decides is only in files it reads.
    """
    ctx = ContextWriter()
    ctx.add_bytes("deps/requirements.txt", reqs.requirements_text().encode())
    if ca_bundles:
        ctx.add_bytes("deps/ca.pem", b"\n".join(p.read_bytes() for p in ca_bundles))
    local = []
    for i, dep in enumerate(reqs.local):
        for entry in local_files(tree, dep):
            rel = entry.path[len(dep.path) + 1 :] if dep.path else entry.path
            ctx.add_entry(tree, entry, f"deps/local{i}/{rel}")
        local.append({"dir": f"local{i}", "extras": dep.extras, "marker": dep.marker})
    plan = {"local": local, "test_tools": list(TEST_TOOLS)}
    ctx.add_bytes("deps/plan.json", json.dumps(plan).encode())
    ctx.add_bytes(
        "deps/install.py", resources.files("gym_review_bot.sandbox").joinpath("_install_deps.py").read_bytes()
    )
    ctx.add_bytes("venv/.gym-review", b"")
    dockerfile = "\n".join(
        [
            f"FROM {base_image}",
            _run_labels(labels),
            f"COPY --chown={SANDBOX_UID} deps/ {DEPS_DIR}/",
            f"COPY --chown={SANDBOX_UID} venv/ {VENV}/",
            "",
        ]
    )
    ctx.add_bytes("Dockerfile", dockerfile.encode())
    return ctx.close()


def install_environment(ca_bundle: bool, proxy_url: str | None) -> dict[str, str]:
    """The install container's environment: pip settings, the CA bundle and the proxy; nothing from the host."""
    env = {
        "HOME": "/tmp",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_NO_INPUT": "1",
        "PIP_PROGRESS_BAR": "off",
        "PYTHONUNBUFFERED": "1",
    }
    if ca_bundle:
        env["PIP_CERT"] = f"{DEPS_DIR}/ca.pem"
    if proxy_url:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            env[name] = proxy_url
    return env


INSTALL_COMMAND = ["python3", "-I", f"{DEPS_DIR}/install.py"]
COPY_OVER_BUDGET = 3  # _copy_tree.py's exit code when the virtualenv is larger than --build-disk


def copy_script() -> str:
    """The holder's copy of the virtualenv (`python3 -I -c`), our standard-library script."""
    return resources.files("gym_review_bot.sandbox").joinpath("_copy_tree.py").read_text(encoding="utf-8")


def holds_rewards(path: str) -> bool:
    """Stored rollouts and reward-profiling output (`data/example_rollouts*.jsonl`, `*rollouts*.jsonl`,
    `*reward_profiling*.jsonl`): the rewards the sandbox checks verify() against, which it must not see."""
    name = posixpath.basename(path).lower()
    return name.endswith((".jsonl", ".jsonl.gz", ".json")) and ("rollouts" in name or "reward_profiling" in name)


def run_context(
    cache_image: str,
    tree: SourceTree,
    server_dir: str,
    server_config: bytes,
    labels: dict[str, str],
    hidden: frozenset[str] = frozenset(),
) -> IO[bytes]:
    """The run image: the cache image plus the server's files (not the stored rewards, nor `hidden` paths:
    evidence the pull request names) and the launcher."""
    ctx = ContextWriter()
    for entry in tree.walk(server_dir):
        if not holds_rewards(entry.path) and entry.path not in hidden:
            ctx.add_entry(tree, entry, f"src/{entry.path}")
    for name in ROOT_PYTEST_CONFIGS:
        entry = tree.get(name)
        if entry is not None and entry.kind == "file":
            ctx.add_entry(tree, entry, f"src/{name}")
    launcher = resources.files("gym_review_bot.sandbox").joinpath("_launcher.py").read_bytes()
    ctx.add_bytes("launch.py", launcher)
    ctx.add_bytes("server_config.yaml", server_config)
    dockerfile = "\n".join(
        [
            f"FROM {cache_image}",
            _run_labels(labels),
            "COPY src/ /src/",
            f"COPY launch.py {LAUNCHER}",
            f"COPY server_config.yaml {SERVER_CONFIG}",
            f"ENV PATH={VENV}/bin:/usr/local/bin:/usr/bin:/bin HOME=/tmp USER=gymreview LOGNAME=gymreview "
            "PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 RAY_USAGE_STATS_ENABLED=0 "
            "RAY_DISABLE_DOCKER_CPU_WARNING=1 GYM_REVIEW_SANDBOX=1",
            f"USER {SANDBOX_UID}",
            "",
        ]
    )
    ctx.add_bytes("Dockerfile", dockerfile.encode())
    return ctx.close()
