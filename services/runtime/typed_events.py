"""Events read in one pass: the wire bytes validated straight into the envelope and its typed payload.

`consumer.parse_event` reads an event in two: the envelope from JSON (building the payload as a dict), then the
payload model from that dict, walking every value twice. For a consumer that reads only the typed payload (the
auditor), `parse_event_typed` validates the bytes once, against a union of one envelope model per event type chosen
by `event_type` (pydantic-core, in Rust, with each type's validator built once). It accepts exactly what
`parse_event` accepts: anything the one pass refuses, or whose version or contact does not agree, is read again by
`parse_event`, which raises the PoisonEvent it always has (so a dead letter says the same either way).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from schemas.envelope import Envelope
from schemas.events import EVENT_TYPES
from services.runtime.event_faults import parse_event


def _typed_envelope(event_type: str, payload: type[BaseModel]) -> type[Envelope]:
    """The envelope (a subclass: every other field, validator and setting as it has them) with its event type
    fixed and its payload typed."""
    return create_model(
        f"Typed{payload.__name__}Envelope",
        __base__=Envelope,
        event_type=(Literal[event_type], ...),  # type: ignore[arg-type]  # a literal made at run time
        payload=(payload, ...),
    )


@functools.cache
def _adapter() -> TypeAdapter[Any]:
    models = tuple(_typed_envelope(event_type, model) for event_type, model in EVENT_TYPES.items())
    return TypeAdapter(Annotated[Union[models], Field(discriminator="event_type")])  # type: ignore[arg-type]  # noqa: UP007


def parse_event_typed(value: bytes | None) -> tuple[Envelope, BaseModel]:
    """The envelope and typed payload of a record, as `parse_event` gives them, in one pass. The envelope's
    `payload` is the typed payload, not a dict: a reader of the dict wants `parse_event`."""
    if value is not None:
        try:
            typed = _adapter().validate_json(value)
        except ValidationError:
            typed = None
        if typed is not None:
            payload = typed.payload
            model = EVENT_TYPES[typed.event_type]
            if typed.schema_version <= model.SCHEMA_VERSION and payload.contact_id == typed.contact_id:
                return typed, payload
    return parse_event(value)  # refused (or about to be): read as ever, to raise what it always raised
