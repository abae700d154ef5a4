"""The static checks, one module per family, and the one list that registers them."""

from __future__ import annotations

from gym_review_bot.checks import app, config, data, files, readme, registry, requirements, unit_tests
from gym_review_bot.checks.base import Check, run_checks
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.checks.context import ServerContext
from gym_review_bot.models import Finding

# Run in id order; a check that waits on another (`needs`) always has a higher id.
STATIC_CHECKS: list[Check] = sorted(
    [
        *files.CHECKS,
        *app.CHECKS,
        *config.CHECKS,
        *unit_tests.CHECKS,
        *data.CHECKS,
        *requirements.CHECKS,
        *readme.CHECKS,
        *registry.CHECKS,
    ],
    key=lambda check: check.id,
)


def check_server(ctx: ServerContext) -> list[Finding]:
    """Every static check on one server, one finding each."""
    return run_checks(STATIC_CHECKS, ctx, ctx.name)


__all__ = ["STATIC_CHECKS", "Check", "Checkout", "ServerContext", "check_server"]
