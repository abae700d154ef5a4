"""GR201: the server's image, on a dependency cache image keyed by the base image and the requirements."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass

from gym_review_bot.sandbox import context, docker_api, proxy
from gym_review_bot.sandbox.options import BASE_IMAGE_ENV_VAR, DEFAULT_PYTHON_VERSION, SandboxOptions, size_bytes
from gym_review_bot.sandbox.requirements import Requirements, content_digest, local_files
from gym_review_bot.sources import SourceTree

# Bump when the cache image's layout changes, so old cache images are not reused.
# 3: the dependency install runs in a limited container as uid 65534 behind the package proxy; caches
# that the old build (root, on the bridge) made are not reused.
# 4: the virtualenv is built on a tmpfs and saved from a holder container (owned by 65534, times kept).
CACHE_SCHEME = 4


@dataclass
class ImageResult:
    """The run image's tag, or why there is none."""

    tag: str | None
    error: str | None = None
    log_tail: str = ""
    cache_hit: bool = False
    ours: bool = False  # the failure is the sandbox's or an outside actor's (a container killed), not the PR's
    save_s: float = 0.0  # of a cold build: copying the virtualenv off its tmpfs and saving the cache image


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
    final = {
        docker_api.LABEL_KIND: "cache",
        docker_api.LABEL_RUN: "",
        docker_api.LABEL_OWNER: "",
        docker_api.LABEL_CACHE_KEY: key,
        "gym-review-bot.base": base,
    }
    # Saved under this run's own tag, then tagged as the cache image only if no concurrent run did so
    # first: the loser's image keeps only the run tag, which close() removes, leaving no orphan.
    own_tag = f"{docker_api.TMP_REPO}:{scope.run_id}-cache"
    installed = install(scope, base, stage_tag, bool(cas), options, via_proxy, own_tag, final)
    if installed.tag is None:
        return installed
    docker_api.tag_if_absent(scope, own_tag, tag)
    return ImageResult(tag, log_tail=installed.log_tail, save_s=installed.save_s)


TMP_SHARE = 8  # /tmp gets an eighth of --build-disk (at most 64 MiB); the rest is the virtualenv's tmpfs
TMP_MAX = 64 * 1024 * 1024
HOLDER_COMMAND = ["python3", "-I", "-c", "import time; time.sleep(86400)"]


