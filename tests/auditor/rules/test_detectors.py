"""The auditor's detectors (domain.md, What the auditor flags), table by table, on plain facts: no database.

Run alone with `pytest --noconftest tests/auditor/rules/test_detectors.py`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.catalogue import AuditCategory, OffenceCatalogue
from schemas.events import Role
from services.auditor.rules import cancellations, detectors
from services.auditor.rules.facts import (
    ContactState,
    CrimeFact,
    DecisionFact,
    OffenceFact,
    Removal,
    ReportedFacts,
    VictimFact,
)
from services.auditor.rules.flags import FlagDraft, Rule, Severity
from services.auditor.rules.policy import AuditPolicy

CATALOGUE = OffenceCatalogue.default()
POLICY = AuditPolicy()

RECEIVED = datetime(2026, 11, 2, 21, 14, tzinfo=UTC)
DEADLINE = RECEIVED + timedelta(hours=24)
SECOND = timedelta(seconds=1)
CONTACT_ID = "6f1c1b7e-0000-4000-8000-000000000001"
CRN = "GMP-2026-000101"


# ------------------------------------------------------------------------------------------------------------- builders


def victim(ref: str = "V1", *, identified: bool = True, confirmed: bool = True, kind: str = "person") -> VictimFact:
    return VictimFact(ref=ref, kind=kind, identified=identified, confirmed=confirmed)


def offence(
    ho_class: str = "8N", victim_ref: str | None = "V1", *, offender: str | None = "S1", incident: str | None = None
) -> OffenceFact:
    return OffenceFact(victim_ref=victim_ref, ho_class=ho_class, offender_ref=offender, incident_ref=incident)


def facts(
    *offences: OffenceFact,
    victims: tuple[VictimFact, ...] = (victim(),),
    reporter: str = "victim",
    category: str = "crime",
    credible_evidence: bool = False,
) -> ReportedFacts:
    return ReportedFacts(
        force="GMP",
        category=category,
        reporter=reporter,
        victims=victims,
        offences=offences,
        credible_evidence=credible_evidence,
        force_area="GMP",
    )


ASSAULT = facts(offence("8N"))


def decision(
    outcome: str, *, credible_evidence: str | None = None, rationale: str = "as the rules decided"
) -> DecisionFact:
    return DecisionFact(
        outcome=outcome,
        decided_at=RECEIVED + timedelta(minutes=1),
        decided_by="k-officer",
        credible_evidence=credible_evidence,
        rationale=rationale,
    )


def crime(
    reference: str = CRN,
    ho_class: str = "8N",
    *,
    status: str = "recorded",
    recorded_at: datetime = RECEIVED + timedelta(minutes=1),
    deadline: datetime = DEADLINE,
) -> CrimeFact:
    known = CATALOGUE.get(ho_class)
    assert known is not None
    return CrimeFact(reference, ho_class, known.audit_category.value, status, recorded_at, deadline)


def state(
    reported: ReportedFacts | None = ASSAULT,
    decided: DecisionFact | None = None,
    crimes: tuple[CrimeFact, ...] = (),
    *,
    n100s: int = 0,
    deadline: datetime | None = DEADLINE,
) -> ContactState:
    return ContactState(
        contact_id=CONTACT_ID,
        force="GMP",
        received_at=RECEIVED if deadline is not None else None,
        recording_deadline=deadline,
        facts=reported,
        decision=decided,
        crimes=crimes,
        n100s=n100s,
        event_ids=("e-received", "e-decided"),
    )


def actor(principal: str, *roles: Role) -> dict[str, Any]:
    return {"principal": principal, "roles": [r.value for r in roles], "force": "GMP"}


OFFICER = actor("k-officer", Role.OFFICER)
SUPERVISOR = actor("k-supervisor", Role.SUPERVISOR)
DDM = actor("k-ddm", Role.DDM)
FCR = actor("k-fcr", Role.FCR)
REMOVED = RECEIVED + timedelta(days=3)
AVI = {"description": "CCTV of the whole incident", "held_at": "CCTV ref MCR-7781"}

CATEGORY_CLASS = {"rape": "19C", "other_sexual": "20A", "violence": "8N", "robbery": "34B", "other": "28E"}


def removal(
    *,
    code: str = "C2",
    category: str = "violence",
    grounds: dict[str, Any] | None = None,
    kind: str | None = None,
    request_id: str | None = "req-1",
    requested_by: dict[str, Any] | None = OFFICER,
    authorised_by: dict[str, Any] | None = DDM,
    victim_informed: bool = False,
    victim_informed_at: datetime | None = None,
) -> Removal:
    if grounds is None:
        grounds = {"code": code, "explanation": "as asked", "avi": AVI if code == "C2" else None}
    return Removal(
        event_id="e-removal-1",
        kind=kind or ("transferred" if code == "C1" else "cancelled"),
        crime_reference=CRN,
        contact_id=CONTACT_ID,
        force="GMP",
        ho_class=CATEGORY_CLASS[category],
        audit_category=category,
        code=code,
        grounds=grounds,
        request_id=request_id,
        requested_by=requested_by,
        authorised_by=authorised_by,
        authority_mode="enforce",
        removed_at=REMOVED,
        victim_informed=victim_informed,
        victim_informed_at=victim_informed_at,
    )


def only(drafts: list[FlagDraft], rule: Rule) -> FlagDraft:
    """The one flag a detector raised, of the rule it checks."""
    assert len(drafts) == 1, drafts
    assert drafts[0].rule is rule
    return drafts[0]


def outcome_of(drafts: list[FlagDraft]) -> Severity | None:
    """None when nothing was flagged, else the one flag's severity."""
    assert len(drafts) <= 1, drafts
    return drafts[0].severity if drafts else None


