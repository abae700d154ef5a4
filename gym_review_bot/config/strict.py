"""The one strictness rule every section of `.gym-review.yaml` follows, and the one place pydantic enters.

Sections are stdlib dataclasses, so a run without a `.gym-review.yaml` never imports pydantic (about a
quarter of a second of every `gym-review check`). Pydantic stays the validator: `validate` imports it when a
file is actually read, and it reads the two hooks below (`Strict`'s class settings, `Rule`'s constraints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar

from gym_review_bot.models import adapter  # the one cached pydantic validator of a dataclass

T = TypeVar("T")


class Strict:
    """Base of every section, a `@dataclass(frozen=True, kw_only=True)`: unknown keys and values of the
    wrong type are errors (a typo must not silently turn a rule off); settings never change once read."""

    # what pydantic reads as the dataclass's ConfigDict (a TypedDict: a plain dict is the same thing)
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid", "strict": True}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        schema = handler(source)
        # strict would accept only an instance of the class, never the file's mapping; the fields stay strict
        schema["strict"] = False
        return schema


class Rule:
    """A field's constraints, as `Annotated[int, Rule(ge=1)]`: pydantic.Field's keywords (ge, le, pattern,
    min_length, strict), plus `before`/`after`, a function run on the value before or after its type is
    checked (pydantic's BeforeValidator/AfterValidator; a ValueError it raises names the key)."""

    def __init__(
        self,
        *,
        before: Callable[[Any], Any] | None = None,
        after: Callable[[Any], Any] | None = None,
        **constraints: Any,
    ) -> None:
        self.before = before
        self.after = after
        self.constraints = constraints

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        import pydantic

        metadata: list[Any] = [pydantic.Field(**self.constraints)] if self.constraints else []
        if self.before is not None:
            metadata.append(pydantic.BeforeValidator(self.before))
        if self.after is not None:
            metadata.append(pydantic.AfterValidator(self.after))
        return handler(Annotated[(source, *metadata)])


def validate(section: type[T], data: object) -> T:
    """`data` (a mapping read from YAML) as `section`; pydantic.ValidationError when it does not fit."""
    return adapter(section).validate_python(data)
