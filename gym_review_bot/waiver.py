"""Waiver: why a failing finding does not block, from the registry's config or a maintainer's override."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

WaiverSource = Literal["config", "override", "maintainer"]


@dataclass(frozen=True)
class Waiver:
    """One waiver, whatever gave it: `.gym-review.yaml` (config), `/gym-review override` (override), or the
    PR author's own maintain permission for GR118 (maintainer). The judge applies config waivers first."""

    check_id: str
    reason: str
    source: WaiverSource = "config"
    fingerprint: str | None = None  # None: every failure of the check
    server: str | None = None  # None: every server (and the PR's own findings)
    expires: date | None = None  # UTC; the waiver holds through that day
    by: str | None = None  # override and maintainer: the login

    def covers(self, check_id: str, fingerprint: str, server: str | None, today: date) -> bool:
        return (
            check_id == self.check_id
            and (self.fingerprint is None or self.fingerprint == fingerprint)
            and (self.server is None or self.server == server)
            and not self.expired(today)
        )

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today
