"""Base of every public record: accepts the seed's camelCase keys and snake_case,
serializes to camelCase JSON, rejects unknown top-level keys (typos are bugs)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from swarmstore.errors import InvalidRecordError


class Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        validate_assignment=True,
    )

    def to_json_dict(self) -> dict[str, object]:
        """camelCase, JSON-safe dict (what the seed's TypeScript callers see)."""
        return self.model_dump(mode="json", by_alias=True)


class OpenRecord(Record):
    """A nested record that keeps keys it does not know (custom metrics, notes)."""

    model_config = ConfigDict(extra="allow")


def utc_now() -> datetime:
    return datetime.now(UTC)


R = TypeVar("R", bound=Record)


def parse_record(
    cls: type[R],
    value: object,
    *,
    what: str,
    error: type[InvalidRecordError] = InvalidRecordError,
) -> R:
    """``value`` as a ``cls``: itself, or validated from a mapping (camelCase or snake_case).

    ``what`` names the record in the error ("a dataset"); anything but a mapping
    or a ``cls`` raises ``error``. Pydantic's ``ValidationError`` propagates.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise error(f"{what} must be a mapping or {cls.__name__}, not {type(value).__name__}")
    return cls.model_validate(dict(value))
