"""Cold dependency build through the package proxy vs straight on the default bridge.

Usage: python benchmarks/bench_build.py [--rounds 2] [--requirement nemo-gym==0.4.0]

Installs the requirements of NeMo Gym 0.4.0's `example_single_tool_call` (pinned to `nemo-gym==0.4.0`,
as the tests do; about 1.4 GB) into an empty dependency cache, alternating the two ways so that load
from other processes hits both alike. The build without the proxy exists only here
(`ensure_cache(..., via_proxy=False)`), not as a CLI flag. Each round's cache key is made unique with
a comment line in requirements.txt, and its cache image is removed afterwards, so a cache image other
runs use is never touched.

Needs a Docker daemon and a base image ($GYM_REVIEW_BASE_IMAGE, default gym-review-base:trixie built
by .ci/setup-docker.sh). Target: the proxy costs no more than 20 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gym_review_bot.sandbox import docker_api, image
from gym_review_bot.sandbox.cleanup import remove_cache_images
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.requirements import Requirements
from gym_review_bot.sources import GitTree

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def empty_repo(root: Path) -> GitTree:
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "commit.gpgsign=false"]
    (root / "README.md").write_text("bench\n")
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=root, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True)
    return GitTree(root, head.stdout.strip())


def cold_build(tree: GitTree, requirement: str, opts: SandboxOptions, via_proxy: bool) -> tuple[float, float]:
    """Seconds for one cold dependency install and cache image, and of them saving the virtualenv (copied
    off the install's tmpfs, committed as the cache image); the cache image is removed afterwards."""
    reqs = Requirements(lines=[requirement, f"# bench {uuid.uuid4().hex}"])  # a key no run shares
    scope = docker_api.RunScope(docker_api.client())
    start = time.monotonic()
    try:
        result = image.ensure_cache(scope, opts.base_image or "", reqs, tree, opts, via_proxy=via_proxy)
        wall = time.monotonic() - start
        if result.tag is None:
            raise SystemExit(f"build failed: {result.error}\n{result.log_tail}")
    finally:
        problems = scope.close()
        if problems:
            print("cleanup problems:", problems)
    key = scope.docker.images.get(result.tag).labels[docker_api.LABEL_CACHE_KEY]
    remove_cache_images(scope.docker, key=key)
    scope.docker.close()
    return wall, result.save_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requirement", default="nemo-gym==0.4.0")
    args = parser.parse_args()
    reason = docker_api.unavailable_reason()
    if reason:
        raise SystemExit(reason)
    opts = SandboxOptions(
        base_image=os.environ.get("GYM_REVIEW_BASE_IMAGE") or "gym-review-base:trixie",
        ca_bundle=CA_BUNDLE if CA_BUNDLE.is_file() else None,
    )
    walls: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = empty_repo(Path(tmp))
        for i in range(args.rounds):
            for via_proxy in (True, False) if i % 2 == 0 else (False, True):
                wall, saving = cold_build(tree, args.requirement, opts, via_proxy)
                walls[via_proxy].append(wall)
                how = "proxy" if via_proxy else "direct"
                print(f"round {i + 1}, {how}: {wall:.1f} s (saving the virtualenv {saving:.1f} s)", flush=True)
    proxied, direct = statistics.median(walls[True]), statistics.median(walls[False])
    print(f"== Cold build of {args.requirement!r}, median of {args.rounds} ==")
    print(f"through the proxy: {proxied:.1f} s ({', '.join(f'{w:.1f}' for w in walls[True])})")
    print(f"direct (bridge):   {direct:.1f} s ({', '.join(f'{w:.1f}' for w in walls[False])})")
    overhead = (proxied / direct - 1) * 100
    print(f"proxy overhead: {overhead:+.1f} % (target <= +20 %): {'met' if overhead <= 20 else 'NOT met'}")
    sys.exit(0 if overhead <= 20 else 1)


if __name__ == "__main__":
    main()
