"""Properties that hold for every contact, event and class, not just the worked examples (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.catalogue import LIFE, AuditCategory, Offence, OffenceCatalogue, natural_code_key
from schemas.contacts import (
    MAX_NARRATIVE,
    Channel,
    ContactCreate,
    IncidentCategory,
    Qualifier,
    ReporterRelationship,
    VictimKind,
    catalogue_problems,
)
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for, parse_payload

CATALOGUE = OffenceCatalogue.default()
FORCE_CODES = ["GMP", "CUM", "MPS", "BTP", "WYP"]

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

refs = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,15}", fullmatch=True)
class_codes = st.one_of(
    st.sampled_from([offence.code for offence in CATALOGUE]),
    st.from_regex(r"[0-9]{1,4}[A-Z]{0,2}(/[0-9]{1,3})?", fullmatch=True),
)
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=1)),
        timezone(timedelta(hours=-5, minutes=-30)),
        timezone(timedelta(hours=14)),
    ]
)
NO_NUL = st.characters(
    exclude_characters="\x00", exclude_categories=("Cs",)
)  # PostgreSQL text cannot hold NUL; the contract refuses it
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(NO_NUL, min_size=1, max_size=max_size)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def contact_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Any contact the contract allows: unique victims, offences naming them or none, a window in order."""
    victim_refs = draw(st.lists(refs, unique=True, max_size=5))
    victims = [
        {
            "ref": ref,
            "kind": draw(st.sampled_from(VictimKind)).value,
            "name": draw(optional(text(200))),
            "date_of_birth": draw(optional(st.dates(max_value=date(2025, 12, 31)))),  # no births in the future
            "identified": draw(st.booleans()),
            "confirmed": draw(st.booleans()),
        }
        for ref in victim_refs
    ]
    victim_choice = st.sampled_from(victim_refs) if victim_refs else st.none()
    offences = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "victim_ref": optional(victim_choice),
                    "ho_class": class_codes,
                    "offender_ref": optional(refs),
                    "incident_ref": optional(refs),
                }
            ),
            max_size=6,
        )
    )
    window = sorted(draw(st.lists(moments, min_size=2, max_size=2)))
    body: dict[str, Any] = {
        "force": draw(st.sampled_from(FORCE_CODES)),
        "source": {"system": draw(text(50)), "reference": draw(text(100))},
        "channel": draw(st.sampled_from(Channel)).value,
        "received_at": draw(moments).isoformat(),
        "reporter": {
            "relationship": draw(st.sampled_from(ReporterRelationship)).value,
            "name": draw(optional(text(200))),
            "phone": draw(optional(st.text(NO_NUL, min_size=3, max_size=32))),
            "email": draw(optional(st.from_regex(r"[a-z0-9.]{1,20}@[a-z0-9.]{1,20}", fullmatch=True))),
        },
        "victims": victims,
        "incident": {
            "category": draw(st.sampled_from(IncidentCategory)).value,
            "opening_code": draw(optional(text(20))),
            "qualifiers": [q.value for q in draw(st.lists(st.sampled_from(Qualifier), unique=True))],
        },
        "location": {
            "description": draw(optional(text(500))),
            "postcode": draw(optional(st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}", fullmatch=True))),
            "force_area": draw(optional(st.sampled_from(FORCE_CODES))),
        },
        "occurred_from": draw(st.sampled_from([None, window[0].isoformat()])),
        "occurred_to": window[1].isoformat(),
        "offences": offences,
        "credible_evidence_to_contrary": draw(optional(text(4000))),
        "narrative": draw(optional(text(MAX_NARRATIVE))),
    }
    return body


@PROPERTY_SETTINGS
@given(contact_bodies())
def test_any_valid_contact_round_trips_through_json(body: dict[str, Any]) -> None:
    contact = ContactCreate.model_validate(body)
    assert ContactCreate.model_validate_json(contact.model_dump_json()) == contact
    assert ContactCreate.model_validate(contact.model_dump(mode="json")) == contact


@PROPERTY_SETTINGS
@given(contact_bodies())
def test_every_timestamp_of_a_valid_contact_is_utc(body: dict[str, Any]) -> None:
    contact = ContactCreate.model_validate(body)
    for moment in (contact.received_at, contact.occurred_from, contact.occurred_to):
        assert moment is None or moment.utcoffset() == timedelta(0)


@PROPERTY_SETTINGS
@given(contact_bodies())
def test_catalogue_problems_name_exactly_the_unrecordable_classes(body: dict[str, Any]) -> None:
    contact = ContactCreate.model_validate(body)
    flagged = {p.loc[1] for p in catalogue_problems(contact) if p.loc[0] == "offences"}
    expected = {i for i, offence in enumerate(contact.offences) if CATALOGUE.recordable(offence.ho_class)}
    assert flagged == expected


@PROPERTY_SETTINGS
@given(contact_bodies(), st.uuids())
def test_any_contact_received_event_survives_the_wire(body: dict[str, Any], contact_id: Any) -> None:
    contact = ContactCreate.model_validate(body)
    event = ContactReceived(
        contact_id=contact_id,
        force=contact.force,
        received_at=contact.received_at,
        submitted_by=Actor(principal="key-1", roles=[Role.CALL_HANDLER], force=contact.force),
        contact=contact,
    )
    envelope = envelope_for(event, producer="intake", correlation_id=uuid4())
    assert parse_payload(Envelope.model_validate_json(envelope.model_dump_json())) == event


@PROPERTY_SETTINGS
@given(
    contact_bodies(),
    st.sampled_from([(), ("source",), ("reporter",), ("incident",), ("location",)]),
    st.text(),
)
def test_a_contact_with_an_unknown_field_anywhere_is_refused(
    body: dict[str, Any], where: tuple[str, ...], name: str
) -> None:
    target = body
    for key in where:
        target = target[key]
    target["x-" + name] = "surprise"  # no field of the contract starts with x-
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ContactCreate.model_validate(body)


@PROPERTY_SETTINGS
@given(contact_bodies(), moments)
def test_a_naive_received_at_is_always_refused(body: dict[str, Any], moment: datetime) -> None:
    body["received_at"] = moment.replace(tzinfo=None).isoformat()
    with pytest.raises(ValidationError, match="timezone"):
        ContactCreate.model_validate(body)


@PROPERTY_SETTINGS
@given(contact_bodies(), st.integers(min_value=1, max_value=50))
def test_a_narrative_over_the_limit_is_always_refused(body: dict[str, Any], extra: int) -> None:
    body["narrative"] = "x" * (MAX_NARRATIVE + extra)
    with pytest.raises(ValidationError, match="at most"):
        ContactCreate.model_validate(body)


@PROPERTY_SETTINGS
@given(st.lists(class_codes, max_size=12))
def test_ranking_is_a_total_order_on_classes(codes: list[str]) -> None:
    ranked = CATALOGUE.rank(codes)
    assert sorted(ranked) == sorted(codes)
    assert CATALOGUE.rank(reversed(codes)) == ranked
    assert CATALOGUE.rank(ranked) == ranked
    principal = CATALOGUE.principal(codes)
    if not codes:
        assert principal is None
        return
    assert principal == ranked[0]
    for code in codes:
        assert CATALOGUE.more_serious(principal, code) == principal
        assert CATALOGUE.more_serious(code, principal) == principal


@PROPERTY_SETTINGS
@given(class_codes, class_codes)
def test_more_serious_never_depends_on_argument_order(a: str, b: str) -> None:
    assert CATALOGUE.more_serious(a, b) == CATALOGUE.more_serious(b, a)


@PROPERTY_SETTINGS
@given(st.lists(class_codes, max_size=10))
def test_known_classes_rank_by_maximum_sentence(codes: list[str]) -> None:
    known = [CATALOGUE.offences[c] for c in CATALOGUE.rank(codes) if c in CATALOGUE]
    sentences = [o.seriousness for o in known]
    assert sentences == sorted(sentences, reverse=True)


@PROPERTY_SETTINGS
@given(
    st.from_regex(r"[0-9]{1,4}[A-Z]{0,2}(/[0-9]{1,3})?", fullmatch=True),
    st.one_of(st.none(), st.just(LIFE), st.floats(min_value=0, max_value=100, allow_nan=False)),
    st.sampled_from(AuditCategory),
    st.booleans(),
)
def test_any_class_round_trips_and_can_be_added(
    code: str, sentence: float | None, category: AuditCategory, victim_based: bool
) -> None:
    offence = Offence(
        code=code,
        name="A force's own class",
        group="Violence against the person",
        audit_category=category,
        victim_based=victim_based,
        max_sentence_years=sentence,
    )
    assert Offence.model_validate_json(offence.model_dump_json()) == offence
    catalogue = CATALOGUE.with_offences([offence])
    assert catalogue.get(code) == offence
    assert catalogue.recordable(code) is None
    assert [o.code for o in catalogue] == sorted((o.code for o in catalogue), key=natural_code_key)
