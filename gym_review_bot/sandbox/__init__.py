"""Docker sandbox: boot a server the way NeMo Gym does, replay its example rollouts, run its tests.

This package is the only Docker caller of the bot. Its names load lazily, so importing the flags
(`sandbox.options`) or the catalogue does not import the Docker SDK.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CHECK_CATALOGUE": ("catalogue", "CHECK_CATALOGUE"),
    "skipped_findings": ("catalogue", "skipped_findings"),
    "cleanup": ("cleanup", "cleanup"),
    "docker_unavailable_reason": ("docker_api", "unavailable_reason"),
    "SandboxOptions": ("options", "SandboxOptions"),
    "add_cli_arguments": ("options", "add_cli_arguments"),
    "options_from_args": ("options", "options_from_args"),
    "SandboxResult": ("runner", "SandboxResult"),
    "run_sandbox": ("runner", "run_sandbox"),
}
__all__ = [
    "CHECK_CATALOGUE",
    "SandboxOptions",
    "SandboxResult",
    "add_cli_arguments",
    "cleanup",
    "docker_unavailable_reason",
    "options_from_args",
    "run_sandbox",
    "skipped_findings",
]

if TYPE_CHECKING:
    from gym_review_bot.sandbox.catalogue import CHECK_CATALOGUE, skipped_findings
    from gym_review_bot.sandbox.cleanup import cleanup
    from gym_review_bot.sandbox.docker_api import unavailable_reason as docker_unavailable_reason
    from gym_review_bot.sandbox.options import SandboxOptions, add_cli_arguments, options_from_args
    from gym_review_bot.sandbox.runner import SandboxResult, run_sandbox


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value
