"""The offence and force catalogue: classification, what a force may record, and the principal crime rule."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from schemas.catalogue import (
    FORCES,
    LIFE,
    AuditCategory,
    Offence,
    OffenceCatalogue,
    is_force,
    natural_code_key,
)

CATALOGUE = OffenceCatalogue.default()

COERCIVE_CONTROL = Offence(
    code="8U",
    name="Controlling or coercive behaviour",
    group="Violence against the person",
    subgroup="Violence without injury",
    audit_category=AuditCategory.VIOLENCE,
    victim_based=True,
    max_sentence_years=5,
)


@pytest.mark.parametrize(
    ("code", "group", "audit_category", "victim_based", "max_sentence_years"),
    [
        ("8N", "Violence against the person", AuditCategory.VIOLENCE, True, 5),
        ("105A", "Violence against the person", AuditCategory.VIOLENCE, True, 0.5),
        ("5D", "Violence against the person", AuditCategory.VIOLENCE, True, LIFE),
        ("1", "Violence against the person", AuditCategory.VIOLENCE, True, LIFE),
        ("4/1", "Violence against the person", AuditCategory.VIOLENCE, True, LIFE),
        ("19C", "Sexual offences", AuditCategory.RAPE, True, LIFE),
        ("19H", "Sexual offences", AuditCategory.RAPE, True, LIFE),
        ("20A", "Sexual offences", AuditCategory.OTHER_SEXUAL, True, 10),
        ("34B", "Robbery", AuditCategory.ROBBERY, True, LIFE),
        ("28E", "Theft offences", AuditCategory.OTHER, True, 14),
        ("46", "Theft offences", AuditCategory.OTHER, True, 7),
        ("37/2", "Theft offences", AuditCategory.OTHER, True, 2),
        ("58A", "Criminal damage and arson", AuditCategory.OTHER, True, 10),
        ("92E", "Drug offences", AuditCategory.OTHER, False, 5),
        ("10D", "Possession of weapons offences", AuditCategory.OTHER, False, 4),
        ("53C", "Fraud offences", AuditCategory.OTHER, True, 10),
    ],
)
def test_classes_carry_their_group_audit_category_and_seriousness(
    code: str, group: str, audit_category: AuditCategory, victim_based: bool, max_sentence_years: float
) -> None:
    offence = CATALOGUE.get(code)
    assert offence is not None, f"{code} missing from the default catalogue"
    assert offence.code == code
    assert offence.group == group
    assert offence.audit_category is audit_category
    assert offence.victim_based is victim_based
    assert offence.max_sentence_years == max_sentence_years
    assert offence.seriousness == max_sentence_years


def test_the_default_catalogue_holds_every_row_of_offences_csv() -> None:
    assert len(CATALOGUE) == 139
    assert "8N" in CATALOGUE
    assert "8U" not in CATALOGUE  # data README: newer classes are missing
    assert [o.code for o in CATALOGUE][:3] == ["1", "2", "3A"]


def test_a_blank_subgroup_is_none() -> None:
    robbery = CATALOGUE.get("34B")
    assert robbery is not None
    assert robbery.subgroup is None


@pytest.mark.parametrize("code", ["8N", "105A", "19C", "34B", "28E", "92E", "46", "58A", "1", "4/10", "814"])
def test_current_classes_are_recordable(code: str) -> None:
    assert CATALOGUE.recordable(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("53C", "Action Fraud"),
        ("53D", "Action Fraud"),
        ("51", "Action Fraud"),  # fraud and legacy: the fraud reason is the one a call handler can act on
        ("55", "Action Fraud"),
        ("28A", "only for outcomes of old records"),
        ("29", "only for outcomes of old records"),
        ("30A", "only for outcomes of old records"),
        ("31", "only for outcomes of old records"),
        ("8U", "not a notifiable offence class"),
        ("999Z", "not a notifiable offence class"),
        ("", "not a notifiable offence class"),
        ("8n", "not a notifiable offence class"),
    ],
)
def test_classes_a_force_may_not_record_under_are_refused_with_the_reason(code: str, reason: str) -> None:
    refusal = CATALOGUE.recordable(code)
    assert refusal is not None
    assert reason in refusal
    assert refusal.startswith(code)


def test_fraud_is_refused_by_its_group_even_when_a_force_adds_a_current_class() -> None:
    catalogue = CATALOGUE.with_offences(
        [
            Offence(
                code="53J",
                name="Fraud by false representation: other",
                group="Fraud offences",
                audit_category=AuditCategory.OTHER,
                victim_based=True,
                max_sentence_years=10,
            )
        ]
    )
    refusal = catalogue.recordable("53J")
    assert refusal is not None
    assert "Action Fraud" in refusal


def test_a_force_can_add_a_newer_class() -> None:
    catalogue = CATALOGUE.with_offences([COERCIVE_CONTROL])
    assert catalogue.recordable("8U") is None
    assert catalogue.get("8U") == COERCIVE_CONTROL
    assert len(catalogue) == len(CATALOGUE) + 1
    assert catalogue.version != CATALOGUE.version
    # The shipped catalogue is untouched.
    assert CATALOGUE.recordable("8U") is not None
    assert OffenceCatalogue.default() is CATALOGUE


def test_a_force_can_override_the_default_seriousness() -> None:
    assert CATALOGUE.more_serious("8N", "58A") == "58A"  # 10 years beats 5
    heavier = CATALOGUE.get("8N")
    assert heavier is not None
    catalogue = CATALOGUE.with_offences([heavier.model_copy(update={"max_sentence_years": 12.0})])
    assert len(catalogue) == len(CATALOGUE)
    assert catalogue.more_serious("8N", "58A") == "8N"


def test_the_version_depends_on_content_only() -> None:
    assert OffenceCatalogue(list(CATALOGUE)).version == CATALOGUE.version
    assert OffenceCatalogue(reversed(list(CATALOGUE))).version == CATALOGUE.version
    assert CATALOGUE.with_offences([]).version == CATALOGUE.version
    assert len(CATALOGUE.version) == 12


def test_a_catalogue_refuses_a_class_listed_twice() -> None:
    with pytest.raises(ValueError, match="8U twice"):
        OffenceCatalogue([COERCIVE_CONTROL, COERCIVE_CONTROL])


@pytest.mark.parametrize(
    ("a", "b", "more_serious"),
    [
        ("5D", "8N", "5D"),  # GBH with intent (life) over ABH (5 years)
        ("8N", "105A", "8N"),  # ABH over common assault
        ("105A", "5D", "5D"),
        ("34B", "105A", "34B"),  # example 03: the robbery is the principal crime
        ("2", "5D", "2"),  # both life: the lower class number wins the tie
        ("1", "2", "1"),
        ("19C", "34B", "19C"),
        ("4/1", "4/10", "4/1"),
        ("4/2", "4/10", "4/2"),
        ("8N", "8S", "8N"),  # equal maxima, tie to the code
        ("8P", "8N", "8P"),  # racially aggravated: 7 years over 5
        ("58A", "105A", "58A"),
        ("8U", "105A", "105A"),  # a class the catalogue does not know ranks last
        ("8U", "9Z", "8U"),  # two unknown classes: by code
        ("8N", "8N", "8N"),
    ],
)
def test_principal_crime_rule_picks_the_most_serious(a: str, b: str, more_serious: str) -> None:
    # HOCR section F: ranked by maximum sentence.
    assert CATALOGUE.more_serious(a, b) == more_serious
    assert CATALOGUE.more_serious(b, a) == more_serious


def test_rank_orders_most_serious_first() -> None:
    assert CATALOGUE.rank(["105A", "8N", "5D"]) == ["5D", "8N", "105A"]
    assert CATALOGUE.rank(["8U", "126", "1", "105A"]) == ["1", "105A", "126", "8U"]
    assert CATALOGUE.rank([]) == []
    assert CATALOGUE.principal(["105A", "34B"]) == "34B"
    assert CATALOGUE.principal([]) is None


def test_an_added_class_takes_its_place_in_the_ranking() -> None:
    catalogue = CATALOGUE.with_offences([COERCIVE_CONTROL])
    assert catalogue.rank(["105A", "8U", "5D", "8N"]) == ["5D", "8N", "8U", "105A"]


@pytest.mark.parametrize(
    ("codes", "ordered"),
    [
        (["105A", "8N", "2", "4/10", "4/2", "5D", "4/1"], ["2", "4/1", "4/2", "4/10", "5D", "8N", "105A"]),
        (["37/2", "37/1", "36"], ["36", "37/1", "37/2"]),
        (["88E", "88A", "88C"], ["88A", "88C", "88E"]),
    ],
)
def test_class_codes_sort_as_people_read_them(codes: list[str], ordered: list[str]) -> None:
    assert sorted(codes, key=natural_code_key) == ordered


@pytest.mark.parametrize("written", ["life", "Life", " LIFE "])
def test_life_is_above_every_term(written: str) -> None:
    offence = Offence.model_validate(
        {
            "code": "1",
            "name": "Murder",
            "group": "Violence against the person",
            "audit_category": "violence",
            "victim_based": True,
            "max_sentence_years": written,
        }
    )
    assert offence.max_sentence_years == LIFE
    assert math.isinf(offence.seriousness)
    assert Offence.model_validate_json(offence.model_dump_json()) == offence


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "8u"},
        {"code": "8U extra"},
        {"code": ""},
        {"audit_category": "fraud"},
        {"max_sentence_years": -1},
        {"max_sentence_years": "forever"},
        {"colour": "red"},
        {"name": ""},
    ],
)
def test_a_malformed_class_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Offence.model_validate({**COERCIVE_CONTROL.model_dump(), **changes})


def test_a_class_with_no_known_maximum_ranks_below_every_known_one() -> None:
    unknown = COERCIVE_CONTROL.model_copy(update={"max_sentence_years": None})
    catalogue = CATALOGUE.with_offences([unknown])
    assert unknown.seriousness == 0
    assert catalogue.rank(["8U", "27"]) == ["27", "8U"]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("GMP", "Greater Manchester Police"),
        ("CUM", "Cumbria Constabulary"),
        ("MPS", "Metropolitan Police Service"),
        ("BTP", "British Transport Police"),
        ("DYP", "Dyfed-Powys Police"),
    ],
)
def test_forces_are_known_by_code(code: str, name: str) -> None:
    assert is_force(code)
    assert FORCES[code].name == name
    assert FORCES[code].code == code


@pytest.mark.parametrize("code", ["XYZ", "gmp", "", "PSNI", "Police Scotland"])
def test_other_codes_are_not_forces(code: str) -> None:
    assert not is_force(code)


def test_the_43_territorial_forces_and_btp() -> None:
    assert len(FORCES) == 44
    with pytest.raises(TypeError):
        FORCES["XYZ"] = FORCES["GMP"]  # type: ignore[index]


@pytest.mark.parametrize(("a", "b"), [("0", "00"), ("4/1", "4/01"), ("8U", "08U")])
def test_codes_that_read_alike_still_have_one_order(a: str, b: str) -> None:
    assert CATALOGUE.more_serious(a, b) == CATALOGUE.more_serious(b, a)
    assert natural_code_key(a) != natural_code_key(b)