# ------------------------------------------------------------------------------------------------------- MISSING_RECORD


@pytest.mark.parametrize(
    ("contact", "now", "expected"),
    [
        pytest.param(state(), DEADLINE - SECOND, None, id="no-decision-one-second-before-deadline"),
        pytest.param(state(), DEADLINE, Severity.HIGH, id="no-decision-at-deadline"),
        pytest.param(state(), DEADLINE + timedelta(days=3), Severity.HIGH, id="no-decision-long-after-deadline"),
        pytest.param(state(decided=decision("pending")), DEADLINE + SECOND, Severity.HIGH, id="pending-after"),
        pytest.param(state(decided=decision("pending")), DEADLINE - SECOND, None, id="pending-before"),
        pytest.param(state(decided=decision("cri", credible_evidence="CCTV")), DEADLINE + SECOND, None, id="cri"),
        pytest.param(state(decided=decision("non_crime")), DEADLINE + SECOND, None, id="non-crime"),
        pytest.param(state(decided=decision("n100")), DEADLINE + SECOND, None, id="n100"),
        pytest.param(state(decided=decision("recorded"), crimes=(crime(),)), DEADLINE + SECOND, None, id="recorded"),
        pytest.param(state(crimes=(crime(),)), DEADLINE + SECOND, None, id="crime-seen-before-decision"),
        pytest.param(
            state(decided=decision("pending"), crimes=(crime(),)), DEADLINE + SECOND, None, id="pending-with-crimes"
        ),
        pytest.param(
            state(decided=decision("recorded"), crimes=(crime(status="cancelled"),)),
            DEADLINE + SECOND,
            None,
            id="recorded-then-cancelled",
        ),
        pytest.param(state(facts(category="asb")), DEADLINE + SECOND, None, id="asb-no-offences"),
        pytest.param(state(facts(category="public_safety")), DEADLINE + SECOND, None, id="welfare-no-offences"),
        pytest.param(state(facts(offence("105A"), category="asb")), DEADLINE + SECOND, Severity.HIGH, id="asb-offence"),
        pytest.param(state(facts()), DEADLINE + SECOND, Severity.MEDIUM, id="crime-category-no-offence-classified"),
        pytest.param(state(facts(offence("19C"))), DEADLINE + SECOND, Severity.CRITICAL, id="rape-critical"),
        pytest.param(state(facts(offence("34B"))), DEADLINE + SECOND, Severity.HIGH, id="robbery-high"),
        pytest.param(state(facts(offence("20A"))), DEADLINE + SECOND, Severity.HIGH, id="other-sexual-high"),
        pytest.param(state(facts(offence("28E"))), DEADLINE + SECOND, Severity.MEDIUM, id="burglary-medium"),
        pytest.param(
            state(facts(offence("28E"), offence("19C", "V1"))), DEADLINE + SECOND, Severity.CRITICAL, id="worst-wins"
        ),
        pytest.param(state(None), DEADLINE + SECOND, None, id="report-not-seen"),
        pytest.param(state(deadline=None), DEADLINE + SECOND, None, id="no-deadline-known"),
    ],
)
def test_missing_record(contact: ContactState, now: datetime, expected: Severity | None) -> None:
    drafts = detectors.missing_record(contact, now=now, catalogue=CATALOGUE)
    assert outcome_of(drafts) == expected
    assert all(d.rule is Rule.MISSING_RECORD for d in drafts)


def test_missing_record_names_the_contact_the_deadline_and_the_evidence() -> None:
    flag = only(
        detectors.missing_record(state(decided=decision("pending")), now=DEADLINE, catalogue=CATALOGUE),
        Rule.MISSING_RECORD,
    )
    assert flag.subject == CONTACT_ID
    assert flag.crime_reference is None
    assert RECEIVED.isoformat() in flag.explanation and DEADLINE.isoformat() in flag.explanation
    assert "pending" in flag.explanation
    assert flag.evidence == {
        "received_at": RECEIVED.isoformat(),
        "recording_deadline": DEADLINE.isoformat(),
        "decision": "pending",
        "reported_classes": ["8N"],
        "event_ids": ["e-received", "e-decided"],
    }
    no_decision = only(detectors.missing_record(state(), now=DEADLINE, catalogue=CATALOGUE), Rule.MISSING_RECORD)
    assert no_decision.evidence["decision"] == "no decision" and "no decision" in no_decision.explanation


# ---------------------------------------------------------------------------------------------------------- LATE_RECORD


