"""The contract of `POST /v1/contacts`: what intake accepts, what it refuses and why."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.catalogue import AuditCategory, Offence, OffenceCatalogue
from schemas.contact_examples import EXAMPLE_SINGLE_VICTIM
from schemas.contacts import (
    MAX_NARRATIVE,
    MAX_OFFENCES,
    MAX_VICTIMS,
    Channel,
    ContactCreate,
    FieldProblem,
    catalogue_problems,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared" / "examples"


def _example_files() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else []


def base_contact() -> dict[str, Any]:
    """Example 01: one identified victim, assault with injury, reported on 999 to GMP."""
    return copy.deepcopy(EXAMPLE_SINGLE_VICTIM) | {
        "narrative": "Caller was punched twice in the face outside a bar by an unknown man."
    }


def changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = base_contact()
    change(body)
    return body


def second_victim(ref: str = "V2") -> dict[str, Any]:
    return {"ref": ref, "kind": "person", "identified": True, "confirmed": True}


# ---------------------------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("path", _example_files() or [None], ids=lambda p: p.stem if p else "no-examples")
def test_every_shared_example_is_accepted(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"{EXAMPLES_DIR} does not exist")
    body = json.loads(path.read_text(encoding="utf-8"))["contact"]
    contact = ContactCreate.model_validate(body)
    assert contact.force == body["force"]
    assert len(contact.victims) == len(body["victims"])
    assert [o.ho_class for o in contact.offences] == [o["ho_class"] for o in body["offences"]]
    assert catalogue_problems(contact) == []
    # The same body arriving as JSON text is the same contact.
    assert ContactCreate.model_validate_json(json.dumps(body)) == contact


def test_the_documented_examples_are_accepted() -> None:
    examples = ContactCreate.model_json_schema()["examples"]
    assert len(examples) >= 2
    for example in examples:
        ContactCreate.model_validate(example)


def test_a_minimal_contact_needs_only_who_what_when_and_how() -> None:
    contact = ContactCreate.model_validate(
        {
            "force": "GMP",
            "source": {"system": "online-form", "reference": "WEB-1"},
            "channel": "online",
            "received_at": "2026-11-02T22:05:00+00:00",
            "reporter": {"relationship": "victim"},
            "incident": {"category": "asb"},
        }
    )
    assert contact.victims == []
    assert contact.offences == []
    assert contact.location.force_area is None
    assert contact.incident_force == "GMP"  # no force area: the receiving force
    assert contact.narrative is None


def test_the_incident_force_is_the_force_area_when_given() -> None:
    contact = ContactCreate.model_validate(changed(lambda b: b["location"].update(force_area="CUM")))
    assert contact.incident_force == "CUM"


def test_received_at_is_normalised_to_utc() -> None:
    contact = ContactCreate.model_validate(changed(lambda b: b.update(received_at="2026-07-02T22:14:00+01:00")))
    assert contact.received_at == datetime(2026, 7, 2, 21, 14, tzinfo=UTC)
    assert contact.received_at.utcoffset() is not None


def test_an_offence_against_the_state_has_no_victim() -> None:
    def drugs(body: dict[str, Any]) -> None:
        body["victims"] = []
        body["offences"] = [{"ho_class": "92E", "offender_ref": "S1"}]

    contact = ContactCreate.model_validate(changed(drugs))
    assert contact.offences[0].victim_ref is None


def test_offender_refs_are_free_labels() -> None:
    # Nothing lists suspects, so an offender_ref needs nothing to resolve against.
    contact = ContactCreate.model_validate(changed(lambda b: b["offences"][0].update(offender_ref="S7")))
    assert contact.offences[0].offender_ref == "S7"


def test_channels_are_the_ways_a_report_arrives() -> None:
    assert [c.value for c in Channel] == [
        "999",
        "101",
        "online",
        "front_counter",
        "officer",
        "agency_referral",
    ]


def test_a_contact_is_immutable() -> None:
    contact = ContactCreate.model_validate(base_contact())
    with pytest.raises(ValidationError):
        contact.force = "CUM"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------- refusals


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _two_victims_same_ref(body: dict[str, Any]) -> None:
    body["victims"].append(copy.deepcopy(body["victims"][0]))


def _many_victims(body: dict[str, Any]) -> None:
    body["victims"] = [second_victim(f"V{i}") for i in range(MAX_VICTIMS + 1)]
    body["offences"] = []


def _many_offences(body: dict[str, Any]) -> None:
    body["offences"] = [{"victim_ref": "V1", "ho_class": "105A"}] * (MAX_OFFENCES + 1)


REFUSALS: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str | int, ...], str]] = [
    ("unknown field", _set(("priority",), "high"), ("priority",), "Extra inputs are not permitted"),
    ("unknown victim field", _set(("victims", 0, "age"), 30), ("victims", 0, "age"), "Extra inputs"),
    ("unknown reporter field", _set(("reporter", "address"), "x"), ("reporter", "address"), "Extra inputs"),
    ("naive received_at", _set(("received_at",), "2026-11-02T21:14:00"), ("received_at",), "timezone"),
    ("naive occurred_from", _set(("occurred_from",), "2026-11-02T20:40:00"), ("occurred_from",), "timezone"),
    ("received_at not a time", _set(("received_at",), "yesterday"), ("received_at",), "datetime"),
    ("missing received_at", lambda b: b.pop("received_at"), ("received_at",), "Field required"),
    ("missing reporter", lambda b: b.pop("reporter"), ("reporter",), "Field required"),
    (
        "victim identified missing",
        lambda b: b["victims"][0].pop("identified"),
        ("victims", 0, "identified"),
        "",
    ),
    # Cross-field problems are reported where they are, not on the body as a whole.
    (
        "unresolved victim_ref",
        _set(("offences", 0, "victim_ref"), "V9"),
        ("offences", 0, "victim_ref"),
        "V9 names no victim",
    ),
    ("duplicate victim ref", _two_victims_same_ref, ("victims", 1, "ref"), "V1 is used twice"),
    ("occurred_to before from", _set(("occurred_to",), "2026-11-02T20:00:00Z"), ("occurred_to",), "occurred_to"),
    ("received_at as a number", _set(("received_at",), 1700000000), ("received_at",), "ISO 8601"),
    ("received_at out of range", _set(("received_at",), "0001-01-01T00:00:00+23:59"), ("received_at",), "out of range"),
    ("identified as a word", lambda b: b["victims"][0].update(identified="yes"), ("victims", 0, "identified"), ""),
    (
        "date of birth as a number",
        lambda b: b["victims"][0].update(date_of_birth=0),
        ("victims", 0, "date_of_birth"),
        "",
    ),
    (
        "date of birth in the future",
        lambda b: b["victims"][0].update(date_of_birth="2999-01-01"),
        ("victims", 0, "date_of_birth"),
        "future",
    ),
    ("NUL in the narrative", _set(("narrative",), "a\x00b"), ("narrative",), "NUL"),
    ("NUL in a source reference", _set(("source", "reference"), "INC\x00"), ("source", "reference"), "NUL"),
    ("unknown force", _set(("force",), "XYZ"), ("force",), "XYZ is not a force crimerec knows"),
    ("force in lower case", _set(("force",), "gmp"), ("force",), "pattern"),
    ("force area malformed", _set(("location", "force_area"), "Cumbria"), ("location", "force_area"), ""),
    ("unknown channel", _set(("channel",), "pigeon"), ("channel",), "'999'"),
    (
        "unknown relationship",
        _set(("reporter", "relationship"), "neighbour"),
        ("reporter", "relationship"),
        "",
    ),
    ("unknown category", _set(("incident", "category"), "traffic"), ("incident", "category"), ""),
    ("unknown qualifier", _set(("incident", "qualifiers"), ["gang"]), ("incident", "qualifiers", 0), ""),
    (
        "repeated qualifier",
        _set(("incident", "qualifiers"), ["hate", "hate"]),
        ("incident", "qualifiers"),
        "repeated: hate",
    ),
    ("malformed class", _set(("offences", 0, "ho_class"), "assault"), ("offences", 0, "ho_class"), "pattern"),
    ("class in lower case", _set(("offences", 0, "ho_class"), "8n"), ("offences", 0, "ho_class"), "pattern"),
    ("victim ref with a space", _set(("victims", 0, "ref"), "V 1"), ("victims", 0, "ref"), "pattern"),
    ("empty source system", _set(("source", "system"), ""), ("source", "system"), "at least 1"),
    ("empty narrative", _set(("narrative",), ""), ("narrative",), "at least 1"),
    (
        "oversize narrative",
        _set(("narrative",), "x" * (MAX_NARRATIVE + 1)),
        ("narrative",),
        f"at most {MAX_NARRATIVE}",
    ),
    ("oversize reference", _set(("source", "reference"), "R" * 101), ("source", "reference"), "at most 100"),
    ("oversize victim name", _set(("victims", 0, "name"), "n" * 201), ("victims", 0, "name"), "at most 200"),
    ("oversize victims list", _many_victims, ("victims",), f"at most {MAX_VICTIMS}"),
    ("oversize offences list", _many_offences, ("offences",), f"at most {MAX_OFFENCES}"),
    ("malformed email", _set(("reporter", "email"), "not an email"), ("reporter", "email"), "pattern"),
    ("victims not a list", _set(("victims",), {"ref": "V1"}), ("victims",), "list"),
    (
        "bad date of birth",
        _set(("victims", 0, "date_of_birth"), "31/02/1990"),
        ("victims", 0, "date_of_birth"),
        "",
    ),
]


@pytest.mark.parametrize(("change", "loc", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_malformed_contact_is_refused_saying_what_and_where(
    change: Callable[[dict[str, Any]], None], loc: tuple[str | int, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        ContactCreate.model_validate(changed(change))
    errors = raised.value.errors()
    assert any(error["loc"] == loc for error in errors), errors
    assert any(message in error["msg"] for error in errors if error["loc"] == loc), errors


def test_a_json_body_with_a_naive_timestamp_is_refused() -> None:
    body = json.dumps(changed(_set(("received_at",), "2026-11-02T21:14:00")))
    with pytest.raises(ValidationError, match="timezone"):
        ContactCreate.model_validate_json(body)


def test_occurred_to_may_equal_occurred_from() -> None:
    body = changed(_set(("occurred_to",), "2026-11-02T20:40:00Z"))
    contact = ContactCreate.model_validate(body)
    assert contact.occurred_to == contact.occurred_from


def test_an_unknown_force_area_is_for_the_catalogue_not_the_model() -> None:
    # The place may be outside England and Wales; the recorder, not intake's parser, decides what follows.
    contact = ContactCreate.model_validate(changed(_set(("location", "force_area"), "PSNI")))
    assert contact.incident_force == "PSNI"


# ---------------------------------------------------------------------------------------------- catalogue


def _offences(*classes: str) -> Callable[[dict[str, Any]], None]:
    return _set(("offences",), [{"victim_ref": "V1", "ho_class": c} for c in classes])


CATALOGUE_CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[tuple[tuple[str | int, ...], str]]]] = [
    ("recordable", _offences("8N", "105A"), []),
    ("fraud", _offences("8N", "53C"), [(("offences", 1, "ho_class"), "Action Fraud")]),
    ("legacy class", _offences("28A"), [(("offences", 0, "ho_class"), "old records")]),
    ("unknown class", _offences("8U"), [(("offences", 0, "ho_class"), "not a notifiable offence class")]),
    (
        "several",
        _offences("8U", "8N", "28A"),
        [(("offences", 0, "ho_class"), "8U"), (("offences", 2, "ho_class"), "28A")],
    ),
    ("unknown force area", _set(("location", "force_area"), "PSNI"), [(("location", "force_area"), "PSNI")]),
    ("no force area", _set(("location", "force_area"), None), []),
    ("no offences", _offences(), []),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CATALOGUE_CASES], ids=[c[0] for c in CATALOGUE_CASES])
def test_catalogue_problems_name_each_class_and_area_the_catalogue_refuses(
    change: Callable[[dict[str, Any]], None], expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    contact = ContactCreate.model_validate(changed(change))
    problems = catalogue_problems(contact, OffenceCatalogue.default())
    assert [p.loc for p in problems] == [loc for loc, _ in expected]
    for problem, (_, text) in zip(problems, expected, strict=True):
        assert text in problem.message
        assert isinstance(problem, FieldProblem)


def test_a_class_the_force_added_is_no_problem() -> None:
    contact = ContactCreate.model_validate(changed(_offences("8U")))
    catalogue = OffenceCatalogue.default().with_offences(
        [
            Offence(
                code="8U",
                name="Controlling or coercive behaviour",
                group="Violence against the person",
                audit_category=AuditCategory.VIOLENCE,
                victim_based=True,
                max_sentence_years=5,
            )
        ]
    )
    assert catalogue_problems(contact) != []
    assert catalogue_problems(contact, catalogue) == []
