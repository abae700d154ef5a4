"""Check configs/*.yaml: the server entry (GR103), its domain (GR104), dataset licences (GR113)."""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass
from typing import Any

import yaml

from gym_review_bot.checks import quote
from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed, skipped
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.checks.licence import is_placeholder
from gym_review_bot.models import Location
from gym_review_bot.safeload import UnsafeInput, load_yaml_strict, yaml_error_line

MAX_SHOWN = 100  # characters of a config value quoted in a message


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
                docs, duplicate = load_yaml_strict(cfg.text)
                cfg.data = docs[0] if docs else None
                if len(docs) > 1:
                    cfg.error = f"it holds {len(docs)} YAML documents (`---`); NeMo Gym loads a config of one"
                elif duplicate is not None:
                    cfg.error = (
                        f"the key `{_short(duplicate[0])}` appears twice in one mapping (line {duplicate[1]}); "
                        "NeMo Gym's loader (OmegaConf) refuses duplicate keys"
                    )
                    cfg.line = duplicate[1]
                elif cfg.data is not None and not isinstance(cfg.data, dict):
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


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _crowded(ctx: ServerContext) -> list[tuple[ConfigFile, str, list[str]]]:
    """(config, top-level name, server names) where one `resources_servers` mapping holds more than one server."""
    found: dict[tuple[str, str], tuple[ConfigFile, str, list[str]]] = {}
    for e in server_entries(ctx):
        found.setdefault((e.config.rel, e.top), (e.config, e.top, []))[2].append(_short(e.name))
    return [item for item in found.values() if len(item[2]) > 1]


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
    located = [(e, v, why, find_line(e.config.text, "entrypoint", str(v)[:MAX_SHOWN])) for e, v, why in bad]
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


def find_line(text: str, key: str, value: str | None = None, anywhere: bool = False) -> int | None:
    """The first line holding `key:` (at the line's start after blanks, or `anywhere` in it), followed by
    `value` (quoted or not) when one is given; 1-based, or None. It jumps from one occurrence of the key to
    the next (str.find) and works out each line's start and end once: linear in the text, however many
    blank lines, lines or occurrences it holds."""
    if not key:
        return None
    line, line_start, line_end, indent_end = 1, 0, -1, 0
    at = text.find(key)
    while at != -1:
        if at > line_end:  # a new line: its number, start, end and where its indentation ends
            line += text.count("\n", line_start, at)
            line_start = text.rfind("\n", line_start, at) + 1
            line_end = text.find("\n", at)
            line_end = len(text) if line_end == -1 else line_end
            indent_end = line_start
            while indent_end < line_end and text[indent_end] in " \t":
                indent_end += 1
        if (anywhere or at == indent_end) and _key_at(text, at, line_end, key, value):
            return line
        # at a line's start only: the rest of this line cannot hold it
        at = text.find(key, at + 1 if anywhere else line_end)
    return None


