"""Read a training curve's points from a CSV or JSON file in the PR (bounded; anything odd gives no points)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from gym_review_bot.models import CurvePoint
from gym_review_bot.safeload import parse_json_line

MAX_CURVE_BYTES = 2 * 1024 * 1024
MAX_POINTS = 10_000
X_NAMES = ("step", "steps", "iteration", "iter", "epoch", "global_step", "x")
Y_WORDS = ("acc", "reward", "score", "pass", "y")


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _columns(header: list[str]) -> tuple[int, int]:
    names = [h.strip().lower() for h in header]
    x = next((i for i, n in enumerate(names) if n in X_NAMES), 0)
    y = next((i for i, n in enumerate(names) if i != x and any(w in n for w in Y_WORDS)), 1 if x == 0 else 0)
    return x, y


def _from_csv(text: str) -> list[CurvePoint]:
    rows = csv.reader(io.StringIO(text))
    points: list[CurvePoint] = []
    x, y = 0, 1
    for n, row in enumerate(rows):
        if n > MAX_POINTS or len(points) >= MAX_POINTS:
            break
        if n == 0 and row and _num(row[0]) is None:
            x, y = _columns(row)
            continue
        if len(row) > max(x, y):
            px, py = _num(row[x]), _num(row[y])
            if px is not None and py is not None:
                points.append(CurvePoint(step=px, value=py))
    return points


def _from_json(raw: bytes) -> list[CurvePoint]:
    try:
        value = parse_json_line(raw)
    except ValueError:  # TooDeep too
        return []
    points: list[CurvePoint] = []
    if isinstance(value, dict):  # {"step": [...], "accuracy": [...]}
        keys = list(value)
        x, y = _columns(keys)
        xs, ys = (value.get(keys[x]), value.get(keys[y])) if len(keys) > 1 else (None, None)
        if isinstance(xs, list) and isinstance(ys, list):
            value = [[a, b] for a, b in zip(xs[:MAX_POINTS], ys[:MAX_POINTS], strict=False)]
    if not isinstance(value, list):
        return []
    for item in value[:MAX_POINTS]:
        if isinstance(item, list | tuple) and len(item) >= 2:
            px, py = _num(item[0]), _num(item[1])
        elif isinstance(item, dict) and item:
            keys = list(item)
            x, y = _columns(keys)
            px, py = _num(item.get(keys[x])), _num(item.get(keys[y])) if len(keys) > 1 else None
        else:
            continue
        if px is not None and py is not None:
            points.append(CurvePoint(step=px, value=py))
    return points


def read_curve(raw: bytes, name: str) -> list[CurvePoint]:
    if len(raw) > MAX_CURVE_BYTES:
        return []
    if name.lower().endswith(".json"):
        return _from_json(raw)
    return _from_csv(raw.decode("utf-8", "replace"))
