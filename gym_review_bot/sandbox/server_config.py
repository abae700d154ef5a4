"""The one-server NeMo Gym config the sandbox boots: the server's own entry, host 0.0.0.0, a fixed port.

The configs are read by checks/config.py, the one config reader: the sandbox boots what GR103 accepts."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import yaml

from gym_review_bot.checks.base import CheckError, SkipCheck
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.checks.config import ServerEntry, entrypoint_problem, load_configs, server_entries
from gym_review_bot.checks.context import ServerContext
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


def load_server_config(tree: SourceTree, server_name: str) -> ServerConfig:
    """The entry to boot, read by the static checks' own reader (GR103's rules: one YAML document, no key twice,
    an entrypoint naming a file inside the server): configs/<name>.yaml first, then the entry named like the
    server. A config GR100 or GR103 refuses is not booted either."""
    ctx = ServerContext(tree, server_name, Checkout(tree))
    try:
        configs = load_configs(ctx)
        entries = server_entries(ctx)
    except (SkipCheck, CheckError) as exc:
        return ServerConfig(error=f"its configs cannot be read: {exc}")
    preferred = f"configs/{server_name}.yaml"
    entries.sort(key=lambda e: (e.config.rel != preferred, e.name != server_name, e.top != server_name))
    for entry in entries:
        if isinstance(entry.body, dict):
            return _build(ctx, entry)
    unreadable = [f"{ctx.full(c.rel)}: {c.error}" for c in configs if c.error]
    return ServerConfig(
        error=f"no config under {ctx.path}/configs/ has a `resources_servers` entry to boot"
        + (f" ({'; '.join(unreadable)})" if unreadable else ""),
    )


def _build(ctx: ServerContext, config_entry: ServerEntry) -> ServerConfig:
    path, key, inner, entry = ctx.full(config_entry.config.rel), config_entry.top, config_entry.name, config_entry.body
    entrypoint = entry.get("entrypoint") or "app.py"
    why = entrypoint_problem(ctx, entrypoint)
    if why:
        return ServerConfig(file=path, key=key, error=f"entrypoint {str(entrypoint)[:100]!r} {why}")
    normalized = posixpath.normpath(entrypoint)
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
