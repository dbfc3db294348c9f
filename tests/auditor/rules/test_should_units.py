"""The crimes that should have been recorded from a contact, as the recording rate counts them.

What the standard required at first contact always counts. A report the standard left to a person (a third party
about an identified victim whose account is not yet confirmed) counts too, once that person let its deadline pass
undecided or closed it as no crime without credible evidence to the contrary.
"""

from __future__ import annotations

import pytest

from schemas.catalogue import OffenceCatalogue
from services.auditor.rules.counting import required_units, should_units
from services.auditor.rules.facts import OffenceFact, ReportedFacts, VictimFact

CATALOGUE = OffenceCatalogue.default()


def victim(ref: str = "V1", *, identified: bool = True, confirmed: bool = False, kind: str = "person") -> VictimFact:
    return VictimFact(ref=ref, kind=kind, identified=identified, confirmed=confirmed)


def offence(ho_class: str = "8N", victim_ref: str | None = "V1", *, incident: str | None = None) -> OffenceFact:
    return OffenceFact(victim_ref=victim_ref, ho_class=ho_class, offender_ref="S1", incident_ref=incident)


def facts(
    *offences: OffenceFact,
    victims: tuple[VictimFact, ...] = (victim(),),
    reporter: str = "third_party",
    credible_evidence: bool = False,
) -> ReportedFacts:
    return ReportedFacts(
        force="GMP",
        category="crime",
        reporter=reporter,
        victims=victims,
        offences=offences or (offence(),),
        credible_evidence=credible_evidence,
        force_area="GMP",
    )


# A neighbour reports an assault on a named victim nobody has yet asked: the standard waits for the victim.
THIRD_PARTY = facts()
# The victim reports it: recordable at first contact whatever happens next.
OWN_ACCOUNT = facts(victims=(victim(confirmed=True),), reporter="victim")
ACTING_FOR = facts(reporter="acting_for_victim")
CONFIRMED_BY_VICTIM = facts(victims=(victim(confirmed=True),), reporter="witness")
UNIDENTIFIED = facts(victims=(victim(identified=False),))
EVIDENCE_IN_THE_REPORT = facts(reporter="victim", credible_evidence=True)
TWO_VICTIMS_ONE_NAMED = facts(
    offence("8N", "V1"),
    offence("8N", "V2"),
    victims=(victim("V1"), victim("V2", identified=False)),
)
TWO_NAMED_VICTIMS = facts(offence("8N", "V1"), offence("8L", "V2"), victims=(victim("V1"), victim("V2")))
TWO_OFFENCES_ONE_VICTIM = facts(offence("8L"), offence("8N"))  # HOCR F: one crime, the more serious
TWO_INCIDENTS_ONE_VICTIM = facts(offence("8N", incident="I1"), offence("8L", incident="I2"))  # HOCR E
FRAUD = facts(offence("53B"))  # Action Fraud records it, never the force
STATE_OFFENCE_BY_WITNESS = facts(offence("92A", victim_ref=None), reporter="witness")
STATE_OFFENCE_BY_POLICE = facts(offence("92A", victim_ref=None), reporter="police")


def case(
    reported: ReportedFacts,
    outcome: str | None,
    expected: list[str],
    *,
    evidence_given: bool = False,
    deadline_passed: bool = False,
    id: str,
) -> object:
    return pytest.param(reported, outcome, evidence_given, deadline_passed, expected, id=id)


CASES = [
    # Required at first contact: counts however it was decided, on time or not.
    case(OWN_ACCOUNT, "recorded", ["8N"], id="own-account-recorded"),
    case(OWN_ACCOUNT, None, ["8N"], id="own-account-not-yet-decided"),
    case(OWN_ACCOUNT, "pending", ["8N"], id="own-account-pending-in-time"),
    case(OWN_ACCOUNT, "cri", ["8N"], evidence_given=True, id="own-account-closed-with-evidence"),
    case(OWN_ACCOUNT, "non_crime", ["8N"], id="own-account-closed-without-evidence"),
    case(OWN_ACCOUNT, "n100", ["8N"], id="own-account-n100"),
    case(ACTING_FOR, "pending", ["8N"], id="acting-for-victim-pending"),
    case(CONFIRMED_BY_VICTIM, "pending", ["8N"], id="witness-confirmed-by-victim"),
    # Left to a person, who is still within the deadline or decided it properly: not (yet) a should-have.
    case(THIRD_PARTY, None, [], id="third-party-not-yet-decided"),
    case(THIRD_PARTY, "pending", [], id="third-party-pending-in-time"),
    case(THIRD_PARTY, "recorded", [], id="third-party-recorded"),  # its crimes count as recorded, not required
    case(THIRD_PARTY, "recorded", [], deadline_passed=True, id="third-party-recorded-deadline-since-passed"),
    case(THIRD_PARTY, "cri", [], evidence_given=True, id="third-party-cri-with-evidence"),
    case(THIRD_PARTY, "non_crime", [], evidence_given=True, id="third-party-non-crime-with-evidence"),
    case(THIRD_PARTY, "non_crime", [], evidence_given=True, deadline_passed=True, id="with-evidence-late"),
    case(THIRD_PARTY, "n100", [], id="third-party-n100"),
    case(THIRD_PARTY, "n100", [], deadline_passed=True, id="third-party-n100-deadline-passed"),
    # Left undecided past the deadline, or closed without grounds: the identified victim's crime should have been.
    case(THIRD_PARTY, "pending", ["8N"], deadline_passed=True, id="third-party-pending-past-deadline"),
    case(THIRD_PARTY, None, ["8N"], deadline_passed=True, id="third-party-never-decided-past-deadline"),
    case(THIRD_PARTY, "cri", ["8N"], id="third-party-cri-without-evidence"),
    case(THIRD_PARTY, "non_crime", ["8N"], id="third-party-non-crime-without-evidence"),
    case(THIRD_PARTY, "cri", ["8N"], deadline_passed=True, id="third-party-cri-without-evidence-late"),
    # Only identified victims, and only what the force may record, ever count.
    case(UNIDENTIFIED, "pending", [], deadline_passed=True, id="unidentified-victim-past-deadline"),
    case(UNIDENTIFIED, "non_crime", [], id="unidentified-victim-closed"),
    case(TWO_VICTIMS_ONE_NAMED, "pending", ["8N"], deadline_passed=True, id="only-the-named-victim"),
    case(TWO_VICTIMS_ONE_NAMED, "pending", [], id="two-victims-pending-in-time"),
    case(TWO_NAMED_VICTIMS, "non_crime", ["8N", "8L"], id="one-crime-per-named-victim"),
    case(TWO_OFFENCES_ONE_VICTIM, "pending", ["8N"], deadline_passed=True, id="principal-crime-only"),
    case(TWO_INCIDENTS_ONE_VICTIM, "cri", ["8N", "8L"], id="one-crime-per-incident"),
    case(FRAUD, "pending", [], deadline_passed=True, id="fraud-is-action-frauds"),
    case(FRAUD, "non_crime", [], id="fraud-closed"),
    case(EVIDENCE_IN_THE_REPORT, "non_crime", [], id="report-itself-carried-evidence"),
    case(EVIDENCE_IN_THE_REPORT, "pending", [], deadline_passed=True, id="report-with-evidence-past-deadline"),
    # An offence against the state needs the points made out by police or a professional, not a victim's word.
    case(STATE_OFFENCE_BY_WITNESS, "pending", [], deadline_passed=True, id="state-offence-witness-past-deadline"),
    case(STATE_OFFENCE_BY_WITNESS, "non_crime", [], id="state-offence-witness-closed"),
    case(STATE_OFFENCE_BY_POLICE, "non_crime", ["92A"], evidence_given=True, id="state-offence-police"),
]


