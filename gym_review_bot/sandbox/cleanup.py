"""`gym-review cleanup`: remove what dead sandbox runs left behind, and with --cache the dependency cache."""

from __future__ import annotations

from typing import Any

import docker.errors

from gym_review_bot.sandbox import docker_api


def _running_hostnames(dk: Any) -> set[str]:
    names: set[str] = set()
    for c in dk.containers.list():
        names.add(c.id[:12])
        names.add(str(c.attrs.get("Config", {}).get("Hostname", "")))
    return names


def _dead(labels: dict[str, str], hostnames: set[str]) -> bool:
    owner = labels.get(docker_api.LABEL_OWNER, "")
    return bool(labels.get(docker_api.LABEL_RUN)) and not docker_api.owner_alive(owner, hostnames)


def _remove(obj: Any, **kwargs: Any) -> bool:
    try:
        obj.remove(**kwargs)
        return True
    except docker.errors.NotFound:
        return False
    except docker_api.DockerError:
        return False


def cleanup(cache: bool = False) -> str:
    """Remove containers, networks and images of dead runs (never a live run's); a summary line."""
    reason = docker_api.unavailable_reason()
    if reason:
        return f"Nothing cleaned: {reason}"
    dk = docker_api.client()
    try:
        hostnames = _running_hostnames(dk)
        counts = {"containers": 0, "networks": 0, "volumes": 0, "images": 0, "cache images": 0}
        for c in docker_api.iter_labelled(dk, "containers"):
            if _dead(c.labels, hostnames) and _remove(c, force=True, v=True):
                counts["containers"] += 1
        for net in docker_api.iter_labelled(dk, "networks"):
            if _dead(net.attrs.get("Labels") or {}, hostnames) and _remove(net):
                counts["networks"] += 1
        for volume in docker_api.iter_labelled(dk, "volumes"):  # the build's tmpfs volumes
            if _dead(volume.attrs.get("Labels") or {}, hostnames) and _remove(volume, force=True):
                counts["volumes"] += 1
        for image in docker_api.iter_labelled(dk, "images"):
            labels = image.labels or {}
            if labels.get(docker_api.LABEL_KIND) != "cache" and _dead(labels, hostnames):
                counts["images"] += _remove_image(dk, image)
        if cache:
            counts["cache images"] = remove_cache_images(dk)
        left = ", ".join(f"{counts[k]} {k[:-1]}(s)" for k in ("containers", "networks", "images"))
        left += f", {counts['volumes']} volume(s)" if counts["volumes"] else ""
        summary = f"Removed what dead gym-review sandbox runs left: {left}"
        return summary + (f"; dependency cache: {counts['cache images']} image(s)" if cache else "")
    finally:
        dk.close()


def remove_cache_images(dk: Any, key: str | None = None) -> int:
    """Remove the dependency cache images (all, or the one of a cache key)."""
    label = f"{docker_api.LABEL_KIND}=cache"
    images = dk.images.list(filters={"label": label})
    if key is not None:
        images = [i for i in images if (i.labels or {}).get(docker_api.LABEL_CACHE_KEY) == key]
    removed = sum(_remove_image(dk, image) for image in images)
    # Not every dangling image with a run label: a live run's build steps are dangling between steps.
    return removed + _remove_untagged(dk, key)


def _remove_untagged(dk: Any, key: str | None) -> int:
    """Untagged images with the bot's labels that no live run owns (a cache image that lost a race, the
    layers of a build killed midway)."""
    hostnames = _running_hostnames(dk)
    removed = 0
    for image in dk.images.list(filters={"dangling": "true", "label": docker_api.LABEL_KIND}):
        labels = image.labels or {}
        if key is not None and labels.get(docker_api.LABEL_CACHE_KEY) != key:
            continue
        if not labels.get(docker_api.LABEL_RUN) or _dead(labels, hostnames):
            removed += _remove_image(dk, image)
    return removed


def _remove_image(dk: Any, image: Any) -> int:
    """Remove every tag of an image (in-use images stay: Docker refuses)."""
    refs = image.tags or [image.id]
    removed = 0
    for ref in refs:
        try:
            dk.images.remove(ref, force=len(refs) > 1)
            removed = 1
        except docker_api.DockerError:
            pass
    return removed
