"""The recording decision as a table of scenarios, the shared worked examples, and properties of every decision.

Pure: no database, no broker. Run with `pytest tests/recorder/rules -p no:cacheprovider --noconftest`.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalogue import AuditCategory, Offence, OffenceCatalogue
from schemas.contacts import ContactCreate, ReporterRelationship
from schemas.events import ContactDecided, Outcome
from services.recorder.rules import (
    DEFAULT_POLICY,
    RULES_VERSION,
    CrimeToRecord,
    Decision,
    PendingKind,
    RecordingPolicy,
    decide,
    recording_deadline,
    rules_version,
)

CATALOGUE = OffenceCatalogue.default()
LIMIT = timedelta(hours=24)
RECEIVED = datetime(2026, 11, 2, 21, 14, tzinfo=UTC)
EXAMPLES_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "examples"

# ------------------------------------------------------------------------------------------- building contacts


def victim(ref: str = "V1", *, identified: bool = True, confirmed: bool = True, kind: str = "person") -> dict[str, Any]:
    """A victim entry of a contact body."""
    return {"ref": ref, "kind": kind, "identified": identified, "confirmed": confirmed}


def offence(
    ho_class: str, victim_ref: str | None = "V1", offender: str | None = "S1", incident: str | None = None
) -> dict[str, Any]:
    """An offence entry of a contact body."""
    return {"victim_ref": victim_ref, "ho_class": ho_class, "offender_ref": offender, "incident_ref": incident}


def contact(
    *offences: dict[str, Any],
    victims: Sequence[dict[str, Any]] = (victim(),),
    reporter: str = "victim",
    category: str = "crime",
    area: str | None = None,
    evidence: str | None = None,
    force: str = "GMP",
) -> ContactCreate:
    """A valid contact received by GMP at RECEIVED: by default one identified, confirmed victim reporting it."""
    return ContactCreate.model_validate(
        {
            "force": force,
            "source": {"system": "STORM", "reference": "INC-TEST"},
            "channel": "101",
            "received_at": RECEIVED.isoformat(),
            "reporter": {"relationship": reporter},
            "victims": list(victims),
            "incident": {"category": category},
            "location": {"force_area": area},
            "offences": list(offences),
            "credible_evidence_to_contrary": evidence,
            "narrative": "as reported",
        }
    )


def state(ho_class: str, offender: str | None = "S1", incident: str | None = None) -> dict[str, Any]:
    """An offence against the state (no victim)."""
    return offence(ho_class, None, offender, incident)


NO_VICTIMS: tuple[dict[str, Any], ...] = ()
TWO_VICTIMS = (victim("V1"), victim("V2"))


@dataclass(frozen=True)
class Expect:
    """What the decision must be: outcome, crimes as (victim, class) multiset, transfer, N100, open matters."""

    outcome: Outcome
    crimes: tuple[tuple[str | None, str], ...] = ()
    transfer_to: str | None = None
    n100: bool = False
    pending: tuple[PendingKind, ...] = ()
    says: tuple[str, ...] = ()


def recorded(
    *crimes: tuple[str | None, str], transfer_to: str | None = None, n100: bool = False, says: tuple[str, ...] = ()
) -> Expect:
    return Expect(Outcome.RECORDED, crimes, transfer_to, n100, (), says)


def pending(
    *kinds: PendingKind,
    crimes: tuple[tuple[str | None, str], ...] = (),
    transfer_to: str | None = None,
    n100: bool = False,
    says: tuple[str, ...] = (),
) -> Expect:
    return Expect(Outcome.PENDING, crimes, transfer_to, n100, kinds, says)


def cri(*, n100: bool = False, says: tuple[str, ...] = ()) -> Expect:
    return Expect(Outcome.CRI, (), None, n100, (), says)


def non_crime(*, says: tuple[str, ...] = ()) -> Expect:
    return Expect(Outcome.NON_CRIME, says=says)


NOT_CONFIRMED = PendingKind.VICTIM_NOT_CONFIRMED
NOT_IDENTIFIED = PendingKind.VICTIM_NOT_IDENTIFIED
NO_VICTIM = PendingKind.NO_VICTIM_NAMED
POINTS = PendingKind.POINTS_TO_PROVE
NOT_RECORDABLE = PendingKind.CLASS_NOT_RECORDABLE
NO_OFFENCE = PendingKind.NO_OFFENCE_CLASSIFIED
AREA_UNKNOWN = PendingKind.FORCE_AREA_UNKNOWN
HELD = PendingKind.HELD_BY_POLICY
EVIDENCE = "CCTV held at the store shows the customer paid at the till (exhibit JD/1)."

# ----------------------------------------------------------------------------------------------- the scenarios

SCENARIOS = [
    # --- the victim's account (NCRS): victim, someone acting for them, or the victim's confirmation
    pytest.param(contact(offence("8N")), recorded(("V1", "8N")), id="victim-reports-assault-with-injury"),
    pytest.param(
        contact(offence("8N"), victims=[victim(confirmed=False)]),
        recorded(("V1", "8N")),
        id="victim-reporter-is-the-victims-account-even-unflagged",
    ),
    pytest.param(
        contact(offence("105A"), reporter="acting_for_victim", victims=[victim(confirmed=False)]),
        recorded(("V1", "105A")),
        id="acting-for-victim-person",
    ),
    pytest.param(
        contact(offence("46"), reporter="acting_for_victim", victims=[victim(kind="organisation")]),
        recorded(("V1", "46")),
        id="acting-for-organisation-shoplifting",
    ),
    pytest.param(contact(offence("8N"), reporter="witness"), recorded(("V1", "8N")), id="witness-victim-confirmed"),
    pytest.param(
        contact(offence("8N"), reporter="witness", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED, says=("has not confirmed what a witness reported",)),
        id="witness-victim-not-confirmed",
    ),
    pytest.param(
        contact(offence("105A"), reporter="third_party", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED),
        id="third-party-identified-not-confirmed",
    ),
    pytest.param(
        contact(offence("105A"), reporter="third_party"), recorded(("V1", "105A")), id="third-party-victim-confirmed"
    ),
    pytest.param(
        contact(offence("11A"), reporter="professional", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED),
        id="professional-victim-based-not-confirmed",
    ),
    pytest.param(
        contact(offence("11A"), reporter="professional"), recorded(("V1", "11A")), id="professional-victim-confirmed"
    ),
    pytest.param(
        contact(offence("58B"), reporter="police", victims=[victim(kind="organisation", confirmed=False)]),
        pending(NOT_CONFIRMED),
        id="police-find-damage-owner-not-confirmed",
    ),
    pytest.param(contact(offence("8S"), reporter="police"), recorded(("V1", "8S")), id="constable-assaulted-confirmed"),
    pytest.param(
        contact(offence("105A"), victims=[victim(identified=False, confirmed=False)]),
        pending(NOT_IDENTIFIED),
        id="anonymous-victim-reports-not-identified",
    ),
    pytest.param(
        contact(
            offence("105A", offender=None), reporter="third_party", victims=[victim(identified=False, confirmed=False)]
        ),
        pending(NOT_IDENTIFIED, says=("not identified",)),
        id="third-party-victim-not-identified",
    ),
    pytest.param(
        contact(offence("105A"), reporter="witness", victims=[victim(identified=False, confirmed=True)]),
        pending(NOT_IDENTIFIED),
        id="confirmed-but-not-identified",
    ),
    pytest.param(
        contact(offence("8N", victim_ref=None), victims=NO_VICTIMS, reporter="police"),
        pending(NO_VICTIM, says=("names none",)),
        id="victim-based-offence-names-no-victim",
    ),
    pytest.param(
        contact(offence("58B"), reporter="witness", victims=[victim(kind="organisation", confirmed=False)]),
        pending(NOT_CONFIRMED),
        id="organisation-witness-not-confirmed",
    ),
    pytest.param(
        contact(offence("30C"), reporter="third_party", victims=[victim(kind="organisation")]),
        recorded(("V1", "30C")),
        id="organisation-third-party-confirmed",
    ),
    # --- credible evidence to the contrary: CRI with the evidence as the reason
    pytest.param(contact(offence("46"), evidence=EVIDENCE), cri(says=(EVIDENCE,)), id="evidence-makes-cri"),
    pytest.param(
        contact(offence("19C"), evidence=EVIDENCE), cri(n100=True, says=("N100",)), id="evidence-rape-cri-keeps-n100"
    ),
    pytest.param(
        contact(offence("8N"), reporter="witness", victims=[victim(confirmed=False)], evidence=EVIDENCE),
        cri(),
        id="evidence-before-confirmation",
    ),
    pytest.param(contact(offence("999Z"), evidence=EVIDENCE), cri(), id="evidence-with-unknown-class"),
    pytest.param(contact(offence("28E"), area="CUM", evidence=EVIDENCE), cri(), id="evidence-out-of-area-no-transfer"),
    pytest.param(contact(victims=NO_VICTIMS, evidence=EVIDENCE), cri(says=(EVIDENCE,)), id="evidence-no-offence-crime"),
    pytest.param(
        contact(victims=NO_VICTIMS, category="asb", evidence=EVIDENCE), non_crime(), id="evidence-no-offence-asb"
    ),
    # --- offences against the state: points to prove made out by the police or a professional
    pytest.param(
        contact(state("92E"), victims=NO_VICTIMS, reporter="police"), recorded((None, "92E")), id="police-find-cannabis"
    ),
    pytest.param(
        contact(state("10D"), victims=NO_VICTIMS, reporter="professional"),
        recorded((None, "10D")),
        id="professional-reports-bladed-article",
    ),
    pytest.param(
        contact(state("92D"), victims=NO_VICTIMS, reporter="witness"),
        pending(POINTS, says=("points to prove",)),
        id="witness-reports-drugs",
    ),
    pytest.param(
        contact(state("62A"), victims=NO_VICTIMS, reporter="victim"),
        pending(POINTS),
        id="member-of-public-violent-disorder",
    ),
    pytest.param(
        contact(state("10B"), victims=NO_VICTIMS, reporter="third_party"), pending(POINTS), id="third-party-firearm"
    ),
    pytest.param(
        contact(state("92E"), state("10D"), victims=NO_VICTIMS, reporter="police"),
        recorded((None, "92E"), (None, "10D")),
        id="police-two-state-offences-one-incident",
    ),
    pytest.param(
        contact(state("92E", "S1"), state("92E", "S2"), victims=NO_VICTIMS, reporter="police"),
        recorded((None, "92E")),
        id="police-same-state-offence-twice-counts-once",
    ),
    pytest.param(
        contact(state("92E", incident="a"), state("92E", incident="b"), victims=NO_VICTIMS, reporter="police"),
        recorded((None, "92E"), (None, "92E")),
        id="police-same-state-offence-two-incidents",
    ),
    pytest.param(
        contact(offence("62A"), reporter="police"),
        recorded((None, "62A")),
        id="state-offence-naming-a-victim-has-no-victim",
    ),
    pytest.param(
        contact(state("10D"), offence("8S"), reporter="police"),
        recorded((None, "10D"), ("V1", "8S")),
        id="police-knife-and-assault-on-constable",
    ),
    # --- counting: one crime per victim (D), finished incident (E), principal crime (F)
    pytest.param(
        contact(offence("8N", "V1"), offence("105A", "V2"), victims=TWO_VICTIMS, reporter="witness"),
        recorded(("V1", "8N"), ("V2", "105A")),
        id="two-victims-two-crimes",
    ),
    pytest.param(contact(offence("34B"), offence("105A")), recorded(("V1", "34B")), id="robbery-absorbs-assault"),
    pytest.param(
        contact(offence("105A"), offence("8N"), offence("5D")),
        recorded(("V1", "5D"), says=("Counted within it",)),
        id="three-offences-one-principal",
    ),
    pytest.param(
        contact(offence("105A"), offence("105A")), recorded(("V1", "105A")), id="same-class-twice-counts-once"
    ),
    pytest.param(
        contact(offence("105A", incident="monday"), offence("58A", incident="friday")),
        recorded(("V1", "105A"), ("V1", "58A")),
        id="two-finished-incidents-count-separately",
    ),
    pytest.param(
        contact(offence("105A", incident="monday"), offence("58A", incident="monday")),
        recorded(("V1", "58A")),
        id="same-incident-ref-counts-once",
    ),
    pytest.param(
        contact(offence("105A", offender="S1"), offence("34B", offender="S2")),
        recorded(("V1", "34B")),
        id="different-offenders-one-incident-act-together",
    ),
    pytest.param(
        contact(offence("8N", offender=None), offence("105A", offender="S1")),
        recorded(("V1", "8N")),
        id="unknown-and-named-offender-one-incident",
    ),
    pytest.param(
        contact(
            offence("105A", "V1"), offence("8N", "V1"), offence("58A", "V2"), offence("105A", "V2"), victims=TWO_VICTIMS
        ),
        recorded(("V1", "8N"), ("V2", "58A")),
        id="two-victims-each-their-principal",
    ),
    pytest.param(
        contact(offence("105A"), offence("8N", incident="later")),
        recorded(("V1", "105A"), ("V1", "8N")),
        id="contact-incident-and-named-incident-are-distinct",
    ),
    pytest.param(
        contact(
            offence("105A", "V1"), offence("105A", "V2"), offence("105A", "V3"), victims=[*TWO_VICTIMS, victim("V3")]
        ),
        recorded(("V1", "105A"), ("V2", "105A"), ("V3", "105A")),
        id="three-victims-one-offence-each",
    ),
    # --- rape and N100
    pytest.param(contact(offence("19C")), recorded(("V1", "19C")), id="rape-reported-by-victim"),
    pytest.param(contact(offence("19F")), recorded(("V1", "19F")), id="rape-of-male-reported-by-victim"),
    pytest.param(
        contact(offence("19C", offender=None), reporter="third_party", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED, n100=True),
        id="rape-third-party-not-confirmed",
    ),
    pytest.param(
        contact(offence("19D"), reporter="professional", victims=[victim(identified=False, confirmed=False)]),
        pending(NOT_IDENTIFIED, n100=True),
        id="rape-victim-not-identified",
    ),
    pytest.param(
        contact(offence("19C"), reporter="witness"), recorded(("V1", "19C")), id="rape-witness-victim-confirmed"
    ),
    pytest.param(
        contact(offence("19C"), area="CUM"),
        recorded(("V1", "19C"), transfer_to="CUM", n100=True, says=("stays behind",)),
        id="rape-other-force-area-recorded-transferred-n100",
    ),
    pytest.param(
        contact(offence("19C"), offence("105A")), recorded(("V1", "19C")), id="rape-absorbs-assault-recorded-as-rape"
    ),
    pytest.param(
        contact(offence("19C"), offence("19D")), recorded(("V1", "19C")), id="two-rape-classes-one-incident-rape"
    ),
    pytest.param(
        contact(offence("1"), offence("19C")),
        recorded(("V1", "1"), n100=True, says=("principal crime 1 (Murder)",)),
        id="rape-within-murder-not-recorded-as-rape-n100",
    ),
    pytest.param(
        contact(offence("19C", "V1"), offence("105A", "V2"), reporter="victim", victims=[victim("V1"), victim("V2")]),
        recorded(("V1", "19C"), ("V2", "105A")),
        id="rape-and-assault-two-victims",
    ),
    pytest.param(
        contact(
            offence("8N", "V1"),
            offence("19C", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, crimes=(("V1", "8N"),), n100=True),
        id="rape-waits-other-victim-recorded-n100",
    ),
    pytest.param(
        contact(
            offence("19C", "V1"),
            offence("105A", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, crimes=(("V1", "19C"),)),
        id="rape-recorded-other-victim-waits-no-n100",
    ),
    # --- another force's area (HOCR G, cancellation C1)
    pytest.param(
        contact(offence("28E"), area="CUM"), recorded(("V1", "28E"), transfer_to="CUM"), id="burglary-in-cumbria"
    ),
    pytest.param(contact(offence("28E"), area="GMP"), recorded(("V1", "28E")), id="force-area-is-the-receiving-force"),
    pytest.param(contact(offence("28E"), area=None), recorded(("V1", "28E")), id="force-area-not-given"),
    pytest.param(
        contact(offence("28E"), area="CUM", reporter="witness", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED, says=("then transferred to CUM",)),
        id="out-of-area-waiting-nothing-transferred-yet",
    ),
    pytest.param(
        contact(
            offence("8N", "V1"),
            offence("8N", "V2"),
            area="MPS",
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, crimes=(("V1", "8N"),), transfer_to="MPS"),
        id="out-of-area-mixed-recorded-part-transferred",
    ),
    pytest.param(
        contact(offence("28E"), area="ZZZ"),
        pending(AREA_UNKNOWN, crimes=(("V1", "28E"),), says=("ZZZ is not a force",)),
        id="unknown-force-area-recorded-and-asks-where",
    ),
    pytest.param(
        contact(state("92A"), victims=NO_VICTIMS, reporter="police", area="WMP"),
        recorded((None, "92A"), transfer_to="WMP"),
        id="police-state-offence-other-area",
    ),
    # --- classes: current notifiable classes only; fraud is Action Fraud's
    pytest.param(
        contact(offence("999Z")), pending(NOT_RECORDABLE, says=("not a notifiable offence class",)), id="unknown-class"
    ),
    pytest.param(contact(offence("28A")), pending(NOT_RECORDABLE, says=("kept only for outcomes",)), id="legacy-class"),
    pytest.param(contact(offence("53C")), cri(says=("Action Fraud",)), id="fraud-only-cri-action-fraud"),
    pytest.param(
        contact(offence("53D", "V1"), offence("8N", "V1", incident="b")),
        recorded(("V1", "8N"), says=("Action Fraud",)),
        id="fraud-and-assault-assault-recorded",
    ),
    pytest.param(
        contact(offence("999Z"), offence("8N")),
        pending(NOT_RECORDABLE, crimes=(("V1", "8N"),)),
        id="unknown-class-with-recordable-same-victim",
    ),
    pytest.param(contact(offence("53C"), offence("7Q")), pending(NOT_RECORDABLE), id="fraud-and-unknown-class"),
    pytest.param(
        contact(state("30A"), victims=NO_VICTIMS, reporter="police"),
        pending(NOT_RECORDABLE),
        id="legacy-class-by-police",
    ),
    # --- no offence classified: NSIR category decides
    pytest.param(
        contact(victims=NO_VICTIMS), pending(NO_OFFENCE, says=("no offence classified",)), id="crime-no-offence"
    ),
    pytest.param(
        contact(victims=NO_VICTIMS, category="asb"), non_crime(says=("anti-social behaviour",)), id="asb-noise"
    ),
    pytest.param(
        contact(victims=NO_VICTIMS, category="public_safety"),
        non_crime(says=("public safety",)),
        id="public-safety-welfare",
    ),
    pytest.param(
        contact(victims=NO_VICTIMS, category="transport"), non_crime(says=("transport",)), id="transport-collision"
    ),
    pytest.param(
        contact(offence("9A"), category="asb"),
        recorded(("V1", "9A"), says=("Opened as NSIR",)),
        id="asb-disclosing-offence",
    ),
    # --- mixed: record what can be recorded, the rest waits for a person (outcome pending)
    pytest.param(
        contact(
            offence("105A", "V1"),
            offence("105A", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, crimes=(("V1", "105A"),), says=("Recorded at first contact all the same",)),
        id="two-victims-one-confirmed-one-not",
    ),
    pytest.param(
        contact(offence("8N"), state("92E")),
        pending(POINTS, crimes=(("V1", "8N"),)),
        id="victim-assault-recorded-drugs-wait",
    ),
    pytest.param(
        contact(
            offence("8N", "V1"),
            offence("999Z", "V1", incident="b"),
            offence("105A", "V2"),
            state("92E"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", identified=False, confirmed=False)],
        ),
        pending(NOT_RECORDABLE, NOT_IDENTIFIED, POINTS, crimes=(("V1", "8N"),)),
        id="every-kind-of-waiting-at-once",
    ),
]


def check(decision: Decision, expect: Expect, policy: RecordingPolicy = DEFAULT_POLICY) -> None:
    """Asserts a decision is what the table expects, as a supervisor would read it."""
    assert decision.outcome is expect.outcome, decision.rationale
    assert Counter((c.victim_ref, c.ho_class) for c in decision.crimes) == Counter(expect.crimes), decision.rationale
    assert decision.transfer_to == expect.transfer_to
    assert decision.n100 is expect.n100, decision.rationale
    assert Counter(item.kind for item in decision.pending) == Counter(expect.pending), decision.problems
    for words in expect.says:
        assert words in decision.rationale
    assert decision.rationale.strip()
    assert decision.rules_version == rules_version(CATALOGUE, policy)


def fits_contact_decided(decision: Decision) -> None:
    """Every decision can be published as contact.decided (its bounds and consistency checks)."""
    ContactDecided(
        contact_id=uuid.uuid4(),
        force="GMP",
        outcome=decision.outcome,
        crime_references=[f"GMP-2026-{n:06d}" for n in range(1, len(decision.crimes) + 1)],
        rationale=decision.rationale,
        rules_version=decision.rules_version,
        decided_at=RECEIVED,
        recording_deadline=decision.recording_deadline,
        received_at=RECEIVED,
        decided_by=None,
        problems=list(decision.problems),
        n100=decision.n100,
        transfer_to=decision.transfer_to,
        credible_evidence=decision.credible_evidence,
    )


@pytest.mark.parametrize(("contact_", "expect"), SCENARIOS)
def test_scenario(contact_: ContactCreate, expect: Expect) -> None:
    decision = decide(contact_, catalogue=CATALOGUE, limit=LIMIT)
    check(decision, expect)
    fits_contact_decided(decision)


def test_the_table_is_large_enough() -> None:
    assert len(SCENARIOS) >= 60
    assert len({p.id for p in SCENARIOS}) == len(SCENARIOS)


# ---------------------------------------------------------------------------------------- force policy choices

POLICY_SCENARIOS = [
    pytest.param(
        RecordingPolicy(victim_account_relationships=frozenset({ReporterRelationship.VICTIM})),
        contact(offence("105A"), reporter="acting_for_victim", victims=[victim(confirmed=False)]),
        pending(NOT_CONFIRMED),
        id="only-the-victim-own-account",
    ),
    pytest.param(
        RecordingPolicy(state_offence_reporters=frozenset({ReporterRelationship.POLICE, ReporterRelationship.WITNESS})),
        contact(state("92E"), victims=NO_VICTIMS, reporter="witness"),
        recorded((None, "92E")),
        id="witness-makes-out-points-to-prove",
    ),
    pytest.param(
        RecordingPolicy(state_offence_reporters=frozenset({ReporterRelationship.POLICE})),
        contact(state("92E"), victims=NO_VICTIMS, reporter="professional"),
        pending(POINTS),
        id="only-police-make-out-points-to-prove",
    ),
    pytest.param(
        RecordingPolicy(offenders_in_one_incident_act_together=False),
        contact(offence("105A", offender="S1"), offence("34B", offender="S2")),
        recorded(("V1", "105A"), ("V1", "34B")),
        id="each-offender-counted-separately",
    ),
    pytest.param(
        RecordingPolicy(offenders_in_one_incident_act_together=False),
        contact(offence("105A", offender="S1"), offence("8N", offender="S1")),
        recorded(("V1", "8N")),
        id="each-offender-same-offender-still-once",
    ),
    pytest.param(
        RecordingPolicy(state_offences_per_offender=True),
        contact(state("92E", "S1"), state("92E", "S2"), victims=NO_VICTIMS, reporter="police"),
        recorded((None, "92E"), (None, "92E")),
        id="state-offence-per-offender",
    ),
    pytest.param(
        RecordingPolicy(record_what_can_be_recorded=False),
        contact(
            offence("105A", "V1"),
            offence("105A", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, HELD),
        id="hold-everything-until-decided",
    ),
    pytest.param(
        RecordingPolicy(record_what_can_be_recorded=False),
        contact(
            offence("19C", "V1"),
            offence("105A", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        pending(NOT_CONFIRMED, HELD, n100=True),
        id="held-rape-gets-n100",
    ),
    pytest.param(
        RecordingPolicy(record_what_can_be_recorded=False),
        contact(offence("8N")),
        recorded(("V1", "8N")),
        id="hold-everything-nothing-waiting-records",
    ),
]


@pytest.mark.parametrize(("policy", "contact_", "expect"), POLICY_SCENARIOS)
def test_policy_scenario(policy: RecordingPolicy, contact_: ContactCreate, expect: Expect) -> None:
    decision = decide(contact_, catalogue=CATALOGUE, limit=LIMIT, policy=policy)
    check(decision, expect, policy)
    fits_contact_decided(decision)


def test_a_force_policy_changes_the_rules_version() -> None:
    default = rules_version(CATALOGUE)
    assert default == f"{RULES_VERSION}+{CATALOGUE.version}"
    assert rules_version(CATALOGUE, RecordingPolicy()) == default
    custom = rules_version(CATALOGUE, RecordingPolicy(record_what_can_be_recorded=False))
    assert custom.startswith(default + ".p") and custom != default
    assert len(custom) <= 40  # RulesVersion in schemas/events.py
    # The same choices give the same version, whatever order the sets were written in.
    a = RecordingPolicy(state_offence_reporters=frozenset({ReporterRelationship.POLICE, ReporterRelationship.WITNESS}))
    b = RecordingPolicy(state_offence_reporters=frozenset({ReporterRelationship.WITNESS, ReporterRelationship.POLICE}))
    assert rules_version(CATALOGUE, a) == rules_version(CATALOGUE, b)


def test_the_default_policy_is_domain_md() -> None:
    assert DEFAULT_POLICY.victim_account_relationships == {"victim", "acting_for_victim"}
    assert DEFAULT_POLICY.state_offence_reporters == {"police", "professional"}
    assert DEFAULT_POLICY.offenders_in_one_incident_act_together
    assert not DEFAULT_POLICY.state_offences_per_offender
    assert DEFAULT_POLICY.record_what_can_be_recorded


# ----------------------------------------------------------------------------------------- the shared examples


def _example_files() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else []


@pytest.mark.parametrize("path", _example_files() or [None], ids=lambda p: p.stem if p else "no-examples")
def test_shared_example(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"{EXAMPLES_DIR} does not exist")
    example = json.loads(path.read_text(encoding="utf-8"))
    expected = example["expected"]
    decision = decide(ContactCreate.model_validate(example["contact"]), catalogue=CATALOGUE, limit=LIMIT)
    assert decision.outcome == Outcome(expected["outcome"]), decision.rationale
    assert Counter((c.victim_ref, c.ho_class) for c in decision.crimes) == Counter(
        (c["victim_ref"], c["ho_class"]) for c in expected["crimes"]
    )
    assert decision.transfer_to == expected["transfer_to"]
    assert decision.n100 is expected["n100"]
    fits_contact_decided(decision)


def test_all_twelve_examples_are_there() -> None:
    if not EXAMPLES_DIR.is_dir():
        pytest.skip(f"{EXAMPLES_DIR} does not exist")
    assert len(_example_files()) >= 12


# ------------------------------------------------------------------------------------- what a supervisor reads


def test_cri_quotes_the_evidence_verbatim() -> None:
    decision = decide(contact(offence("48"), evidence=EVIDENCE), catalogue=CATALOGUE, limit=LIMIT)
    assert f'"{EVIDENCE}"' in decision.rationale
    assert decision.credible_evidence == EVIDENCE
    assert decision.crimes == () and decision.problems == ()


def test_the_deadline_is_receipt_plus_the_limit_and_is_the_pending_decision_deadline() -> None:
    limit = timedelta(hours=12)
    decision = decide(
        contact(offence("8N"), reporter="witness", victims=[victim(confirmed=False)]), catalogue=CATALOGUE, limit=limit
    )
    assert decision.recording_deadline == RECEIVED + limit == recording_deadline(RECEIVED, limit)
    assert decision.decision_deadline == decision.recording_deadline
    assert "12-hour recording clock" in decision.rationale
    assert decision.pending_reason == "a third-party report the victim has not confirmed"


def test_a_recorded_decision_has_no_decision_deadline_or_problems() -> None:
    decision = decide(contact(offence("8N")), catalogue=CATALOGUE, limit=LIMIT)
    assert decision.decision_deadline is None and decision.pending_reason is None
    assert decision.problems == () and decision.pending == ()
    assert decision.recording_deadline == RECEIVED + LIMIT


def test_the_audit_trail_names_the_offences_counted_within_the_principal_crime() -> None:
    decision = decide(
        contact(offence("105A", offender="S2"), offence("34B", offender="S1"), offence("105A", offender=None)),
        catalogue=CATALOGUE,
        limit=LIMIT,
    )
    (crime,) = decision.crimes
    assert crime == CrimeToRecord(
        victim_ref="V1",
        ho_class="34B",
        offender_ref="S1",
        incident_ref=None,
        counted_offences=(1, 0, 2),
        absorbed=("105A", "105A"),
        offender_refs=("S2", "S1"),
    )


def test_crimes_come_principal_first() -> None:
    decision = decide(
        contact(offence("105A", "V1"), offence("8N", "V2"), offence("1", "V3"), victims=[*TWO_VICTIMS, victim("V3")]),
        catalogue=CATALOGUE,
        limit=LIMIT,
    )
    assert [c.ho_class for c in decision.crimes] == ["1", "8N", "105A"]


def test_a_crime_to_record_still_builds_from_its_four_original_fields() -> None:
    crime = CrimeToRecord("V1", "8N", "S1", None)
    assert (crime.victim_ref, crime.ho_class, crime.offender_ref, crime.incident_ref) == ("V1", "8N", "S1", None)
    assert crime.counted_offences == () and crime.absorbed == ()


def test_non_crime_keeps_its_closing_category() -> None:
    decision = decide(contact(victims=NO_VICTIMS, category="transport"), catalogue=CATALOGUE, limit=LIMIT)
    assert decision.closing_category == "transport"


def test_fraud_is_referred_to_action_fraud_by_index() -> None:
    decision = decide(contact(offence("8N"), offence("53C", incident="x")), catalogue=CATALOGUE, limit=LIMIT)
    assert decision.referred_to_action_fraud == (1,)
    assert "Action Fraud" in decision.rationale


def test_pending_items_say_where_and_which_class_a_person_must_decide() -> None:
    decision = decide(
        contact(
            offence("999Z", "V1"),
            offence("8N", "V2"),
            reporter="witness",
            victims=[victim("V1"), victim("V2", confirmed=False)],
        ),
        catalogue=CATALOGUE,
        limit=LIMIT,
    )
    assert [p.split(":")[0] for p in decision.problems] == ["offences.0.ho_class", "victims.V2"]
    waiting = decision.pending[1]
    assert (waiting.victim_ref, waiting.ho_class, waiting.offences) == ("V2", "8N", (1,))


def test_the_rationale_names_no_one() -> None:
    # Data Protection Act 2018: the rationale travels in events; refs are enough.
    body = contact(offence("8N")).model_dump(mode="json")
    body["victims"][0]["name"] = "Dana Holt"
    body["reporter"]["name"] = "Sam Reporter"
    decision = decide(ContactCreate.model_validate(body), catalogue=CATALOGUE, limit=LIMIT)
    assert "Dana" not in decision.rationale and "Sam" not in decision.rationale


def test_the_largest_contact_still_fits_its_event() -> None:
    victims = [victim(f"V{n}", confirmed=n % 2 == 0) for n in range(50)]
    offences = [
        offence(code, f"V{n % 50}", f"S{n}", f"i{n}") for n, code in enumerate(["999Z", "8N", "19C", "53C"] * 50)
    ]
    decision = decide(contact(*offences, victims=victims, reporter="witness"), catalogue=CATALOGUE, limit=LIMIT)
    assert decision.outcome is Outcome.PENDING
    assert len(decision.problems) <= 200 and all(len(p) <= 1000 for p in decision.problems)
    assert len(decision.rationale) <= 10_000
    fits_contact_decided(decision)


def test_a_force_class_added_to_the_catalogue_is_recorded_under_its_version() -> None:
    extra = Offence(
        code="8U",
        name="Force-defined assault class",
        group="Violence against the person",
        audit_category=AuditCategory.VIOLENCE,
        victim_based=True,
        max_sentence_years=5,
    )
    catalogue = CATALOGUE.with_offences([extra])
    plain = decide(contact(offence("8U")), catalogue=CATALOGUE, limit=LIMIT)
    extended = decide(contact(offence("8U")), catalogue=catalogue, limit=LIMIT)
    assert plain.outcome is Outcome.PENDING
    assert extended.outcome is Outcome.RECORDED and extended.crimes[0].ho_class == "8U"
    assert extended.rules_version == f"{RULES_VERSION}+{catalogue.version}" != plain.rules_version


# -------------------------------------------------------------------------------------------------- properties

KNOWN_CLASSES = sorted(CATALOGUE.offences)
ODD_CLASSES = ["999Z", "7Q", "4/99"]  # valid in shape, unknown to the catalogue
RELATIONSHIPS = [r.value for r in ReporterRelationship]
VICTIM_ACCOUNT = {"victim", "acting_for_victim"}
STATE_REPORTERS = {"police", "professional"}


@st.composite
def contacts(draw: st.DrawFn) -> ContactCreate:
    """Any valid contact: up to 4 victims, up to 8 offences of any class (known, legacy, fraud or unknown)."""
    refs = [f"V{n}" for n in range(1, draw(st.integers(0, 4)) + 1)]
    victims = [
        victim(
            ref,
            identified=draw(st.booleans()),
            confirmed=draw(st.booleans()),
            kind=draw(st.sampled_from(["person", "organisation"])),
        )
        for ref in refs
    ]
    offence_entry = st.builds(
        offence,
        st.one_of(st.sampled_from(KNOWN_CLASSES), st.sampled_from(ODD_CLASSES)),
        st.sampled_from([*refs, None]),
        st.sampled_from([None, "S1", "S2"]),
        st.sampled_from([None, "a", "b"]),
    )
    return contact(
        *draw(st.lists(offence_entry, max_size=8)),
        victims=victims,
        reporter=draw(st.sampled_from(RELATIONSHIPS)),
        category=draw(st.sampled_from(["crime", "asb", "public_safety", "transport"])),
        area=draw(st.sampled_from([None, "GMP", "CUM", "ZZZ"])),
        evidence=draw(st.one_of(st.none(), st.just(EVIDENCE))),
    )


def expected_crime_keys(c: ContactCreate) -> Counter[tuple[object, ...]]:
    """An independent count: distinct victim-incident pairs of recordable victim-based offences on the victim's
    account, plus distinct class-incident pairs of offences against the state made out by police or professional."""
    keys: set[tuple[object, ...]] = set()
    if c.credible_evidence_to_contrary is not None:
        return Counter()
    victims = {v.ref: v for v in c.victims}
    for o in c.offences:
        entry = CATALOGUE.get(o.ho_class)
        if entry is None or CATALOGUE.recordable(o.ho_class) is not None:
            continue
        if entry.victim_based:
            v = victims.get(o.victim_ref) if o.victim_ref else None
            if v is not None and v.identified and (v.confirmed or c.reporter.relationship in VICTIM_ACCOUNT):
                keys.add(("victim", o.victim_ref, o.incident_ref))
        elif c.reporter.relationship in STATE_REPORTERS:
            keys.add(("state", o.ho_class, o.incident_ref))
    return Counter(keys)


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(contacts())
def test_any_contact_is_decided_and_fits_its_event(c: ContactCreate) -> None:
    decision = decide(c, catalogue=CATALOGUE, limit=LIMIT)
    assert decision.rationale.strip()
    assert decision.rules_version == rules_version(CATALOGUE)
    assert decision.recording_deadline == c.received_at + LIMIT
    assert decision.outcome is not Outcome.N100  # the rules leave the N100 outcome to a person
    if decision.outcome is Outcome.RECORDED:
        assert decision.crimes
    if decision.outcome in (Outcome.CRI, Outcome.NON_CRIME):
        assert decision.crimes == ()
    # Pending, and only pending, names what a person must decide, with a deadline that is the recording one.
    assert (decision.outcome is Outcome.PENDING) == bool(decision.problems) == bool(decision.pending)
    assert (decision.decision_deadline is not None) == (decision.outcome is Outcome.PENDING)
    if decision.decision_deadline is not None:
        assert decision.decision_deadline == decision.recording_deadline
    # Offences never vanish: each is counted in a crime, waits for a person, went to Action Fraud, or the contact
    # as a whole is a CRI.
    if decision.outcome is not Outcome.CRI or not c.credible_evidence_to_contrary:
        accounted = {i for crime in decision.crimes for i in crime.counted_offences}
        accounted |= {i for item in decision.pending for i in item.offences}
        accounted |= set(decision.referred_to_action_fraud)
        assert accounted == set(range(len(c.offences)))
    fits_contact_decided(decision)


@PROPERTY_SETTINGS
@given(contacts())
def test_crimes_are_one_per_victim_and_incident_and_one_per_state_offence_and_incident(c: ContactCreate) -> None:
    decision = decide(c, catalogue=CATALOGUE, limit=LIMIT)
    keys = Counter(
        ("victim", crime.victim_ref, crime.incident_ref)
        if CATALOGUE.offences[crime.ho_class].victim_based
        else ("state", crime.ho_class, crime.incident_ref)
        for crime in decision.crimes
    )
    assert keys == expected_crime_keys(c)


@PROPERTY_SETTINGS
@given(contacts())
def test_every_recorded_class_is_a_current_notifiable_class(c: ContactCreate) -> None:
    decision = decide(c, catalogue=CATALOGUE, limit=LIMIT)
    for crime in decision.crimes:
        assert CATALOGUE.recordable(crime.ho_class) is None
        # The principal crime is the most serious of the offences it counts (HOCR F).
        counted = [c.offences[i].ho_class for i in crime.counted_offences]
        assert crime.ho_class == CATALOGUE.principal(counted)


@PROPERTY_SETTINGS
@given(contacts())
def test_a_reported_rape_is_recorded_as_rape_or_gets_an_n100(c: ContactCreate) -> None:
    decision = decide(c, catalogue=CATALOGUE, limit=LIMIT)
    rapes = [
        i
        for i, o in enumerate(c.offences)
        if (e := CATALOGUE.get(o.ho_class)) and e.audit_category is AuditCategory.RAPE
    ]
    for index in rapes:
        as_rape = decision.transfer_to is None and any(
            index in crime.counted_offences and CATALOGUE.offences[crime.ho_class].audit_category is AuditCategory.RAPE
            for crime in decision.crimes
        )
        assert as_rape or (decision.n100 and index in decision.n100_offences)
    assert decision.n100 == bool(decision.n100_offences)
    assert set(decision.n100_offences) <= set(rapes)


@PROPERTY_SETTINGS
@given(contacts(), st.randoms(use_true_random=False))
def test_the_order_offences_are_listed_in_changes_nothing_counted(c: ContactCreate, rnd: Any) -> None:
    shuffled_offences = list(c.offences)
    rnd.shuffle(shuffled_offences)
    shuffled = c.model_copy(update={"offences": shuffled_offences})
    a = decide(c, catalogue=CATALOGUE, limit=LIMIT)
    b = decide(shuffled, catalogue=CATALOGUE, limit=LIMIT)
    assert (a.outcome, a.transfer_to, a.n100) == (b.outcome, b.transfer_to, b.n100)
    assert Counter((x.victim_ref, x.ho_class, x.incident_ref) for x in a.crimes) == Counter(
        (x.victim_ref, x.ho_class, x.incident_ref) for x in b.crimes
    )
    assert Counter(p.kind for p in a.pending) == Counter(p.kind for p in b.pending)


@PROPERTY_SETTINGS
@given(contacts())
def test_credible_evidence_always_makes_a_crime_related_incident_when_anything_is_crime_related(
    c: ContactCreate,
) -> None:
    with_evidence = c.model_copy(update={"credible_evidence_to_contrary": EVIDENCE})
    decision = decide(with_evidence, catalogue=CATALOGUE, limit=LIMIT)
    assert decision.crimes == ()
    if c.offences or c.incident.category == "crime":
        assert decision.outcome is Outcome.CRI
        assert EVIDENCE in decision.rationale
    else:
        assert decision.outcome is Outcome.NON_CRIME
