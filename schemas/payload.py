"""The base of every event payload: immutable, keyed by its contact, and tolerant of fields added later."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class EventPayload(BaseModel):
    """The payload of an event about a contact: immutable; fields a newer producer added are ignored on read."""

    # design.md: additive evolution only. An older consumer must accept an event a newer producer enriched,
    # so unknown payload fields are ignored rather than sending the event to the .dlq.
    model_config = ConfigDict(extra="ignore", frozen=True)

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    contact_id: UUID = Field(
        description="The contact the event is about: intake's id for it, and the Kafka key of every event "
        "about it and the crimes recorded from it."
    )
