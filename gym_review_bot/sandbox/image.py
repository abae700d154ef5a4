"""GR201: the server's image, on a dependency cache image keyed by the base image and the requirements."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

from gym_review_bot.sandbox import context, docker_api, proxy
from gym_review_bot.sandbox.options import BASE_IMAGE_ENV_VAR, DEFAULT_PYTHON_VERSION, SandboxOptions
from gym_review_bot.sandbox.requirements import Requirements, content_digest, local_files
from gym_review_bot.sources import SourceTree

# Bump when the cache image's layout changes, so old cache images are not reused.
# 3: the dependency install runs in a limited container as uid 65534 behind the package proxy; caches
# that the old build (root, on the bridge) made are not reused.
CACHE_SCHEME = 3


@dataclass
class ImageResult:
    """The run image's tag, or why there is none."""

    tag: str | None
    error: str | None = None
    log_tail: str = ""
    cache_hit: bool = False
    disk_poll_s: float = 0.0  # of the install: time spent polling its disk use


def base_image(tree: SourceTree, options: SandboxOptions) -> str:
    """--base-image, else $GYM_REVIEW_BASE_IMAGE, else python:<.python-version>-slim (3.12 when absent)."""
    if options.base_image:
        return options.base_image
    if os.environ.get(BASE_IMAGE_ENV_VAR):
        return os.environ[BASE_IMAGE_ENV_VAR]
    version = DEFAULT_PYTHON_VERSION
    entry = tree.get(".python-version")
    if entry is not None and entry.kind == "file":
        text = tree.read(entry, limit=200).decode("utf-8", "replace").strip()
        match = re.match(r"^(?:python-?)?(3\.\d+)", text)
        version = match.group(1) if match else version
    return f"python:{version}-slim"


def cache_key(base_id: str, reqs: Requirements, tree: SourceTree, has_ca: bool) -> str:
    local = [(d.path, d.extras, d.marker, content_digest(tree, local_files(tree, d))) for d in reqs.local]
    payload = {"scheme": CACHE_SCHEME, "base": base_id, "lines": reqs.lines, "local": local, "ca": has_ca}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ensure_base(scope: docker_api.RunScope, ref: str) -> tuple[str | None, str | None]:
    """(image id, error): the base image, pulled when it is not present."""
    image_id = docker_api.image_exists(scope.docker, ref)
    if image_id:
        return image_id, None
    error = docker_api.pull(scope.docker, ref)
    if error:
        return None, f"base image {ref!r} is not present and could not be pulled: {error}"
    return docker_api.image_exists(scope.docker, ref), None


def ensure_cache(
    scope: docker_api.RunScope,
    base: str,
    reqs: Requirements,
    tree: SourceTree,
    options: SandboxOptions,
    via_proxy: bool = True,
) -> ImageResult:
    """The dependency cache image for these requirements: reused, or installed and saved.

    `via_proxy=False` (benchmarks only) installs on the default bridge, without the proxy.
    """
    base_id, error = ensure_base(scope, base)
    if error or not base_id:
        return ImageResult(None, error or f"base image {base!r} not found")
    cas = options.ca_bundles()
    key = cache_key(base_id, reqs, tree, bool(cas))
    tag = f"{docker_api.CACHE_REPO}:{key[:32]}"
    if docker_api.image_exists(scope.docker, tag):
        return ImageResult(tag, cache_hit=True)
    stage_tag = f"{docker_api.TMP_REPO}:{scope.run_id}-input"
    stage = scope.build(context.deps_context(base, reqs, tree, cas, scope.labels("tmp")), stage_tag, network=False)
    if stage.error:
        return ImageResult(None, f"preparing the dependency install failed: {stage.error}", stage.log_tail)
    installed = install(scope, base, stage_tag, bool(cas), options, via_proxy)
    if installed.tag is None:
        return installed
    final = {
        docker_api.LABEL_KIND: "cache",
        docker_api.LABEL_RUN: "",
        docker_api.LABEL_OWNER: "",
        docker_api.LABEL_CACHE_KEY: key,
        "gym-review-bot.base": base,
    }
    # Built under this run's own tag, then tagged as the cache image only if no concurrent run did so
    # first: the loser's image keeps only the run tag, which close() removes, leaving no orphan.
    own_tag = f"{docker_api.TMP_REPO}:{scope.run_id}-cache"
    ctx = context.cache_context(base, installed.tag, scope.labels("tmp"), final)
    cache = scope.build(ctx, own_tag, network=False)
    if cache.error:
        return ImageResult(None, f"saving the dependency cache image failed: {cache.error}", cache.log_tail)
    docker_api.tag_if_absent(scope, own_tag, tag)
    return ImageResult(tag, log_tail=installed.log_tail, disk_poll_s=installed.disk_poll_s)