@pytest.mark.parametrize(
    ("recorded_at", "late"),
    [
        pytest.param(RECEIVED, False, id="at-receipt"),
        pytest.param(DEADLINE - SECOND, False, id="one-second-early"),
        pytest.param(DEADLINE, False, id="exactly-at-deadline"),
        pytest.param(DEADLINE + SECOND, True, id="one-second-late"),
        pytest.param(DEADLINE + timedelta(hours=2), True, id="two-hours-late"),
        pytest.param(DEADLINE + timedelta(days=30), True, id="a-month-late"),
    ],
)
def test_late_record(recorded_at: datetime, late: bool) -> None:
    drafts = detectors.late_record(state(), crime(recorded_at=recorded_at))
    assert outcome_of(drafts) == (Severity.MEDIUM if late else None)


def test_late_record_names_the_crime_and_how_late() -> None:
    flag = only(
        detectors.late_record(state(), crime(recorded_at=DEADLINE + timedelta(hours=2))),
        Rule.LATE_RECORD,
    )
    assert (flag.subject, flag.crime_reference, flag.audit_category) == (CRN, CRN, "violence")
    assert CRN in flag.explanation and "8N" in flag.explanation and "2.0 hours" in flag.explanation
    assert DEADLINE.isoformat() in flag.explanation
    assert flag.evidence == {
        "recorded_at": (DEADLINE + timedelta(hours=2)).isoformat(),
        "recording_deadline": DEADLINE.isoformat(),
        "ho_class": "8N",
    }


def test_late_record_uses_the_auditors_own_deadline_not_the_one_the_records_system_sent() -> None:
    # The records system restarted the 24-hour clock at a pending decision (domain.md, Time: never reset).
    reset = crime(recorded_at=RECEIVED + timedelta(hours=30), deadline=RECEIVED + timedelta(hours=48))
    assert only(detectors.late_record(state(), reset), Rule.LATE_RECORD).severity is Severity.MEDIUM


# ---------------------------------------------------------------------------------------------------------- UNDER_COUNT

TWO_VICTIMS = (victim("V1"), victim("V2"))
RECORDED = decision("recorded")
CRIME_2 = crime("GMP-2026-000102", "105A")


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        pytest.param(state(ASSAULT, RECORDED, (crime(),)), None, id="one-victim-one-crime"),
        pytest.param(
            state(facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS), RECORDED, (crime(),)),
            Severity.HIGH,
            id="two-victims-one-crime",
        ),
        pytest.param(
            state(facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS), RECORDED, (crime(), CRIME_2)),
            None,
            id="two-victims-two-crimes",
        ),
        pytest.param(
            state(facts(offence("8N"), offence("105A")), RECORDED, (crime(),)),
            None,
            id="same-victim-two-offences-one-incident",
        ),
        pytest.param(
            state(facts(offence("8N", incident="mon"), offence("105A", incident="fri")), RECORDED, (crime(),)),
            Severity.HIGH,
            id="same-victim-two-incidents-one-crime",
        ),
        pytest.param(
            state(facts(offence("8N", incident="mon"), offence("105A", incident="fri")), RECORDED, (crime(), CRIME_2)),
            None,
            id="same-victim-two-incidents-two-crimes",
        ),
        pytest.param(
            state(
                facts(
                    offence("8N", "V1"),
                    offence("105A", "V2"),
                    victims=(victim("V1"), victim("V2", confirmed=False)),
                    reporter="third_party",
                ),
                RECORDED,
                (crime(),),
            ),
            None,
            id="third-party-unconfirmed-second-victim-not-required",
        ),
        pytest.param(
            state(
                facts(
                    offence("8N", "V1"), offence("105A", "V2"), victims=(victim("V1"), victim("V2", identified=False))
                ),
                RECORDED,
                (crime(),),
            ),
            None,
            id="unidentified-second-victim-not-required",
        ),
        pytest.param(
            state(
                facts(offence("92D", None), offence("10D", None), reporter="police", victims=()), RECORDED, (crime(),)
            ),
            Severity.MEDIUM,
            id="police-two-state-offences-one-crime",
        ),
        pytest.param(
            state(
                facts(offence("92D", None), offence("92D", None), reporter="police", victims=()), RECORDED, (crime(),)
            ),
            None,
            id="police-same-state-offence-twice-one-crime",
        ),
        pytest.param(
            state(facts(offence("92D", None), offence("10D", None), reporter="witness", victims=()), RECORDED, ()),
            None,
            id="witness-state-offences-points-not-made-out",
        ),
        pytest.param(
            state(
                facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS), decision("pending"), (crime(),)
            ),
            None,
            id="outcome-pending-not-judged",
        ),
        pytest.param(
            state(facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS), None, (crime(),)),
            None,
            id="no-decision-yet",
        ),
        pytest.param(
            state(
                facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS, credible_evidence=True),
                RECORDED,
                (crime(),),
            ),
            None,
            id="credible-evidence-nothing-required",
        ),
        pytest.param(
            state(facts(offence("8N", "V1"), offence("53C", "V2"), victims=TWO_VICTIMS), RECORDED, (crime(),)),
            None,
            id="fraud-victim-not-counted",
        ),
        pytest.param(
            state(facts(offence("19C", "V1"), offence("8N", "V2"), victims=TWO_VICTIMS), RECORDED, (crime(),)),
            Severity.CRITICAL,
            id="rape-and-assault-one-crime-critical",
        ),
    ],
)
def test_under_count(contact: ContactState, expected: Severity | None) -> None:
    assert outcome_of(detectors.under_count(contact, catalogue=CATALOGUE)) == expected


