"""The one strictness rule every section of `.gym-review.yaml` follows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys and values of the wrong type are errors (a typo must not silently turn a rule off);
    settings never change once read. defer_build: validators are built only when a file is validated."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)
