"""Check configs/*.yaml: the server entry (GR103), its domain (GR104), dataset licences (GR113)."""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass
from typing import Any

import yaml

from gym_review_bot.checks.base import Check, Outcome, SkipCheck, failed, passed, skipped
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location
from gym_review_bot.safeload import UnsafeInput, load_yaml, yaml_error_line

MAX_SHOWN = 100  # characters of a config value quoted in a message
PLACEHOLDER_LICENCES = {"", "tbd", "todo", "?", "unknown", "n/a", "na", "none", "null", "<license>", "tba"}


@dataclass
class ConfigFile:
    rel: str
    text: str = ""
    data: Any = None
    error: str | None = None
    line: int | None = None


@dataclass
class ServerEntry:
    """One `<top>: resources_servers: <name>: {...}` entry."""

    config: ConfigFile
    top: str
    name: str
    body: Any


def load_configs(ctx: ServerContext) -> list[ConfigFile]:
    def load() -> list[ConfigFile]:
        out = []
        for rel in ctx.config_files():
            cfg = ConfigFile(rel)
            cfg.text = ctx.text(rel) or ""
            try:
                cfg.data = load_yaml(cfg.text)
                if cfg.data is not None and not isinstance(cfg.data, dict):
                    cfg.error = "the top level is not a mapping of config names"
            except UnsafeInput as exc:
                cfg.error = str(exc)
            except yaml.YAMLError as exc:
                cfg.error = f"YAML error: {str(exc).splitlines()[0]}"
                cfg.line = yaml_error_line(exc)
            out.append(cfg)
        return out

    return ctx.memo("configs", load)


def server_entries(ctx: ServerContext) -> list[ServerEntry]:
    entries = []
    for cfg in load_configs(ctx):
        if cfg.error or not isinstance(cfg.data, dict):
            continue
        for top, section in cfg.data.items():
            servers = section.get("resources_servers") if isinstance(section, dict) else None
            if isinstance(servers, dict):
                entries += [ServerEntry(cfg, str(top), str(n), body) for n, body in servers.items()]
    return entries


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _path_problem(value: Any) -> str | None:
    """Why an `entrypoint` value is not a relative path inside the server directory; None when it is."""
    if not isinstance(value, str) or not value.strip():
        return "is not a file name"
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return "is an absolute path; name a file relative to the server directory"
    if "\\" in value or "\0" in value:
        return "is not a plain relative path (it holds a backslash or a NUL byte)"
    normalized = posixpath.normpath(value)
    if normalized == ".." or normalized.startswith("../"):
        return "leaves the server directory"
    if normalized == ".":
        return "names the server directory, not a file"
    return None


def entrypoint_problem(ctx: ServerContext, value: Any) -> str | None:
    """Why an `entrypoint` value does not name a file inside the server directory; None when it does."""
    why = _path_problem(value)
    if why is None and ctx.tree.get(ctx.full(posixpath.normpath(value))) is None:
        why = f"names no file in {ctx.path}/"
    return why


def entrypoint_files(ctx: ServerContext) -> list[str]:
    """Distinct files the entrypoints name (relative to the server, in config order), present or not."""
    files: list[str] = []
    for e in server_entries(ctx):
        value = e.body.get("entrypoint") if isinstance(e.body, dict) else None
        if _path_problem(value) is None:
            rel = posixpath.normpath(value)
            if rel not in files:
                files.append(rel)
    return files


def _bad_entrypoints(ctx: ServerContext) -> list[tuple[ServerEntry, Any, str]]:
    bad = []
    for e in server_entries(ctx):
        if isinstance(e.body, dict) and "entrypoint" in e.body:
            why = entrypoint_problem(ctx, e.body["entrypoint"])
            if why:
                bad.append((e, e.body["entrypoint"], why))
    return bad