def test_under_count_says_how_many_were_required_and_recorded() -> None:
    contact = state(facts(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS), RECORDED, (crime(),))
    flag = only(detectors.under_count(contact, catalogue=CATALOGUE), Rule.UNDER_COUNT)
    assert flag.subject == CONTACT_ID
    assert "require 2 crimes" in flag.explanation and "1 recorded" in flag.explanation
    assert flag.evidence == {"required": 2, "recorded": [CRN], "victims": 2, "offences": ["8N", "105A"]}


# ------------------------------------------------------------------------------------------------ UNJUSTIFIED_NON_CRIME


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        pytest.param(state(ASSAULT, decision("cri")), Severity.HIGH, id="cri-without-evidence"),
        pytest.param(state(ASSAULT, decision("non_crime")), Severity.HIGH, id="non-crime-without-evidence"),
        pytest.param(state(ASSAULT, decision("cri", credible_evidence="   ")), Severity.HIGH, id="cri-blank-evidence"),
        pytest.param(
            state(facts(offence("8N"), credible_evidence=True), decision("cri")), None, id="cri-evidence-in-report"
        ),
        pytest.param(
            state(ASSAULT, decision("cri", credible_evidence="CCTV shows no contact")), None, id="cri-evidence-decided"
        ),
        pytest.param(
            state(ASSAULT, decision("non_crime", credible_evidence="Victim retracted on CCTV")),
            None,
            id="non-crime-evidence-decided",
        ),
        pytest.param(state(facts(category="asb"), decision("non_crime")), None, id="asb-no-offences-non-crime"),
        pytest.param(state(facts(offence("53C")), decision("cri")), None, id="fraud-only"),
        pytest.param(state(ASSAULT, decision("recorded"), (crime(),)), None, id="recorded"),
        pytest.param(state(ASSAULT, decision("pending")), None, id="pending"),
        pytest.param(state(ASSAULT, decision("n100")), None, id="n100-outcome"),
        pytest.param(state(ASSAULT, None), None, id="no-decision"),
        pytest.param(state(None, decision("cri")), None, id="report-not-seen"),
        pytest.param(
            state(facts(offence("92D", None), reporter="police", victims=()), decision("non_crime")),
            None,
            id="state-offence-no-victim",
        ),
        pytest.param(
            state(facts(offence("8N"), victims=(victim(identified=False),)), decision("non_crime")),
            None,
            id="victim-not-identified",
        ),
        pytest.param(
            state(facts(offence("8N"), reporter="acting_for_victim"), decision("non_crime")),
            Severity.HIGH,
            id="acting-for-victim",
        ),
        pytest.param(
            state(facts(offence("8N"), reporter="witness"), decision("non_crime")),
            Severity.HIGH,
            id="witness-report-victim-confirmed",
        ),
        pytest.param(state(facts(offence("19C")), decision("cri")), Severity.CRITICAL, id="rape-cri-critical"),
        pytest.param(state(facts(offence("28E")), decision("cri")), Severity.MEDIUM, id="burglary-cri-medium"),
    ],
)
def test_unjustified_non_crime(contact: ContactState, expected: Severity | None) -> None:
    assert outcome_of(detectors.unjustified_non_crime(contact, catalogue=CATALOGUE)) == expected


def test_unjustified_non_crime_names_outcome_offences_and_who_decided() -> None:
    contact = state(facts(offence("8N"), offence("53C")), decision("non_crime", rationale="x" * 900))
    flag = only(detectors.unjustified_non_crime(contact, catalogue=CATALOGUE), Rule.UNJUSTIFIED_NON_CRIME)
    assert flag.subject == CONTACT_ID
    assert "8N" in flag.explanation and "non_crime" in flag.explanation and "53C" not in flag.explanation
    assert flag.evidence == {
        "outcome": "non_crime",
        "decided_by": "k-officer",
        "offences": ["8N"],
    }


def test_unjustified_non_crime_for_an_identified_but_unconfirmed_victim() -> None:
    reported = facts(offence("8N"), victims=(victim(confirmed=False),), reporter="third_party")
    flag = only(
        detectors.unjustified_non_crime(state(reported, decision("non_crime")), catalogue=CATALOGUE),
        Rule.UNJUSTIFIED_NON_CRIME,
    )
    assert flag.severity is Severity.HIGH


# ---------------------------------------------------------------------------------------------------- RAPE_WITHOUT_N100

RAPE = facts(offence("19C"))
RAPE_CRIME = crime(ho_class="19C")


