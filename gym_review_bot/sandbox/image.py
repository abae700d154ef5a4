"""GR201: the server's image, on a dependency cache image keyed by the base image and the requirements."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

from gym_review_bot.sandbox import context, docker_api
from gym_review_bot.sandbox.options import BASE_IMAGE_ENV_VAR, DEFAULT_PYTHON_VERSION, SandboxOptions
from gym_review_bot.sandbox.requirements import Requirements, content_digest, local_files
from gym_review_bot.sources import SourceTree

# Bump when the cache image's layout changes, so old cache images are not reused.
CACHE_SCHEME = 2


@dataclass
class ImageResult:
    """The run image's tag, or why there is none."""

    tag: str | None
    error: str | None = None
    log_tail: str = ""
    cache_hit: bool = False


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
    local = [(d.path, d.extras, content_digest(tree, local_files(tree, d))) for d in reqs.local]
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
    scope: docker_api.RunScope, base: str, reqs: Requirements, tree: SourceTree, options: SandboxOptions
) -> ImageResult:
    base_id, error = ensure_base(scope, base)
    if error or not base_id:
        return ImageResult(None, error or f"base image {base!r} not found")
    cas = options.ca_bundles()
    key = cache_key(base_id, reqs, tree, bool(cas))
    tag = f"{docker_api.CACHE_REPO}:{key[:32]}"
    if docker_api.image_exists(scope.docker, tag):
        return ImageResult(tag, cache_hit=True)
    stage_tag = f"{docker_api.TMP_REPO}:{scope.run_id}"
    stage = scope.build(context.deps_context(base, reqs, tree, cas, scope.labels("tmp")), stage_tag, network=True)
    if stage.error:
        return ImageResult(None, f"installing the requirements failed: {stage.error}", stage.log_tail)
    final = {
        docker_api.LABEL_KIND: "cache",
        docker_api.LABEL_RUN: "",
        docker_api.LABEL_OWNER: "",
        docker_api.LABEL_CACHE_KEY: key,
        "gym-review-bot.base": base,
    }
    cache = scope.build(context.cache_context(base, stage_tag, scope.labels("tmp"), final), tag, network=False)
    if cache.error:
        return ImageResult(None, f"saving the dependency cache image failed: {cache.error}", cache.log_tail)
    scope.release_image(tag)
    return ImageResult(tag)


def build_run_image(
    scope: docker_api.RunScope,
    tree: SourceTree,
    server_dir: str,
    reqs: Requirements,
    server_config: bytes,
    options: SandboxOptions,
) -> ImageResult:
    cache = ensure_cache(scope, base_image(tree, options), reqs, tree, options)
    if cache.tag is None:
        return cache
    tag = f"{docker_api.RUN_REPO}:{scope.run_id}"
    ctx = context.run_context(cache.tag, tree, server_dir, server_config, scope.labels("run"))
    built = scope.build(ctx, tag, network=False)
    if built.error:
        return ImageResult(None, f"copying the server into the image failed: {built.error}", built.log_tail)
    return ImageResult(tag, cache_hit=cache.cache_hit)