@pytest.mark.parametrize(("reported", "outcome", "evidence_given", "deadline_passed", "expected"), CASES)
def test_the_crimes_that_should_have_been_recorded(
    reported: ReportedFacts, outcome: str | None, evidence_given: bool, deadline_passed: bool, expected: list[str]
) -> None:
    units = should_units(
        reported, CATALOGUE, outcome=outcome, evidence_given=evidence_given, deadline_passed=deadline_passed
    )
    assert sorted(units) == sorted(expected)


@pytest.mark.parametrize(
    ("reported", "confirmed_or_not", "as_if_confirmed"),
    [
        pytest.param(OWN_ACCOUNT, ["8N"], ["8N"], id="own-account"),
        pytest.param(CONFIRMED_BY_VICTIM, ["8N"], ["8N"], id="confirmed"),
        pytest.param(THIRD_PARTY, [], ["8N"], id="third-party-unconfirmed"),
        pytest.param(facts(reporter="witness"), [], ["8N"], id="witness-unconfirmed"),
        pytest.param(facts(reporter="professional"), [], ["8N"], id="professional-unconfirmed"),
        pytest.param(UNIDENTIFIED, [], [], id="unidentified"),
        pytest.param(facts(offence("8N", "V9")), [], [], id="offence-against-a-victim-not-reported"),
        pytest.param(TWO_VICTIMS_ONE_NAMED, [], ["8N"], id="one-named-of-two"),
        pytest.param(TWO_OFFENCES_ONE_VICTIM, [], ["8N"], id="principal"),
        pytest.param(FRAUD, [], [], id="fraud"),
        pytest.param(EVIDENCE_IN_THE_REPORT, [], [], id="evidence"),
        pytest.param(STATE_OFFENCE_BY_WITNESS, [], [], id="state-witness"),
        pytest.param(STATE_OFFENCE_BY_POLICE, ["92A"], ["92A"], id="state-police"),
    ],
)
def test_required_units_without_confirmation_count_every_identified_victim(
    reported: ReportedFacts, confirmed_or_not: list[str], as_if_confirmed: list[str]
) -> None:
    assert sorted(required_units(reported, CATALOGUE)) == sorted(confirmed_or_not)
    assert sorted(required_units(reported, CATALOGUE, confirmation_needed=True)) == sorted(confirmed_or_not)
    assert sorted(required_units(reported, CATALOGUE, confirmation_needed=False)) == sorted(as_if_confirmed)


@pytest.mark.parametrize("outcome", [None, "pending", "recorded", "cri", "n100", "non_crime"])
@pytest.mark.parametrize("evidence_given", [True, False])
@pytest.mark.parametrize("deadline_passed", [True, False])
def test_what_should_be_recorded_is_never_less_than_the_standard_required_nor_more_than_every_named_victim(
    outcome: str | None, evidence_given: bool, deadline_passed: bool
) -> None:
    for reported in (OWN_ACCOUNT, THIRD_PARTY, UNIDENTIFIED, TWO_VICTIMS_ONE_NAMED, TWO_NAMED_VICTIMS, FRAUD):
        units = should_units(
            reported, CATALOGUE, outcome=outcome, evidence_given=evidence_given, deadline_passed=deadline_passed
        )
        at_least = required_units(reported, CATALOGUE)
        at_most = required_units(reported, CATALOGUE, confirmation_needed=False)
        assert sorted(units) in (sorted(at_least), sorted(at_most)), reported
