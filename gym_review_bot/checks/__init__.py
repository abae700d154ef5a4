"""The static checks, one module per family, and the one list that registers them."""

from __future__ import annotations

from gym_review_bot.checks import (
    app,
    config,
    data,
    evidence,
    files,
    pr_body,
    readme,
    registry,
    requirements,
    unit_tests,
)
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

# Checks of the PR description (GR3xx) and of an added server's evidence (GR4xx): run by review.py
# with the registry's `pr_body:` settings; these lists hold the defaults (for the README catalogue).
PR_BODY_CHECKS: list[Check] = pr_body.CHECKS
EVIDENCE_CHECKS: list[Check] = evidence.CHECKS


def check_server(ctx: ServerContext) -> list[Finding]:
    """Every static check on one server, one finding each."""
    return run_checks(STATIC_CHECKS, ctx, ctx.name)


__all__ = ["EVIDENCE_CHECKS", "PR_BODY_CHECKS", "STATIC_CHECKS", "Check", "Checkout", "ServerContext", "check_server"]
