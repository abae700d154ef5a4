"""Check configs/*.yaml: the server entry (GR103), its domain (GR104), dataset licences (GR113)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from gym_review_bot.checks.base import Check, Outcome, SkipCheck, failed, passed, skipped
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Location
from gym_review_bot.safeload import UnsafeInput, load_yaml, yaml_error_line

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
        )
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
        domain = e.body.get("domain") if isinstance(e.body, dict) else None
        file_text = e.config.text
        if domain is None:
            line = find_line(file_text, rf"^\s*{re.escape(e.name)}\s*:")
            bad.append((e, f"{e.top}.resources_servers.{e.name} has no `domain`", line))
        elif str(domain) not in allowed:
            close = difflib.get_close_matches(str(domain), allowed, n=1, cutoff=0.4)
            guess = f" Did you mean `{close[0]}`?" if close else ""
            line = find_line(file_text, rf"^\s*domain\s*:\s*['\"]?{re.escape(str(domain))}")
            bad.append(
                (
                    e,
                    f"{e.top}.resources_servers.{e.name} has domain `{domain}`, not an allowed value.{guess}",
                    line,
                )
            )
    if bad:
        first = bad[0]
        return failed(
            " ".join(msg + "." if not msg.endswith((".", "?")) else msg for _, msg, _ in bad)
            + f" Allowed values ({source}): {', '.join(allowed)}.",
            file=ctx.full(first[0].config.rel),
            line=first[2],
            locations=[Location(file=ctx.full(e.config.rel), line=line) for e, _, line in bad],
        )
    domains = sorted({str(e.body["domain"]) for e in entries})
    return passed(f"Every resources server entry has an allowed domain ({', '.join(domains)}).")


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
        )
    return passed(f"All {len(datasets)} train/validation datasets declare a licence.")


CHECKS = [
    Check(
        "GR103",
        "error",
        "configs/*.yaml parse and define the server",
        "Add configs/<name>.yaml with `<config>: {resources_servers: {<name>: {entrypoint: app.py}}}`.",
        check_config_entry,
    ),
    Check(
        "GR104",
        "error",
        "Every resources server entry has an allowed domain",
        "Set `domain:` to one of NeMo Gym's Domain values (math, coding, agent, ...).",
        check_domain,
    ),
    Check(
        "GR113",
        "error",
        "Train/validation datasets declare a licence",
        "Add `license:` with a value from DatasetConfig (e.g. Apache 2.0, MIT, CC BY-SA 4.0); never TBD.",
        check_dataset_licences,
    ),
]
