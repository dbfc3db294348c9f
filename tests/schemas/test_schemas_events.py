"""Event payloads and the registry: what the services tell each other, and how a reader parses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, ValidationError

from schemas import topics
from schemas.catalogue import AuditCategory
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import (
    EVENT_TOPICS,
    EVENT_TYPES,
    Actor,
    ContactDecided,
    ContactReceived,
    CrimeRecorded,
    EventPayload,
    Outcome,
    Role,
    envelope_for,
    parse_payload,
)

CONTACT_ID = UUID("6f1c2a52-8d0e-4a59-9f4c-0d8f4f7e2b11")
RECEIVED_AT = datetime(2026, 11, 2, 21, 14, tzinfo=UTC)
DEADLINE = RECEIVED_AT + timedelta(hours=24)
CALL_HANDLER = {"principal": "key-storm-gmp", "roles": ["call_handler"], "force": "GMP"}


def contact_body() -> dict[str, Any]:
    example: dict[str, Any] = ContactCreate.model_json_schema()["examples"][0]
    return example


def received() -> dict[str, Any]:
    return {
        "contact_id": str(CONTACT_ID),
        "force": "GMP",
        "received_at": "2026-11-02T21:14:00Z",
        "submitted_by": CALL_HANDLER,
        "contact": contact_body(),
    }


def decided(**changes: Any) -> dict[str, Any]:
    return {
        "contact_id": str(CONTACT_ID),
        "force": "GMP",
        "outcome": "recorded",
        "crime_references": ["GMP/26/000001"],
        "rationale": "Identified victim reports assault with injury; no credible evidence to the contrary.",
        "rules_version": "recorder-1+ba91b38bc540",
        "decided_at": "2026-11-02T21:14:02Z",
        "recording_deadline": "2026-11-03T21:14:00Z",
        "received_at": "2026-11-02T21:14:00Z",
        "decided_by": None,
        **changes,
    }


def recorded(**changes: Any) -> dict[str, Any]:
    return {
        "crime_reference": "GMP/26/000001",
        "contact_id": str(CONTACT_ID),
        "force": "GMP",
        "victim_ref": "V1",
        "ho_class": "8N",
        "offence_group": "Violence against the person",
        "audit_category": "violence",
        "incident_ref": None,
        "offender_ref": "S1",
        "received_at": "2026-11-02T21:14:00Z",
        "recorded_at": "2026-11-02T21:14:02Z",
        "recording_deadline": "2026-11-03T21:14:00Z",
        "transfer_to": None,
        "rules_version": "recorder-1+ba91b38bc540",
        "recorded_by": None,
        **changes,
    }


PAYLOADS: list[tuple[type[EventPayload], dict[str, Any]]] = [
    (ContactReceived, received()),
    (ContactDecided, decided()),
    (CrimeRecorded, recorded()),
]


def test_the_registry_names_every_event_type() -> None:
    assert set(EVENT_TYPES) == {
        "contact.received",
        "contact.decided",
        "crime.recorded",
        "crime.reclassified",
        "crime.cancellation_requested",
        "crime.cancellation_rejected",
        "crime.cancelled",
        "crime.transferred",
        "n100.recorded",
        "victim.notified",
        "contact.screened",
        "screening.reviewed",
        "flag.raised",
        "flag.updated",
    }
    for event_type, model in EVENT_TYPES.items():
        assert event_type == model.EVENT_TYPE
        assert issubclass(model, BaseModel)
        assert model.model_config.get("extra") == "ignore"  # additive evolution: newer fields are ignored
        assert model.model_config.get("frozen") is True


@pytest.mark.parametrize(("model", "payload"), PAYLOADS)
def test_a_field_added_by_a_newer_producer_is_ignored_not_refused(
    model: type[EventPayload], payload: dict[str, Any]
) -> None:
    enriched = payload | {"added_in_a_later_version": {"anything": 1}}
    assert model.model_validate(enriched) == model.model_validate(payload)


def test_every_event_type_has_a_topic() -> None:
    # Everything about a contact goes on the contacts topic when intake says it, on records when the recorder does.
    assert {event: topic for event, topic in EVENT_TOPICS.items() if topic == topics.CONTACTS} == {
        "contact.received": topics.CONTACTS
    }
    assert set(EVENT_TOPICS) == set(EVENT_TYPES)
    assert {event for event, topic in EVENT_TOPICS.items() if topic == topics.ALERTS} == {"flag.raised", "flag.updated"}
    assert set(EVENT_TOPICS.values()) == {topics.CONTACTS, topics.RECORDS, topics.ALERTS}


def test_roles_and_outcomes_are_the_design_s() -> None:
    assert [r.value for r in Role] == [
        "call_handler",
        "officer",
        "supervisor",
        "ddm",
        "fcr",
        "auditor",
        "admin",
    ]
    assert [o.value for o in Outcome] == ["recorded", "pending", "cri", "n100", "non_crime"]


@pytest.mark.parametrize(("model", "body"), PAYLOADS, ids=[m.EVENT_TYPE for m, _ in PAYLOADS])
def test_a_payload_travels_in_its_envelope_and_back(model: type[EventPayload], body: dict[str, Any]) -> None:
    payload = model.model_validate(body)
    correlation = uuid4()
    envelope = envelope_for(payload, producer="test", correlation_id=correlation)
    assert envelope.event_type == model.EVENT_TYPE
    assert envelope.contact_id == CONTACT_ID
    assert envelope.correlation_id == correlation
    wire = envelope.model_dump_json()
    assert parse_payload(Envelope.model_validate_json(wire)) == payload


@pytest.mark.parametrize(("model", "body"), PAYLOADS, ids=[m.EVENT_TYPE for m, _ in PAYLOADS])
def test_a_payload_is_immutable(model: type[EventPayload], body: dict[str, Any]) -> None:
    payload = model.model_validate(body)
    with pytest.raises(ValidationError):
        payload.contact_id = uuid4()  # type: ignore[misc]


@pytest.mark.parametrize(("model", "body"), PAYLOADS, ids=[m.EVENT_TYPE for m, _ in PAYLOADS])
def test_a_payload_refuses_naive_timestamps(model: type[EventPayload], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="timezone"):
        model.model_validate({**body, "received_at": "2026-11-02T21:14:00"})


def _envelope(event_type: str, payload: dict[str, Any], **changes: Any) -> Envelope:
    return Envelope.model_validate(
        {
            "event_type": event_type,
            "producer": "test",
            "contact_id": CONTACT_ID,
            "correlation_id": uuid4(),
            "payload": payload,
            **changes,
        }
    )


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown event type 'crime\.teleported'"):
        parse_payload(_envelope("crime.teleported", recorded()))


def test_a_bad_payload_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_payload(_envelope("crime.recorded", {**recorded(), "ho_class": "assault"}))
    with pytest.raises(ValidationError):
        parse_payload(_envelope("contact.received", recorded()))


def test_a_payload_about_another_contact_is_refused() -> None:
    with pytest.raises(ValueError, match="about contact"):
        parse_payload(_envelope("crime.recorded", recorded(contact_id=str(uuid4()))))


def test_a_newer_schema_version_is_refused() -> None:
    with pytest.raises(ValueError, match="schema version 2"):
        parse_payload(_envelope("crime.recorded", recorded(), schema_version=2))


def test_contact_received_carries_the_contact() -> None:
    event = ContactReceived.model_validate(received())
    assert event.contact.source.reference == "INC-0001"
    assert event.submitted_by == Actor(principal="key-storm-gmp", roles=[Role.CALL_HANDLER], force="GMP")
    assert event.received_at == RECEIVED_AT


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"force": "CUM"}, "not the contact's force"),
        ({"received_at": "2026-11-02T21:15:00Z"}, "not the contact's received_at"),
        ({"submitted_by": {**CALL_HANDLER, "roles": ["wizard"]}}, "Input should be"),
    ],
)
def test_contact_received_must_agree_with_its_contact(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ContactReceived.model_validate({**received(), **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"crime_references": []}, "at least one crime reference"),
        ({"outcome": "n100", "crime_references": []}, "n100 true"),
        ({"recording_deadline": "2026-11-02T21:00:00Z"}, "recording_deadline"),
        ({"outcome": "closed"}, "Input should be"),
        ({"rationale": ""}, "at least 1"),
        ({"problems": ["x" * 1001]}, "at most 1000"),
        ({"transfer_to": "cumbria"}, "pattern"),
    ],
)
def test_a_contradictory_decision_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ContactDecided.model_validate(decided(**changes))


def test_decided_by_must_be_given_even_when_the_rules_decided() -> None:
    body = decided()
    del body["decided_by"]
    with pytest.raises(ValidationError, match="Field required"):
        ContactDecided.model_validate(body)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"outcome": "pending", "crime_references": [], "problems": ["8U is not a notifiable offence class"]},
        {"outcome": "n100", "crime_references": [], "n100": True},
        {"outcome": "cri", "crime_references": [], "decided_by": {**CALL_HANDLER, "roles": ["ddm"]}},
        {"outcome": "recorded", "transfer_to": "CUM"},
        {"outcome": "non_crime", "crime_references": []},
    ],
)
def test_decisions_the_recorder_makes(changes: dict[str, Any]) -> None:
    decision = ContactDecided.model_validate(decided(**changes))
    assert decision.recording_deadline == DEADLINE


def test_a_crime_record_names_its_class_and_audit_category() -> None:
    crime = CrimeRecorded.model_validate(recorded())
    assert crime.audit_category is AuditCategory.VIOLENCE
    assert crime.recorded_by is None
    state_offence = CrimeRecorded.model_validate(recorded(victim_ref=None, ho_class="92E"))
    assert state_offence.victim_ref is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recording_deadline": "2026-11-01T00:00:00Z"}, "recording_deadline"),
        ({"audit_category": "fraud"}, "Input should be"),
        ({"crime_reference": ""}, "at least 1"),
        ({"recorded_at": "2026-11-02T21:14:02"}, "timezone"),
    ],
)
def test_a_malformed_crime_record_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CrimeRecorded.model_validate(recorded(**changes))
