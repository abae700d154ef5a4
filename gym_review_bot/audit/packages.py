"""The built image's installed packages (what `pip freeze` would list), as one digest: a resume key.

The dependency cache image is the one the sandbox builds and reuses (`sandbox.image.ensure_cache`);
its packages are listed from their metadata by the base image's own Python in isolated mode without
`site` (`python3 -I -S`), so nothing the server's packages install (a `.pth` file, a sitecustomize)
runs. The container has no network and the sandbox's limits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gym_review_bot.sandbox import docker_api
from gym_review_bot.sandbox.image import base_image, ensure_cache, run_limits
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.requirements import read_requirements
from gym_review_bot.sources import SourceTree

FREEZE_TIMEOUT_S = 120
MAX_FREEZE_BYTES = 4 * 1024 * 1024
# Standard library only; reads the dist-info metadata of the virtualenv the sandbox runs servers in.
FREEZE_SCRIPT = """
import glob, importlib.metadata as metadata
paths = glob.glob("/opt/venv/lib/python*/site-packages")
seen = set()
for dist in metadata.distributions(path=paths):
    name = (dist.metadata.get("Name") or "") if dist.metadata else ""
    if name:
        seen.add(name.lower().replace("_", "-") + "==" + str(dist.version))
print("\\n".join(sorted(seen)))
"""


@dataclass(frozen=True)
class Packages:
    digest: str | None  # sha256 of the sorted name==version lines; None when there is no built image
    count: int = 0
    why_none: str = ""


def freeze_digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(lines))).encode()).hexdigest()


def installed_packages(tree: SourceTree, server: str, options: SandboxOptions) -> Packages:
    """The packages of the server's dependency image, building it first when it is not cached."""
    reqs = read_requirements(tree, f"resources_servers/{server}", options.allow_url_deps)
    if reqs.invalid:
        return Packages(None, why_none="its requirements cannot be read safely (GR108)")
    scope = docker_api.RunScope(docker_api.client())
    try:
        cache = ensure_cache(scope, base_image(tree, options), reqs, tree, options)
        if cache.tag is None:
            return Packages(None, why_none=f"its image does not build: {cache.error}")
        limits = {**run_limits(options), "working_dir": "/"}
        command = ["python3", "-I", "-S", "-c", FREEZE_SCRIPT]
        container = scope.container(cache.tag, command, "freeze", "none", limits)
        code = docker_api.wait(container, FREEZE_TIMEOUT_S)
        out = docker_api.stdout_bytes(container, MAX_FREEZE_BYTES).decode("utf-8", "replace")
        if code != 0:
            return Packages(None, why_none=f"listing its packages failed (exit code {code})")
        lines = [line.strip() for line in out.splitlines() if "==" in line]
        return Packages(freeze_digest(lines), len(set(lines)))
    finally:
        scope.close()