@pytest.mark.parametrize(
    ("contact", "flagged"),
    [
        pytest.param(state(RAPE, decision("recorded"), (RAPE_CRIME,)), False, id="recorded-as-rape"),
        pytest.param(state(RAPE, decision("pending"), n100s=1), False, id="pending-with-n100"),
        pytest.param(state(RAPE, decision("pending")), True, id="pending-without-n100"),
        pytest.param(state(RAPE, decision("cri", credible_evidence="CCTV")), True, id="cri-without-n100"),
        pytest.param(state(RAPE, decision("cri", credible_evidence="CCTV"), n100s=1), False, id="cri-with-n100"),
        pytest.param(state(RAPE, decision("n100"), n100s=1), False, id="n100-outcome-with-n100"),
        pytest.param(state(RAPE, decision("non_crime")), True, id="non-crime-without-n100"),
        pytest.param(
            state(RAPE, decision("recorded"), (replace(RAPE_CRIME, status="transferred"),)),
            True,
            id="transferred-rape-without-n100",
        ),
        pytest.param(
            state(RAPE, decision("recorded"), (replace(RAPE_CRIME, status="transferred"),), n100s=1),
            False,
            id="transferred-rape-with-n100",
        ),
        pytest.param(
            state(facts(offence("19C"), offence("2")), decision("recorded"), (crime(ho_class="2"),)),
            True,
            id="counted-within-attempted-murder-without-n100",
        ),
        pytest.param(state(ASSAULT, decision("cri")), False, id="no-rape-reported"),
        pytest.param(state(RAPE, None), False, id="not-decided-yet"),
        pytest.param(state(None, decision("cri")), False, id="report-not-seen"),
    ],
)
def test_rape_without_n100(contact: ContactState, flagged: bool) -> None:
    drafts = detectors.rape_without_n100(contact, catalogue=CATALOGUE)
    assert outcome_of(drafts) == (Severity.CRITICAL if flagged else None)


def test_rape_without_n100_names_the_rape_and_the_decision() -> None:
    transferred = replace(RAPE_CRIME, status="transferred")
    flag = only(
        detectors.rape_without_n100(state(RAPE, decision("recorded"), (transferred,)), catalogue=CATALOGUE),
        Rule.RAPE_WITHOUT_N100,
    )
    assert (flag.subject, flag.audit_category) == (CONTACT_ID, "rape")
    assert "19C" in flag.explanation and "N100" in flag.explanation and "recorded" in flag.explanation
    assert flag.evidence == {
        "reported_classes": ["19C"],
        "outcome": "recorded",
        "crimes": [(CRN, "19C", "transferred")],
    }


def test_rape_recorded_at_once_then_cancelled_needs_no_n100() -> None:
    cancelled = replace(RAPE_CRIME, status="cancelled")
    assert detectors.rape_without_n100(state(RAPE, decision("recorded"), (cancelled,)), catalogue=CATALOGUE) == []


# ----------------------------------------------------------------------------------------- CANCELLATION_WITHOUT_GROUNDS

LIVE = {"GMP-2026-000050"}


def grounds(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "explanation": "as asked"} | fields


@pytest.mark.parametrize(
    ("code", "given", "category", "expected"),
    [
        pytest.param("C1", grounds("C1", receiving_force="CUM"), "violence", None, id="C1-with-receiving-force"),
        pytest.param("C1", grounds("C1"), "violence", Severity.HIGH, id="C1-no-receiving-force"),
        pytest.param("C1", grounds("C1", receiving_force=None), "rape", Severity.CRITICAL, id="C1-rape-no-force"),
        pytest.param("C2", grounds("C2", avi=AVI), "violence", None, id="C2-with-avi"),
        pytest.param("C2", grounds("C2"), "violence", Severity.HIGH, id="C2-no-avi"),
        pytest.param("C2", grounds("C2", avi=None), "robbery", Severity.HIGH, id="C2-avi-null"),
        pytest.param(
            "C2", grounds("C2", avi={"description": "CCTV"}), "violence", Severity.HIGH, id="C2-avi-without-where"
        ),
        pytest.param(
            "C2", grounds("C2", avi={"held_at": "exhibit JB/1"}), "violence", Severity.HIGH, id="C2-avi-without-what"
        ),
        pytest.param(
            "C2", grounds("C2", avi={"description": "", "held_at": ""}), "other", Severity.HIGH, id="C2-avi-empty"
        ),
        pytest.param("C3", grounds("C3", duplicate_of="GMP-2026-000050"), "violence", None, id="C3-live-duplicate"),
        pytest.param("C3", grounds("C3"), "violence", Severity.HIGH, id="C3-names-nothing"),
        pytest.param("C3", grounds("C3", duplicate_of="GMP-2026-000999"), "violence", Severity.HIGH, id="C3-not-live"),
        pytest.param("C3", grounds("C3", duplicate_of=CRN), "violence", Severity.HIGH, id="C3-itself"),
        pytest.param("C4", grounds("C4", error="Recorded twice by a training account"), "other", None, id="C4-error"),
        pytest.param("C4", grounds("C4"), "other", Severity.HIGH, id="C4-no-error"),
        pytest.param("C4", grounds("C4", error="   "), "rape", Severity.CRITICAL, id="C4-blank-error-rape"),
        pytest.param("C5", grounds("C5"), "violence", Severity.HIGH, id="unknown-code"),
        pytest.param("", grounds(""), "violence", Severity.HIGH, id="no-code"),
    ],
)
def test_cancellation_without_grounds(
    code: str, given: dict[str, Any], category: str, expected: Severity | None
) -> None:
    subject = removal(code=code, grounds=given, category=category)
    live = LIVE | {CRN}  # the crime itself is live until removed: C3 must still not point at itself
    assert outcome_of(cancellations.cancellation_without_grounds(subject, live_crimes=live)) == expected


