"""The envelope every event travels in (design.md, Events)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")


def _text_or_datetime(value: object) -> object:
    # A number is not a timestamp here: read as seconds since 1970 it would pass as UTC without saying so.
    if not isinstance(value, str | datetime) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("timestamp must be an ISO 8601 string with a timezone, e.g. 2026-11-02T21:14:00Z")
    return value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone")
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp is out of range") from exc
    if not 1900 <= utc.year <= 2200:
        raise ValueError("timestamp must be between the years 1900 and 2200")
    return utc


AwareDatetime = Annotated[datetime, BeforeValidator(_text_or_datetime), AfterValidator(_aware_utc)]
"""A timestamp with a timezone, normalised to UTC."""

EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=100)]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One event: who produced it, when, about which contact, caused by what, and its payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    event_type: EventType
    schema_version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    producer: str = Field(min_length=1, max_length=50)
    contact_id: UUID
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]