def _entrypoint_failure(ctx: ServerContext, bad: list[tuple[ServerEntry, Any, str]]) -> Outcome:
    located = [
        (e, v, why, find_line(e.config.text, rf"^\s*entrypoint\s*:\s*['\"]?{re.escape(str(v)[:MAX_SHOWN])}"))
        for e, v, why in bad
    ]
    return failed(
        " ".join(
            f"{ctx.full(e.config.rel)}: `{e.top}.resources_servers.{e.name}.entrypoint` {_show(v)} {why}."
            for e, v, why, _ in located
        )
        + f" Set entrypoint to the server's Python file, relative to {ctx.path}/ (e.g. `entrypoint: app.py`).",
        file=ctx.full(bad[0][0].config.rel),
        line=located[0][3],
        locations=[Location(file=ctx.full(e.config.rel), line=line) for e, _, _, line in located],
        key="entrypoint " + " ".join(sorted({_show(v) for _, v, _ in bad})),  # the values, never their lines
    )


def find_line(text: str, pattern: str) -> int | None:
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def check_config_entry(ctx: ServerContext) -> Outcome:
    configs = load_configs(ctx)
    if not configs:
        return failed(
            f"No {ctx.path}/configs/*.yaml. Add configs/{ctx.name}.yaml with "
            f"`{ctx.name}: {{resources_servers: {{{ctx.name}: {{entrypoint: app.py, domain: ...}}}}}}`.",
            file=ctx.full("configs"),
        )
    broken = [c for c in configs if c.error]
    if broken:
        first = broken[0]
        return failed(
            "; ".join(f"{ctx.full(c.rel)}: {c.error}" for c in broken) + ". Fix the YAML so NeMo Gym can load it.",
            file=ctx.full(first.rel),
            line=first.line,
            locations=[Location(file=ctx.full(c.rel), line=c.line) for c in broken],
            key="unloadable " + " ".join(c.rel for c in broken),
        )
    bad = _bad_entrypoints(ctx)
    if bad:
        return _entrypoint_failure(ctx, bad)
    own = [e for e in server_entries(ctx) if e.name == ctx.name]
    with_entrypoint = [e for e in own if isinstance(e.body, dict) and e.body.get("entrypoint")]
    if with_entrypoint:
        e = with_entrypoint[0]
        return passed(
            f"{ctx.full(e.config.rel)} defines {e.top}.resources_servers.{ctx.name} "
            f"with entrypoint {e.body['entrypoint']}.",
            file=ctx.full(e.config.rel),
        )
    others = sorted({e.name for e in server_entries(ctx)})
    hint = f" The configs name {', '.join(others)} instead; the entry must match the directory name." if others else ""
    what = "an entrypoint" if own else "an entry"
    return failed(
        f"No config defines {what} for `resources_servers: {ctx.name}`.{hint} Add "
        f"`<config name>: {{resources_servers: {{{ctx.name}: {{entrypoint: app.py, domain: ...}}}}}}`.",
        file=ctx.full(configs[0].rel),
    )


def check_domain(ctx: ServerContext) -> Outcome:
    entries = server_entries(ctx)
    if not entries:
        raise SkipCheck("Not run: waits on GR103: no config defines a resources_servers entry.", "prerequisite_failed")
    allowed, source = ctx.checkout.domains
    bad: list[tuple[ServerEntry, str, int | None]] = []
    for e in entries:
        domain = _domain(e)
        file_text = e.config.text
        # The line link says where; the entry's key is only worth naming when there are several.
        which = f"{e.top}.resources_servers.{e.name}" if len(entries) > 1 else "The entry"
        if domain is None:
            line = find_line(file_text, rf"^\s*{re.escape(e.name)}\s*:")
            bad.append((e, f"{which} has no `domain`", line))
        elif str(domain) not in allowed:
            close = difflib.get_close_matches(str(domain), allowed, n=1, cutoff=0.4)
            guess = f" Did you mean `{close[0]}`?" if close else ""
            line = find_line(file_text, rf"^\s*domain\s*:\s*['\"]?{re.escape(str(domain))}")
            bad.append(
                (
                    e,
                    f"{which} has domain `{domain}`, not an allowed value.{guess}",
                    line,
                )
            )
    if bad:
        first = bad[0]
        return failed(
            " ".join(msg + "." if not msg.endswith((".", "?")) else msg for _, msg, _ in bad)
            + f" Allowed ({source}): {', '.join(allowed)}.",
            file=ctx.full(first[0].config.rel),
            line=first[2],
            locations=[Location(file=ctx.full(e.config.rel), line=line) for e, _, line in bad],
            key="domain " + " ".join(sorted({_show(_domain(e)) for e, _, _ in bad})),
        )
    domains = sorted({str(e.body["domain"]) for e in entries})
    return passed(f"Every resources server entry has an allowed domain ({', '.join(domains)}).")