def disk_shares(options: SandboxOptions) -> tuple[int, int]:
    """(the virtualenv's tmpfs, /tmp) in bytes: together exactly --build-disk."""
    cap = options.build_disk_bytes()
    tmp = min(TMP_MAX, cap // TMP_SHARE)
    return cap - tmp, tmp


def install(
    scope: docker_api.RunScope,
    base: str,
    input_tag: str,
    has_ca: bool,
    options: SandboxOptions,
    via_proxy: bool,
    tag: str,
    labels: dict[str, str],
) -> ImageResult:
    """Run the fixed install script in a limited container on the proxy-only network, writing only to
    tmpfs of fixed sizes; then copy the virtualenv into a holder container on the base image and save that
    as the cache image (`tag`, with `labels`).

    The virtualenv's tmpfs is a volume that the holder keeps mounted (read-only), so it outlives the
    install container; nothing the install writes reaches the host's disk, and writes past --build-disk
    fail inside the build with ENOSPC.
    """
    venv_bytes, tmp_bytes = disk_shares(options)
    volume = docker_api.tmpfs_volume(scope, "venv", venv_bytes, context.SANDBOX_UID)
    holder = docker_api.build_container(
        scope, base, HOLDER_COMMAND, "holder", ["none"], holder_limits(volume), environment={}
    )
    docker_api.put_directory(holder, context.VENV, context.SANDBOX_UID)
    holder.start()
    proxy_container = None
    if via_proxy:
        net = docker_api.build_network(scope)
        try:
            exit_proxy = proxy.start_proxy(scope, base, net, options.package_hosts)
        except RuntimeError as exc:  # the proxy is the sandbox's: whatever stopped it, it was not the PR
            return ImageResult(None, str(exc), ours=True)
        networks, proxy_url, proxy_container = [net.name], exit_proxy.url, exit_proxy.container
    else:
        networks, proxy_url = ["bridge"], None
    container = docker_api.build_container(
        scope,
        input_tag,
        context.INSTALL_COMMAND,
        "install",
        networks,
        install_limits(options, volume, tmp_bytes),
        context.install_environment(has_ca, proxy_url),
    )
    outcome = docker_api.run_to_end(scope, container, options.build_timeout, options.pids, proxy_container)
    if outcome.exit_code != 0:
        if outcome.stopped is None and proxy_died(scope, proxy_container):
            outcome.stopped = "proxy"  # it died as the install ended: the install's failure is no verdict
        ours = outcome.interrupted or outcome.stopped == "proxy"
        error = f"installing the requirements failed: {install_failure(outcome, options)}"
        return ImageResult(None, error, outcome.log_tail, ours=ours)
    saving = time.monotonic()
    copy = ["python3", "-I", "-c", context.copy_script(), HOLDER_MOUNT, context.VENV, str(options.build_disk_bytes())]
    code, out, err = docker_api.exec_output(holder, copy, 64 * 1024, 600)
    if code == context.COPY_OVER_BUDGET:
        return ImageResult(None, f"the install wrote more than {options.build_disk} (--build-disk)", outcome.log_tail)
    if code != 0:
        detail = (err or out.decode("utf-8", "replace")).strip()[-500:]
        raise RuntimeError(f"copying the installed virtualenv failed (exit code {code}): {detail}")
    docker_api.commit(scope, holder, tag, cache_config(scope, base, labels))
    return ImageResult(tag, log_tail=outcome.log_tail, save_s=round(time.monotonic() - saving, 2))


HOLDER_MOUNT = "/mnt/installed"


def holder_limits(volume: str) -> dict:
    """The holder runs no code of the pull request, only our copy, which writes within --build-disk."""
    return {
        "user": context.SANDBOX_UID,
        "volumes": {volume: {"bind": HOLDER_MOUNT, "mode": "ro"}},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 64,
        "mem_limit": "512m",
        "memswap_limit": "512m",
        "nano_cpus": int(1e9),
        "init": True,
    }


def cache_config(scope: docker_api.RunScope, base: str, labels: dict[str, str]) -> dict:
    """The cache image's config: the base image's, with the cache labels (not the holder's command or user)."""
    config = scope.docker.images.get(base).attrs.get("Config") or {}
    return {
        "Labels": labels,
        "Cmd": config.get("Cmd"),
        "Entrypoint": config.get("Entrypoint"),
        "User": config.get("User") or "0:0",
        "WorkingDir": config.get("WorkingDir") or "/",
    }


def proxy_died(scope: docker_api.RunScope, proxy_container: object | None) -> bool:
    """The package proxy is no longer running (it never exits on its own): the build lost its only exit."""
    if proxy_container is None:
        return False
    info = docker_api.exit_info(proxy_container)  # type: ignore[arg-type]
    return not info.running and proxy_container.id not in scope.killed  # type: ignore[attr-defined]


def run_limits(options: SandboxOptions) -> dict:
    """The limits of a container that runs on a built image: uid 65534, a read-only root, no capabilities,
    --pids, --memory and --cpus."""
    return {
        "user": context.SANDBOX_UID,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": options.pids,
        "mem_limit": options.memory,
        "memswap_limit": options.memory,
        "nano_cpus": int(options.cpus * 1e9),
        "init": True,
    }


def install_limits(options: SandboxOptions, volume: str, tmp_bytes: int) -> dict:
    """The run-time limits; the install writes only to the virtualenv's tmpfs volume and a small /tmp, which
    together are --build-disk. Their pages count as the container's memory, so its memory limit is --memory
    plus --build-disk."""
    memory = size_bytes(options.memory) + options.build_disk_bytes()
    return {
        **run_limits(options),
        "working_dir": context.DEPS_DIR,
        "volumes": {volume: {"bind": context.VENV, "mode": "rw"}},
        "tmpfs": {"/tmp": f"rw,exec,nosuid,nodev,mode=1777,size={tmp_bytes}"},
        "mem_limit": memory,
        "memswap_limit": memory,
    }


def install_failure(outcome: docker_api.InstallOutcome, options: SandboxOptions) -> str:
    """Why the install container failed, naming the limit it hit, or the outside actor."""
    if outcome.stopped == "proxy":
        errors = (
            " (the install log shows the proxy errors)"
            if any(sign in outcome.log_tail for sign in docker_api.PROXY_ERROR_SIGNS)
            else ""
        )
        return f"{docker_api.INTERRUPTED}: the package proxy stopped during the build{errors}"
    if outcome.interrupted:
        return f"{docker_api.INTERRUPTED}: the install container was killed or removed from outside"
    if outcome.stopped == "timeout":
        return f"it did not finish within {options.build_timeout:g} s (--build-timeout) and was stopped"
    if outcome.stopped == "pids":
        return f"it hit the process/thread limit (--pids {options.pids}) and was stopped"
    if outcome.oom_killed:
        return (
            f"it was killed: out of memory (limit --memory {options.memory} plus --build-disk {options.build_disk}, "
            "which the build's tmpfs takes from memory)"
        )
    if any(sign in outcome.log_tail for sign in docker_api.DISK_FULL_SIGNS):
        return f"it wrote more than {options.build_disk} (--build-disk): no space left on the build's filesystem"
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