@pytest.mark.parametrize(
    ("given", "mentions"),
    [
        pytest.param(grounds("C1"), "receiving force", id="C1"),
        pytest.param(grounds("C2", avi={"description": "CCTV"}), "additional verifiable information", id="C2"),
        pytest.param(grounds("C3", duplicate_of="GMP-2026-000999"), "GMP-2026-000999", id="C3"),
        pytest.param(grounds("C4", error=""), "error", id="C4"),
        pytest.param(grounds("C9"), "C9 is not a reason", id="unknown"),
    ],
)
def test_cancellation_without_grounds_says_what_is_missing(given: dict[str, Any], mentions: str) -> None:
    subject = removal(code=given["code"], grounds=given)
    flag = only(
        cancellations.cancellation_without_grounds(subject, live_crimes=set()), Rule.CANCELLATION_WITHOUT_GROUNDS
    )
    assert (flag.subject, flag.crime_reference, flag.audit_category) == ("e-removal-1", CRN, "violence")
    assert mentions in flag.explanation and CRN in flag.explanation and subject.kind in flag.explanation
    assert flag.evidence == {"code": given["code"], "grounds": given, "event_id": "e-removal-1"}


def test_transfer_to_the_force_that_holds_the_crime_has_no_grounds() -> None:
    subject = removal(code="C1", grounds=grounds("C1", receiving_force="GMP"))
    only(cancellations.cancellation_without_grounds(subject, live_crimes=set()), Rule.CANCELLATION_WITHOUT_GROUNDS)


# ----------------------------------------------------------------------------------------- CANCELLATION_WRONG_AUTHORITY

AUTHORITY_MATRIX = [
    # (audit category, authoriser's role, allowed by the default matrix)
    ("rape", Role.FCR, True),
    ("rape", Role.DDM, False),
    ("rape", Role.SUPERVISOR, False),
    ("other_sexual", Role.FCR, True),
    ("other_sexual", Role.DDM, True),
    ("other_sexual", Role.SUPERVISOR, False),
    ("violence", Role.FCR, True),
    ("violence", Role.DDM, True),
    ("violence", Role.SUPERVISOR, False),
    ("violence", Role.OFFICER, False),
    ("robbery", Role.FCR, True),
    ("robbery", Role.DDM, True),
    ("robbery", Role.SUPERVISOR, False),
    ("other", Role.FCR, True),
    ("other", Role.DDM, True),
    ("other", Role.SUPERVISOR, True),
    ("other", Role.OFFICER, False),
    ("other", Role.AUDITOR, False),
]


@pytest.mark.parametrize(
    ("category", "role", "allowed"),
    [pytest.param(c, r, a, id=f"{c}-by-{r.value}-{'ok' if a else 'flag'}") for c, r, a in AUTHORITY_MATRIX],
)
def test_cancellation_authority_matrix(category: str, role: Role, allowed: bool) -> None:
    subject = removal(category=category, authorised_by=actor("k-authoriser", role))
    drafts = cancellations.cancellation_wrong_authority(subject, policy=POLICY)
    severity = Severity.CRITICAL if category == "rape" else Severity.HIGH
    assert outcome_of(drafts) == (None if allowed else severity)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param(
            removal(category="violence", requested_by=actor("k-ddm", Role.DDM), authorised_by=DDM),
            Severity.HIGH,
            id="ddm-authorises-own-request",
        ),
        pytest.param(
            removal(category="rape", requested_by=FCR, authorised_by=FCR), Severity.CRITICAL, id="fcr-self-rape"
        ),
        pytest.param(
            removal(category="violence", requested_by=actor("k-x", Role.DDM), authorised_by=actor("k-y", Role.DDM)),
            None,
            id="two-different-ddms",
        ),
        pytest.param(
            removal(category="violence", authorised_by=actor("k-many", Role.OFFICER, Role.DDM)),
            None,
            id="authoriser-holding-several-roles",
        ),
        pytest.param(removal(category="violence", authorised_by=None), Severity.HIGH, id="no-authoriser-recorded"),
        pytest.param(
            removal(category="other", authorised_by=actor("k-none", *())), Severity.HIGH, id="authoriser-with-no-role"
        ),
        pytest.param(
            removal(
                code="C1",
                category="rape",
                grounds=grounds("C1", receiving_force="CUM"),
                request_id=None,
                requested_by=None,
                authorised_by=None,
            ),
            None,
            id="transfer-by-the-rules-no-request",
        ),
    ],
)
def test_cancellation_wrong_authority(subject: Removal, expected: Severity | None) -> None:
    assert outcome_of(cancellations.cancellation_wrong_authority(subject, policy=POLICY)) == expected