def _key_at(text: str, at: int, end: int, key: str, value: str | None) -> bool:
    """Whether `key`, found at `at`, is followed by blanks, `:`, blanks, an optional quote and `value`,
    within the line ending at `end`."""
    j = at + len(key)
    while j < end and text[j] in " \t":
        j += 1
    if j >= end or text[j] != ":":
        return False
    j += 1
    while j < end and text[j] in " \t":
        j += 1
    if value is None:
        return True
    if j < end and text[j] in "'\"":
        j += 1
    return text.startswith(value, j, end)


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
    crowded = _crowded(ctx)
    if crowded:
        return failed(
            " ".join(
                f"{ctx.full(cfg.rel)}: `{top}.resources_servers` holds {len(names)} servers ({', '.join(names)});"
                for cfg, top, names in crowded
            )
            + " NeMo Gym's config allows one resources server per config entry: give each its own top-level name.",
            file=ctx.full(crowded[0][0].rel),
            locations=[Location(file=ctx.full(cfg.rel)) for cfg, _, _ in crowded],
            key="several servers " + " ".join(f"{cfg.rel}:{top}" for cfg, top, _ in crowded),
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
    _trusted_facts(ctx)
    allowed, source = ctx.checkout.domains
    bad: list[tuple[ServerEntry, str, int | None]] = []
    for e in entries:
        domain = _domain(e)
        file_text = e.config.text
        # The line link says where; the entry's key is only worth naming when there are several.
        which = f"{e.top}.resources_servers.{e.name}" if len(entries) > 1 else "The entry"
        if domain is None:
            line = find_line(file_text, e.name)
            bad.append((e, f"{which} has no `domain`", line))
        elif str(domain) not in allowed:
            close = difflib.get_close_matches(str(domain), allowed, n=1, cutoff=0.4)
            guess = f" Did you mean `{close[0]}`?" if close else ""
            line = find_line(file_text, "domain", str(domain))
            bad.append(
                (
                    e,
                    f"{which} has domain {quote.code(domain)}, not an allowed value.{guess}",
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
    """(config, dataset) for each dataset of any type (train, validation, example, ...) in the server's configs."""
    found = []
    for cfg in load_configs(ctx):
        if cfg.error or not isinstance(cfg.data, dict):
            continue
        for section in cfg.data.values():
            for kind in section.values() if isinstance(section, dict) else []:
                for entry in kind.values() if isinstance(kind, dict) else []:
                    datasets = entry.get("datasets") if isinstance(entry, dict) else None
                    for ds in datasets if isinstance(datasets, list) else []:
                        if isinstance(ds, dict):
                            found.append((cfg, ds))
    return found


LICENCE_REQUIRED = ("train", "validation")  # DatasetConfig asserts a licence for these; others may leave it out


def _trusted_facts(ctx: ServerContext) -> None:
    problem = ctx.checkout.config_types_problem
    if problem:
        raise CheckError(f"{problem}; the allowed values cannot be read, so the bot cannot tell.")


def check_dataset_licences(ctx: ServerContext) -> Outcome:
    datasets = _datasets(ctx)
    if not datasets:
        return skipped("Not applicable: the configs declare no datasets.")
    _trusted_facts(ctx)
    allowed = ctx.checkout.dataset_licences
    bad = []
    for cfg, ds in datasets:
        name, kind = ds.get("name", "?"), ds.get("type", "?")
        licence = ds.get("license")
        line = find_line(cfg.text, "name", str(name), anywhere=True)
        if licence is None:
            # an example dataset may leave its licence out; one that names one is held to the same list and
            # the same placeholders as the rest (`TBD` is a placeholder on every dataset type)
            if kind in LICENCE_REQUIRED:
                shown = quote.code(name, MAX_SHOWN)
                bad.append((cfg, line, f"dataset {shown} ({_short(str(kind))}) declares no `license`"))
        elif is_placeholder(licence):  # the one placeholder list; YAML `false` or a number is one too
            shown = f"{quote.code(name, MAX_SHOWN)} ({_short(str(kind))})"
            bad.append((cfg, line, f"dataset {shown} has placeholder license {quote.code(licence, MAX_SHOWN)}"))
        elif allowed and str(licence) not in allowed:
            shown = f"{quote.code(name, MAX_SHOWN)} has license {quote.code(licence, MAX_SHOWN)}"
            bad.append((cfg, line, f"dataset {shown}, not one NeMo Gym accepts"))
    if bad:
        listing = (
            f" Allowed values (nemo_gym/config_types.py): {quote.values([a for a in allowed if a != 'TBD'])}."
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
    declared = sum(1 for _, ds in datasets if ds.get("license") is not None)
    return passed(f"All {len(datasets)} datasets are licensed as NeMo Gym requires ({declared} declare a licence).")


CHECKS = [
    Check(
        "GR103",
        "error",
        "configs/*.yaml parse and define the server",
        "Add configs/<name>.yaml with `<config>: {resources_servers: {<name>: {entrypoint: app.py}}}`: one YAML "
        "document, no key twice, one server per `resources_servers`; every `entrypoint` names a file inside the "
        "server directory, by a relative path.",
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
        "Datasets declare an accepted licence",
        "Give train/validation datasets a `license:` from DatasetConfig (e.g. Apache 2.0, MIT, CC BY-SA 4.0), never "
        "a placeholder; any dataset's `license:`, example ones too, must be a DatasetConfig value.",
        family="licence",
        run=check_dataset_licences,
    ),
]
