"""Parsing untrusted YAML and JSON Lines without executing or exploding anything."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson
import yaml

# A NeMo Gym config has a few hundred nodes; a billion-laughs file has billions once expanded.
MAX_YAML_NODES = 100_000


class UnsafeInput(ValueError):
    """Input the loaders refuse: too large once expanded, too deep, or not plain data."""


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


def _scan(text: str) -> tuple[str, int] | None:
    """Count the nodes the text would expand to, aliases included, from the parser's events alone, and find
    the first key that a mapping holds twice: (key, line), or None.

    PyYAML shares aliased objects instead of copying them, but whatever walks the result later
    (validation, serialisation) pays for every expansion: refuse before loading. PyYAML keeps the last
    of two equal keys; OmegaConf, which NeMo Gym loads configs with, refuses them.
    """
    anchor_sizes: dict[str, int] = {}
    open_collections: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
    mappings: list[tuple[set[str], list[bool]] | None] = []  # per open collection: keys seen, next is a key
    duplicate: tuple[str, int] | None = None
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        node = isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent | yaml.AliasEvent)
        if node and mappings and mappings[-1] is not None:
            keys, next_is_key = mappings[-1]
            if next_is_key[0] and isinstance(event, yaml.ScalarEvent) and duplicate is None:
                if event.value in keys and event.value != "<<":
                    duplicate = (event.value, event.start_mark.line + 1)
                keys.add(event.value)
            next_is_key[0] = not next_is_key[0]
        if isinstance(event, yaml.AliasEvent):
            total += anchor_sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            total += 1
            if isinstance(event, yaml.CollectionStartEvent):
                open_collections.append((event.anchor, total - 1))
                mappings.append((set(), [True]) if isinstance(event, yaml.MappingStartEvent) else None)
            elif event.anchor:
                anchor_sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, opened_at = open_collections.pop()
            mappings.pop()
            if anchor:
                anchor_sizes[anchor] = total - opened_at
        if total > MAX_YAML_NODES:
            raise UnsafeInput(f"YAML expands to more than {MAX_YAML_NODES:,} nodes (anchors and aliases included)")
    return duplicate


def load_yaml_documents(text: str) -> list[Any]:
    """Every document of a YAML text, plain data only; raises UnsafeInput or yaml.YAMLError."""
    return load_yaml_strict(text)[0]


def load_yaml_strict(text: str) -> tuple[list[Any], tuple[str, int] | None]:
    """Every document of a YAML text, and the first key a mapping holds twice ((key, line) or None)."""
    try:
        duplicate = _scan(text)
        return list(yaml.load_all(text, Loader=_Loader)), duplicate
    except RecursionError as exc:
        raise UnsafeInput("YAML is nested too deeply") from exc


def load_yaml(text: str) -> Any:
    """The first YAML document of a text (None when empty)."""
    docs = load_yaml_documents(text)
    return docs[0] if docs else None


def yaml_error_line(exc: Exception) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


@dataclass
class JsonLine:
    """One non-blank line of a JSON Lines file: its value, or why it is not JSON."""

    line: int
    value: Any = None
    error: str | None = None


# The longest JSON Lines row parsed. Parsing builds Python objects of up to ~15 times a row's size (a row of
# tiny messages), so a row is refused past this; the longest row of any server in NeMo Gym (its main, and the
# 0.4.0 wheel) is under 1.3 MB. A longer line is a bad line (GR106/GR107 name it), never read whole.
MAX_ROW_BYTES = 8 * 1024 * 1024
# Real rows nest a few levels (messages, content parts, tool schemas); our own walks recurse.
MAX_JSON_DEPTH = 100


class TooDeep(ValueError):
    """JSON nested past MAX_JSON_DEPTH."""


# Longer integers are refused before Python converts them (its own limit is 4,300 digits).
MAX_INT_DIGITS = 400


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits, a number that does not fit a float")
    return int(digits)


def parse_json_line(raw: bytes) -> Any:
    """One JSON value; a ValueError for NaN/Infinity, a huge integer or invalid UTF-8, TooDeep past
    MAX_JSON_DEPTH levels.

    orjson reads it (3x faster than json on a rollout row; >= 3.11.5, whose nesting limit keeps a deep line
    from crashing the process). What orjson refuses is read again by json, whose grammar is the rule: it
    accepts an escaped lone surrogate ("\\ud800") that orjson refuses, and its errors say what is wrong."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # bad UTF-8 raises UnicodeDecodeError, a ValueError
            value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)
        except RecursionError as exc:
            raise TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep") from exc
    # Only a text with that many brackets can nest that deep: the walk runs when it might matter.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and deeper_than(value, MAX_JSON_DEPTH):
        raise TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels; iterative, linear in the nodes."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        if not children:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def bounded_lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw line) of a stream, one line in memory at a time; None for a line over the cap
    (whose rest is skipped unread into memory). A UTF-8 byte-order mark on line 1 is dropped."""
    lineno = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(1 << 20)
            yield lineno, None
            continue
        yield lineno, raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw


def iter_jsonl(stream: IO[bytes], max_line_bytes: int) -> Iterator[JsonLine]:
    """Stream a JSON Lines file line by line; never holds more than one line in memory. The one reader of
    every JSON Lines file a PR holds or links (examples, rollouts, reward profiles, training curves).

    Each error is a predicate of its line, as messages quote it: "line 4 is not valid JSON (...)"."""
    for lineno, raw in bounded_lines(stream, max_line_bytes):
        if raw is None:
            yield JsonLine(lineno, error=f"is longer than {max_line_bytes:,} bytes")
            continue
        if not raw.strip():
            continue
        try:
            yield JsonLine(lineno, value=parse_json_line(raw))
        except TooDeep as exc:
            yield JsonLine(lineno, error=f"is JSON {exc}")
        except UnicodeDecodeError:
            yield JsonLine(lineno, error="is not valid UTF-8")
        except ValueError as exc:
            yield JsonLine(lineno, error=f"is not valid JSON ({_short(exc)})")


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:200]


def finite_number(value: Any) -> float | None:
    """A JSON number (a reward) as a finite float; None for anything else: a bool, a string, NaN, an infinity,
    or an integer too large for a float. The one finite-number test (number_problem says why not)."""
    return None if number_problem(value) else float(value)


def number_problem(value: Any) -> str | None:
    """Why a JSON value is not a usable finite number (None when it is one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "is not a number"
    try:
        float(value)
    except OverflowError:
        return "is a number that does not fit a float"
    return None if math.isfinite(value) else "is not a finite number"
