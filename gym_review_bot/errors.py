"""Errors every layer may raise: a problem with how the bot was called or where it points."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with how the bot was called or where it points; exit code 2, one line on stderr."""
