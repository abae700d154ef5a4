"""Types for command-line flags: a bad value exits 2 naming the flag, never reaches the review."""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

_MEMORY = re.compile(r"^([0-9]+)([bkmg]?)$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY_BYTES = 6 * 1024**2  # Docker refuses less than 6 MiB


def positive_float(text: str) -> float:
    """A finite number greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number greater than 0")
    return value


def positive_int(text: str) -> int:
    """A whole number greater than zero."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def memory_size(text: str) -> str:
    """A Docker memory size: a whole number with an optional unit b, k, m or g (e.g. 512m, 4g)."""
    match = _MEMORY.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a memory size (a whole number with b, k, m or g, e.g. 4g)")
    size = int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]
    if size < MIN_MEMORY_BYTES:
        raise argparse.ArgumentTypeError(f"{text!r} is below Docker's minimum of 6m")
    return text.strip().lower()


def pr_body_source(text: str) -> str:
    """`-` (standard input) or a readable file."""
    if text == "-":
        return text
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file (use - for standard input)")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not readable")
    return text


def output_directory(text: str) -> Path:
    """A directory to write into: it exists, or its parent does (it is created then)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
    if not path.exists() and not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: its parent directory does not exist")
    return path


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split()[0]
        self.exit(2, f"{command}: error: {message} (see {self.prog} --help)\n")


def repo_name(value: str) -> str:
    """A GitHub repository as OWNER/NAME."""
    owner, _, name = value.partition("/")
    ok = owner and name and all(c.isalnum() or c in "-_." for c in owner + name)
    if not ok:
        raise argparse.ArgumentTypeError(f"expected OWNER/NAME, got {value!r}")
    return value
