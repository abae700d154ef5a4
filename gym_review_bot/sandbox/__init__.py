"""Docker sandbox: boot a server the way NeMo Gym does, replay its example rollouts, run its tests.

This package is the only Docker caller of the bot.
"""

from gym_review_bot.sandbox.catalogue import CHECK_CATALOGUE, skipped_findings
from gym_review_bot.sandbox.cleanup import cleanup
from gym_review_bot.sandbox.docker_api import unavailable_reason as docker_unavailable_reason
from gym_review_bot.sandbox.options import SandboxOptions, add_cli_arguments, options_from_args
from gym_review_bot.sandbox.runner import SandboxResult, run_sandbox

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
