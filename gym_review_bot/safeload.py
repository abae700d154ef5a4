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


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that counts nodes as they would be expanded, aliases included."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def _size(self, node: yaml.Node) -> int:
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        self._sizes[key] = 1  # cycles count once
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._size(k) + self._size(v) for k, v in node.value)
        self._sizes[key] = size
        return size

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:  # type: ignore[override]
        is_alias = self.check_event(yaml.AliasEvent)
        node = super().compose_node(parent, index)
        self._expanded += self._size(node) if is_alias else 1
        if self._expanded > MAX_YAML_NODES:
            raise UnsafeInput(
                f"YAML expands to more than {MAX_YAML_NODES:,} nodes (anchors and aliases included)"
            )
        return node


def load_yaml_documents(text: str) -> list[Any]:
    """Every document of a YAML text, plain data only; raises UnsafeInput or yaml.YAMLError."""
    loader = _CountingLoader(text)
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    except RecursionError as exc:
        raise UnsafeInput("YAML is nested too deeply") from exc
    finally:
        loader.dispose()


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
