"""Base of every public record: accepts the seed's camelCase keys and snake_case,
serializes to camelCase JSON, rejects unknown top-level keys (typos are bugs)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
