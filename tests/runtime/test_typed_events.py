"""The one-pass reader (`parse_event_typed`, the auditor's) accepts what the two-pass reader accepts, gives the same
envelope and payload, and refuses what it refuses with the same words (which end up in a dead letter's headers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.envelope import Envelope
from schemas.events import EVENT_TYPES, EventPayload, envelope_for
from services.runtime.consumer import PoisonEvent, parse_event
from services.runtime.messaging import encode_event
from services.runtime.typed_events import parse_event_typed
from tests.runtime.test_kafka_consumer import _as_bytes, poison_records
from tests.schemas.test_schemas_events import CONTACT_ID, PAYLOADS


def _wire(model: type[EventPayload], body: dict[str, Any]) -> bytes:
    return encode_event(envelope_for(model.model_validate(body), producer="test", correlation_id=CONTACT_ID))


@pytest.mark.parametrize(("model", "body"), PAYLOADS, ids=[m.EVENT_TYPE for m, _ in PAYLOADS])
def test_an_event_reads_the_same_in_one_pass(model: type[EventPayload], body: dict[str, Any]) -> None:
    value = _wire(model, body)
    envelope, payload = parse_event(value)
    typed_envelope, typed_payload = parse_event_typed(value)
    assert type(typed_payload) is model
    assert typed_payload == payload
    assert isinstance(typed_envelope, Envelope)
    assert typed_envelope.payload == payload  # the payload, typed
    assert typed_envelope.model_dump(exclude={"payload"}) == envelope.model_dump(exclude={"payload"})
    assert typed_envelope.model_dump(mode="json") == envelope.model_dump(mode="json")


@pytest.mark.parametrize(("model", "body"), PAYLOADS, ids=[m.EVENT_TYPE for m, _ in PAYLOADS])
def test_a_field_a_newer_producer_added_is_ignored_in_one_pass_too(
    model: type[EventPayload], body: dict[str, Any]
) -> None:
    good = envelope_for(model.model_validate(body), producer="test", correlation_id=CONTACT_ID)
    value = _as_bytes(good, payload=good.payload | {"added_later": {"any": "thing"}})
    assert parse_event_typed(value)[1] == parse_event(value)[1] == model.model_validate(body)


def _refusals() -> list[tuple[str, bytes | None]]:
    model, body = PAYLOADS[0]
    good = envelope_for(model.model_validate(body), producer="test", correlation_id=CONTACT_ID)
    naive = {**good.payload, "received_at": "2026-11-02T21:14:00"}
    return [(what, value) for what, value, _ in poison_records()] + [
        ("a field the envelope does not have", json.dumps(good.model_dump(mode="json") | {"unexpected": 1}).encode()),
        ("a naive timestamp in the payload", _as_bytes(good, payload=naive)),
        ("a naive envelope time", _as_bytes(good, occurred_at="2026-11-02T21:14:00")),
        ("a payload that is not an object", _as_bytes(good, payload=[1, 2])),
        ("another type's payload", _as_bytes(good, event_type="crime.recorded")),
        ("schema version 0", _as_bytes(good, schema_version=0)),
    ]


@pytest.mark.parametrize(("what", "value"), _refusals(), ids=[what for what, _ in _refusals()])
def test_a_bad_record_is_refused_with_the_same_words(what: str, value: bytes | None) -> None:
    with pytest.raises(PoisonEvent) as two_pass:
        parse_event(value)
    with pytest.raises(PoisonEvent) as one_pass:
        parse_event_typed(value)
    assert str(one_pass.value) == str(two_pass.value)


def test_every_event_type_has_its_typed_envelope() -> None:
    from services.runtime.typed_events import _adapter

    tags = set(_adapter().core_schema["schema"]["choices"])  # the discriminated union, by event type
    assert tags == set(EVENT_TYPES)
