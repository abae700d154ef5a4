"""Parsing untrusted YAML and JSON Lines without executing or exploding anything."""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import yaml

# A NeMo Gym config has a few hundred nodes; a billion-laughs file has billions once expanded.
MAX_YAML_NODES = 100_000


class UnsafeInput(ValueError):
    """Input the loaders refuse: too large once expanded, too deep, or not plain data."""


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


def _check_expansion(text: str) -> None:
    """Count the nodes the text would expand to, aliases included, from the parser's events alone.

    PyYAML shares aliased objects instead of copying them, but whatever walks the result later
    (validation, serialisation) pays for every expansion: refuse before loading.
    """
    anchor_sizes: dict[str, int] = {}
    open_collections: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            total += anchor_sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            total += 1
            if isinstance(event, yaml.CollectionStartEvent):
                open_collections.append((event.anchor, total - 1))
            elif event.anchor:
                anchor_sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, opened_at = open_collections.pop()
            if anchor:
                anchor_sizes[anchor] = total - opened_at
        if total > MAX_YAML_NODES:
            raise UnsafeInput(f"YAML expands to more than {MAX_YAML_NODES:,} nodes (anchors and aliases included)")


def load_yaml_documents(text: str) -> list[Any]:
    """Every document of a YAML text, plain data only; raises UnsafeInput or yaml.YAMLError."""
    try:
        _check_expansion(text)
        return list(yaml.load_all(text, Loader=_Loader))
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


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_line(text: str) -> Any:
    """json.loads, refusing NaN/Infinity and deep nesting with a ValueError."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("JSON is nested too deeply") from exc


def iter_jsonl(stream: IO[bytes], max_line_bytes: int) -> Iterator[JsonLine]:
    """Stream a JSON Lines file line by line; never holds more than one line in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lineno = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            yield JsonLine(lineno, error=f"line is longer than {max_line_bytes:,} bytes")
            while raw and not raw.endswith(b"\n"):  # skip the rest of the overlong line
                raw = stream.readline(1 << 20)
            continue
        try:
            text = decoder.decode(raw, final=False)
        except UnicodeDecodeError:
            decoder.reset()
            yield JsonLine(lineno, error="line is not valid UTF-8")
            continue
        if lineno == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        try:
            yield JsonLine(lineno, value=parse_json_line(text))
        except ValueError as exc:
            yield JsonLine(lineno, error=f"not valid JSON ({_short(exc)})")


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:200]


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