def test_cancellation_authority_follows_the_forces_matrix() -> None:
    strict = AuditPolicy(authority={AuditCategory.VIOLENCE: [Role.FCR]})
    subject = removal(category="violence", authorised_by=DDM)
    assert cancellations.cancellation_wrong_authority(subject, policy=POLICY) == []
    flag = only(cancellations.cancellation_wrong_authority(subject, policy=strict), Rule.CANCELLATION_WRONG_AUTHORITY)
    assert flag.evidence["required_roles"] == ["fcr"]


def test_cancellation_wrong_authority_names_who_asked_who_authorised_and_what_was_needed() -> None:
    subject = removal(category="rape", requested_by=DDM, authorised_by=DDM)
    flag = only(cancellations.cancellation_wrong_authority(subject, policy=POLICY), Rule.CANCELLATION_WRONG_AUTHORITY)
    assert (flag.subject, flag.crime_reference, flag.audit_category) == ("e-removal-1", CRN, "rape")
    assert "the authoriser is the person who asked" in flag.explanation
    assert "a rape crime needs fcr; the authoriser held ddm" in flag.explanation
    assert CRN in flag.explanation and "C2" in flag.explanation
    assert flag.evidence == {
        "requested_by": DDM,
        "authorised_by": DDM,
        "required_roles": ["fcr"],
        "authority_mode": "enforce",
    }


def test_a_cancellation_with_no_request_and_no_authoriser_is_flagged() -> None:
    subject = removal(code="C2", category="violence", request_id=None, requested_by=None, authorised_by=None)
    only(cancellations.cancellation_wrong_authority(subject, policy=POLICY), Rule.CANCELLATION_WRONG_AUTHORITY)


# ----------------------------------------------------------------------------------------- CANCELLATION_VICTIM_NOT_TOLD

DUE = REMOVED + timedelta(days=7)


@pytest.mark.parametrize(
    ("subject", "notified", "now", "flagged"),
    [
        pytest.param(removal(), [], DUE - SECOND, False, id="not-yet-due"),
        pytest.param(removal(), [], DUE, True, id="due-never-told"),
        pytest.param(removal(), [REMOVED + timedelta(days=1)], DUE + timedelta(days=1), False, id="notified-in-time"),
        pytest.param(removal(), [DUE], DUE + SECOND, False, id="notified-at-the-limit"),
        pytest.param(removal(), [DUE + SECOND], DUE + timedelta(days=1), True, id="notified-one-second-late"),
        pytest.param(
            removal(),
            [DUE + timedelta(days=2), REMOVED + timedelta(hours=1)],
            DUE + timedelta(days=3),
            False,
            id="late-and-in-time-notifications",
        ),
        pytest.param(
            removal(victim_informed=True, victim_informed_at=REMOVED - timedelta(hours=2)),
            [],
            DUE,
            False,
            id="informed-when-asked",
        ),
        pytest.param(
            removal(victim_informed=True, victim_informed_at=DUE + timedelta(hours=1)),
            [],
            DUE + timedelta(days=1),
            True,
            id="informed-late",
        ),
        pytest.param(
            removal(victim_informed=True, victim_informed_at=None), [], DUE, True, id="informed-but-no-time-recorded"
        ),
        pytest.param(
            removal(victim_informed=False, victim_informed_at=REMOVED), [], DUE, True, id="time-without-informed-flag"
        ),
    ],
)
def test_victim_not_told(subject: Removal, notified: list[datetime], now: datetime, flagged: bool) -> None:
    drafts = cancellations.victim_not_told(subject, notified_at=notified, now=now, policy=POLICY)
    assert outcome_of(drafts) == (Severity.MEDIUM if flagged else None)


def test_victim_notice_limit_is_configurable() -> None:
    one_day = AuditPolicy(victim_notice_days=1)
    now = REMOVED + timedelta(days=2)
    assert cancellations.victim_not_told(removal(), notified_at=[], now=now, policy=POLICY) == []
    flag = only(
        cancellations.victim_not_told(removal(), notified_at=[], now=now, policy=one_day),
        Rule.CANCELLATION_VICTIM_NOT_TOLD,
    )
    assert flag.evidence["due"] == (REMOVED + timedelta(days=1)).isoformat()


def test_victim_not_told_names_the_removal_and_the_limit() -> None:
    late = DUE + timedelta(hours=5)
    flag = only(
        cancellations.victim_not_told(removal(), notified_at=[late], now=DUE + timedelta(days=1), policy=POLICY),
        Rule.CANCELLATION_VICTIM_NOT_TOLD,
    )
    assert (flag.subject, flag.crime_reference, flag.audit_category) == ("e-removal-1", CRN, "violence")
    assert CRN in flag.explanation and "cancelled" in flag.explanation
    assert REMOVED.isoformat() in flag.explanation and DUE.isoformat() in flag.explanation
    assert flag.evidence == {
        "removed_at": REMOVED.isoformat(),
        "due": DUE.isoformat(),
        "notified_at": [late.isoformat()],
    }


# ----------------------------------------------------------------------------------------------- HIGH_RISK_CANCELLATION


