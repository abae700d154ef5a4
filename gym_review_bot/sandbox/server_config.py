"""The one-server NeMo Gym config the sandbox boots: the server's own entry, host 0.0.0.0, a fixed port."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import yaml

from gym_review_bot.safeload import UnsafeInput, load_yaml
from gym_review_bot.sources import SourceTree

SERVER_PORT = 8000
STANDIN_FIRST_PORT = 9101  # the stand-in model servers listen on 127.0.0.1 from here
SERVER_TYPES = ("resources_servers", "responses_api_models", "responses_api_agents")


@dataclass
class ServerConfig:
    """What the launcher needs, or why the server cannot be configured."""

    file: str | None = None  # repository-relative config the entry came from
    key: str = ""  # top-level key: NEMO_GYM_CONFIG_PATH
    entrypoint: str = "app.py"
    yaml_text: bytes = b""
    dependencies: list[str] = field(default_factory=list)  # "responses_api_models/judge_model"
    standin_ports: list[int] = field(default_factory=list)  # one per dependency, same order
    error: str | None = None


def _server_refs(value: Any) -> list[tuple[str, str]]:
    """Every {type: <server type>, name: ...} reference inside a config value."""
    refs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if value.get("type") in SERVER_TYPES and isinstance(value.get("name"), str):
            refs.append((value["type"], value["name"]))
        for child in value.values():
            refs.extend(_server_refs(child))
    elif isinstance(value, list):
        for child in value:
            refs.extend(_server_refs(child))
    return refs


def _candidate_files(tree: SourceTree, server_dir: str, server_name: str) -> list[str]:
    preferred = f"{server_dir}/configs/{server_name}.yaml"
    others = [
        e.path
        for e in tree.walk(f"{server_dir}/configs")
        if e.kind == "file" and e.path.endswith((".yaml", ".yml")) and e.path != preferred
    ]
    return ([preferred] if tree.get(preferred) else []) + others


def _find_entry(doc: Any, server_name: str) -> tuple[str, str, dict] | None:
    """(top-level key, inner name, entry) of the resources_servers entry, preferring the server's name."""
    found = []
    if not isinstance(doc, dict):
        return None
    for key, value in doc.items():
        servers = value.get("resources_servers") if isinstance(value, dict) else None
        if isinstance(servers, dict):
            for inner, entry in servers.items():
                if isinstance(entry, dict):
                    found.append((str(key), str(inner), entry))
    found.sort(key=lambda f: (f[1] != server_name, f[0] != server_name))
    return found[0] if found else None


def load_server_config(tree: SourceTree, server_dir: str, server_name: str) -> ServerConfig:
    for path in _candidate_files(tree, server_dir, server_name):
        entry = tree.get(path)
        if entry is None or entry.kind != "file":
            continue
        try:
            doc = load_yaml(tree.read(entry).decode("utf-8"))
        except (UnsafeInput, yaml.YAMLError, UnicodeDecodeError):
            continue
        hit = _find_entry(doc, server_name)
        if hit:
            return _build(path, *hit)
    return ServerConfig(
        error=f"no config under {server_dir}/configs/ has a `resources_servers` entry to boot",
    )


def _build(path: str, key: str, inner: str, entry: dict) -> ServerConfig:
    entrypoint = str(entry.get("entrypoint") or "app.py")
    normalized = posixpath.normpath(entrypoint)
    if normalized.startswith(("../", "/")) or normalized == "..":
        return ServerConfig(file=path, key=key, error=f"entrypoint {entrypoint!r} leaves the server directory")
    own = dict(entry, host="0.0.0.0", port=SERVER_PORT)
    doc: dict[str, Any] = {key: {"resources_servers": {inner: own}}}
    refs = sorted({(t, n) for t, n in _server_refs(entry) if n != key})
    ports = [STANDIN_FIRST_PORT + i for i in range(len(refs))]
    for (server_type, name), port in zip(refs, ports, strict=True):
        # NeMo Gym's ServerClient finds a server at global_config[name][type][name].host/port: there,
        # on the shared loopback, the replay client's stand-in answers.
        doc.setdefault(name, {server_type: {name: {"entrypoint": "app.py", "host": "127.0.0.1", "port": port}}})
    return ServerConfig(
        file=path,
        key=key,
        entrypoint=normalized,
        yaml_text=yaml.safe_dump(doc, sort_keys=False).encode(),
        dependencies=[f"{t}/{n}" for t, n in refs],
        standin_ports=ports,
    )