def _domain(e: ServerEntry) -> Any:
    return e.body.get("domain") if isinstance(e.body, dict) else None


def _datasets(ctx: ServerContext) -> list[tuple[Any, dict]]:
    """(config, dataset) for each train/validation dataset anywhere in the server's configs."""
    found = []
    for cfg in load_configs(ctx):
        if cfg.error or not isinstance(cfg.data, dict):
            continue
        for section in cfg.data.values():
            for kind in section.values() if isinstance(section, dict) else []:
                for entry in kind.values() if isinstance(kind, dict) else []:
                    datasets = entry.get("datasets") if isinstance(entry, dict) else None
                    for ds in datasets if isinstance(datasets, list) else []:
                        if isinstance(ds, dict) and ds.get("type") in ("train", "validation"):
                            found.append((cfg, ds))
    return found


def check_dataset_licences(ctx: ServerContext) -> Outcome:
    datasets = _datasets(ctx)
    if not datasets:
        return skipped("Not applicable: the configs declare no train or validation datasets.")
    allowed = ctx.checkout.dataset_licences
    bad = []
    for cfg, ds in datasets:
        name = ds.get("name", "?")
        licence = ds.get("license")
        line = find_line(cfg.text, rf"name\s*:\s*['\"]?{re.escape(str(name))}")
        if licence is None or str(licence).strip().lower() in PLACEHOLDER_LICENCES:
            what = "declares no `license`" if licence is None else f"has placeholder license `{licence}`"
            bad.append((cfg, line, f"dataset `{name}` ({ds['type']}) {what}"))
        elif allowed and str(licence) not in allowed:
            bad.append((cfg, line, f"dataset `{name}` has license `{licence}`, not one NeMo Gym accepts"))
    if bad:
        listing = (
            f" Allowed values (nemo_gym/config_types.py): {', '.join(a for a in allowed if a != 'TBD')}."
            if allowed
            else ""
        )
        return failed(
            "; ".join(msg for _, _, msg in bad) + ". Name the data's real licence." + listing,
            file=ctx.full(bad[0][0].rel),
            line=bad[0][1],
            locations=[Location(file=ctx.full(c.rel), line=line) for c, line, _ in bad],
            key="licence " + " ".join(sorted(msg for _, _, msg in bad)),
        )
    return passed(f"All {len(datasets)} train/validation datasets declare a licence.")


CHECKS = [
    Check(
        "GR103",
        "error",
        "configs/*.yaml parse and define the server",
        "Add configs/<name>.yaml with `<config>: {resources_servers: {<name>: {entrypoint: app.py}}}`; "
        "every `entrypoint` names a file inside the server directory, by a relative path.",
        family="config",
        run=check_config_entry,
        floor="error",
    ),
    Check(
        "GR104",
        "error",
        "Config entries have an allowed domain",
        "Set `domain:` to one of NeMo Gym's Domain values (math, coding, agent, ...).",
        family="config",
        run=check_domain,
    ),
    Check(
        "GR113",
        "error",
        "Train/validation datasets declare a licence",
        "Add `license:` with a value from DatasetConfig (e.g. Apache 2.0, MIT, CC BY-SA 4.0); never TBD.",
        family="licence",
        run=check_dataset_licences,
    ),
]
