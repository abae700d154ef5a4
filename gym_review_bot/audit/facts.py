"""Facts about a server the dashboard filters by: the `domain:` values of its configs."""

from __future__ import annotations

import yaml

from gym_review_bot.safeload import UnsafeInput, load_yaml
from gym_review_bot.sources import SourceTree

MAX_CONFIG_BYTES = 1024 * 1024
MAX_DOMAIN_CHARS = 60


def domains(tree: SourceTree, server_path: str) -> list[str]:
    """The distinct `domain:` strings of the server's resources-server entries in configs/*.yaml, sorted."""
    found: set[str] = set()
    for entry in tree.walk(f"{server_path}/configs"):
        if entry.kind != "file" or entry.missing or not entry.path.endswith((".yaml", ".yml")):
            continue
        if entry.size > MAX_CONFIG_BYTES:
            continue
        try:
            data = load_yaml(tree.read(entry).decode("utf-8", "replace"))
        except (UnsafeInput, yaml.YAMLError, OSError, ValueError):
            continue  # GR103 reports a config that does not parse
        for section in data.values() if isinstance(data, dict) else []:
            servers = section.get("resources_servers") if isinstance(section, dict) else None
            for body in servers.values() if isinstance(servers, dict) else []:
                value = body.get("domain") if isinstance(body, dict) else None
                if isinstance(value, str) and value.strip():
                    found.add(value.strip()[:MAX_DOMAIN_CHARS])
    return sorted(found)