@pytest.mark.parametrize(
    ("category", "code", "expected"),
    [
        pytest.param("rape", "C2", Severity.HIGH, id="rape-cancelled"),
        pytest.param("rape", "C1", Severity.HIGH, id="rape-transferred"),
        pytest.param("other_sexual", "C2", Severity.MEDIUM, id="other-sexual"),
        pytest.param("violence", "C3", Severity.MEDIUM, id="violence"),
        pytest.param("violence", "C1", Severity.MEDIUM, id="violence-transferred"),
        pytest.param("robbery", "C4", Severity.MEDIUM, id="robbery"),
        pytest.param("other", "C2", None, id="burglary-not-high-risk"),
        pytest.param("other", "C1", None, id="burglary-transferred"),
    ],
)
def test_high_risk_cancellation(category: str, code: str, expected: Severity | None) -> None:
    given = grounds(code, receiving_force="CUM", avi=AVI, duplicate_of="GMP-2026-000050", error="typo")
    subject = removal(code=code, category=category, grounds=given)
    assert outcome_of(cancellations.high_risk_cancellation(subject)) == expected


def test_high_risk_cancellation_flags_a_valid_cancellation_and_names_it() -> None:
    subject = removal(category="robbery")
    assert cancellations.cancellation_without_grounds(subject, live_crimes=set()) == []
    assert cancellations.cancellation_wrong_authority(subject, policy=POLICY) == []
    flag = only(cancellations.high_risk_cancellation(subject), Rule.HIGH_RISK_CANCELLATION)
    assert (flag.subject, flag.crime_reference, flag.audit_category) == ("e-removal-1", CRN, "robbery")
    assert CRN in flag.explanation and "34B" in flag.explanation and "robbery" in flag.explanation
    assert "C2" in flag.explanation and "cancelled" in flag.explanation
    assert flag.evidence == {"code": "C2", "grounds": subject.grounds, "authorised_by": DDM}


# ------------------------------------------------------------------------------------------------------------ DOWNGRADE


@pytest.mark.parametrize(
    ("previous", "new", "new_information", "expected"),
    [
        pytest.param("8N", "105A", False, Severity.HIGH, id="8N-to-105A-no-new-information"),
        pytest.param("8N", "105A", True, None, id="8N-to-105A-with-new-information"),
        pytest.param("105A", "8N", False, None, id="105A-to-8N-upgrade"),
        pytest.param("8N", "8S", False, None, id="8N-to-8S-equal-seriousness"),
        pytest.param("5D", "8N", False, Severity.HIGH, id="5D-to-8N"),
        pytest.param("19C", "20A", False, Severity.CRITICAL, id="rape-to-sexual-assault"),
        pytest.param("34B", "105A", False, Severity.HIGH, id="robbery-to-common-assault"),
        pytest.param("28E", "58A", False, Severity.MEDIUM, id="burglary-to-criminal-damage"),
        pytest.param("8N", "99Z", False, None, id="unknown-new-class"),
        pytest.param("99Z", "105A", False, None, id="unknown-previous-class"),
    ],
)
def test_downgrade(previous: str, new: str, new_information: bool, expected: Severity | None) -> None:
    drafts = detectors.downgrade(
        contact_id=CONTACT_ID, crime_reference=CRN, event_id="e-reclass", previous_class=previous, new_class=new,
        new_information=new_information, catalogue=CATALOGUE,
    )  # fmt: skip
    assert outcome_of(drafts) == expected


def test_downgrade_names_both_classes() -> None:
    flag = only(
        detectors.downgrade(
            contact_id=CONTACT_ID,
            crime_reference=CRN,
            event_id="e-reclass",
            previous_class="8N",
            new_class="105A",
            new_information=False,
            catalogue=CATALOGUE,
        ),
        Rule.DOWNGRADE,
    )
    assert (flag.subject, flag.crime_reference, flag.audit_category) == ("e-reclass", CRN, "violence")
    assert "8N (Assault with injury)" in flag.explanation and "105A (Assault without injury)" in flag.explanation
    assert "no new information" in flag.explanation
    assert flag.evidence == {"previous_class": "8N", "new_class": "105A", "contact_id": CONTACT_ID}


# ------------------------------------------------------------------------------------------------ every rule


def test_every_rule_in_the_table_has_a_detector_tested_here() -> None:
    from tests.auditor.rules.test_screening import (
        test_hidden_crime_unreviewed_is_raised_when_the_deadline_passes_without_a_review,
    )

    tested = {
        Rule.MISSING_RECORD: test_missing_record,
        Rule.LATE_RECORD: test_late_record,
        Rule.UNDER_COUNT: test_under_count,
        Rule.UNJUSTIFIED_NON_CRIME: test_unjustified_non_crime,
        Rule.RAPE_WITHOUT_N100: test_rape_without_n100,
        Rule.CANCELLATION_WITHOUT_GROUNDS: test_cancellation_without_grounds,
        Rule.CANCELLATION_WRONG_AUTHORITY: test_cancellation_wrong_authority,
        Rule.CANCELLATION_VICTIM_NOT_TOLD: test_victim_not_told,
        Rule.HIGH_RISK_CANCELLATION: test_high_risk_cancellation,
        Rule.DOWNGRADE: test_downgrade,
        Rule.HIDDEN_CRIME_UNREVIEWED: test_hidden_crime_unreviewed_is_raised_when_the_deadline_passes_without_a_review,
    }
    assert set(tested) == set(Rule)
