"""The Jinja2 environment both outputs use: the package's templates, strict undefined names, and a `finalize`
that escapes every expression for its output (a `Markup` built from escaped parts goes out as is)."""

from __future__ import annotations

from collections.abc import Callable

from jinja2 import Environment, PackageLoader, StrictUndefined


def environment(escape: Callable[[object], str]) -> Environment:
    return Environment(
        loader=PackageLoader("gym_review_bot", "render/templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=escape,
    )