def install(
    scope: docker_api.RunScope, base: str, input_tag: str, has_ca: bool, options: SandboxOptions, via_proxy: bool
) -> ImageResult:
    """Run the fixed install script in a limited container on the proxy-only network; commit it (tag: the result)."""
    if via_proxy:
        net = docker_api.build_network(scope)
        try:
            exit_proxy = proxy.start_proxy(scope, base, net, options.package_hosts)
        except RuntimeError as exc:
            return ImageResult(None, str(exc))
        networks, proxy_url = [net.name], exit_proxy.url
    else:
        networks, proxy_url = ["bridge"], None
    container = docker_api.build_container(
        scope,
        input_tag,
        context.INSTALL_COMMAND,
        "install",
        networks,
        install_limits(options),
        context.install_environment(has_ca, proxy_url),
    )
    outcome = docker_api.run_to_end(scope.docker, container, options.build_timeout, options.build_disk_bytes())
    if outcome.exit_code != 0:
        return ImageResult(
            None, f"installing the requirements failed: {install_failure(outcome, options)}", outcome.log_tail
        )
    committed = f"{docker_api.TMP_REPO}:{scope.run_id}-installed"
    docker_api.commit(scope, container, committed)
    return ImageResult(committed, log_tail=outcome.log_tail, disk_poll_s=outcome.disk_poll_s)


def install_limits(options: SandboxOptions) -> dict:
    """The run-time limits, but a writable root: what the install writes is what is saved (and counted)."""
    return {
        "user": context.SANDBOX_UID,
        "working_dir": context.DEPS_DIR,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": options.pids,
        "mem_limit": options.memory,
        "memswap_limit": options.memory,
        "nano_cpus": int(options.cpus * 1e9),
        "init": True,
    }


# What a process prints when fork() or thread creation hits the pids limit.


def install_failure(outcome: docker_api.InstallOutcome, options: SandboxOptions) -> str:
    """Why the install container failed, naming the limit it hit."""
    if outcome.stopped == "timeout":
        return f"it did not finish within {options.build_timeout:g} s (--build-timeout) and was stopped"
    if outcome.stopped == "disk":
        return f"it wrote more than {options.build_disk} (--build-disk) and was stopped"
    if outcome.oom_killed:
        return f"it was killed: out of memory (limit --memory {options.memory})"
    if any(sign in outcome.log_tail for sign in docker_api.PIDS_SIGNS):
        return f"it hit the process/thread limit (--pids {options.pids})"
    return f"the install exited with code {outcome.exit_code}"


def build_run_image(
    scope: docker_api.RunScope,
    tree: SourceTree,
    server_dir: str,
    reqs: Requirements,
    server_config: bytes,
    options: SandboxOptions,
    hidden: frozenset[str] = frozenset(),
) -> ImageResult:
    cache = ensure_cache(scope, base_image(tree, options), reqs, tree, options)
    if cache.tag is None:
        return cache
    tag = f"{docker_api.RUN_REPO}:{scope.run_id}"
    ctx = context.run_context(cache.tag, tree, server_dir, server_config, scope.labels("run"), hidden)
    built = scope.build(ctx, tag, network=False)
    if built.error:
        return ImageResult(None, f"copying the server into the image failed: {built.error}", built.log_tail)
    return ImageResult(tag, cache_hit=cache.cache_hit)
