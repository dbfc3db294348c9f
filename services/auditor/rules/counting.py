"""How many crimes the recording standard requires for a contact, judged independently of the recorder.

The auditor repeats the standard's test in its own code, on purpose: it must find a records system's errors, so
it cannot borrow that system's logic.
"""

from __future__ import annotations

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.events import Outcome
from services.auditor.rules.facts import OffenceFact, ReportedFacts

# NCRS: the victim's own account (or someone acting for them) is enough; a police officer or professional
# reporting what they found makes out the points to prove for offences against the state.
VICTIMS_OWN_ACCOUNT = frozenset({"victim", "acting_for_victim"})
POINTS_MADE_OUT_BY = frozenset({"police", "professional"})


def victim_account_stands(facts: ReportedFacts, victim_ref: str | None, *, confirmation_needed: bool = True) -> bool:
    """True when a victim-based offence rests on an identified victim's account (their own, or confirmed)."""
    victim = next((v for v in facts.victims if v.ref == victim_ref), None)
    if victim is None or not victim.identified:
        return False
    return not confirmation_needed or facts.reporter in VICTIMS_OWN_ACCOUNT or victim.confirmed


def recordable_now(
    facts: ReportedFacts, offence: OffenceFact, catalogue: OffenceCatalogue, *, confirmation_needed: bool = True
) -> bool:
    """True when the standard requires this offence to be recorded at first contact (or, without
    `confirmation_needed`, once nobody sought the identified victim's confirmation the standard waited for)."""
    if facts.credible_evidence or catalogue.recordable(offence.ho_class) is not None:
        return False
    known = catalogue.get(offence.ho_class)
    assert known is not None
    if known.victim_based:
        return victim_account_stands(facts, offence.victim_ref, confirmation_needed=confirmation_needed)
    return facts.reporter in POINTS_MADE_OUT_BY


def required_crimes(facts: ReportedFacts, catalogue: OffenceCatalogue) -> int:
    """HOCR D (one crime per victim), E (one per victim per incident) and F (the principal offence only)."""
    return len(required_units(facts, catalogue))


def required_units(facts: ReportedFacts, catalogue: OffenceCatalogue, *, confirmation_needed: bool = True) -> list[str]:
    """The crimes the standard requires, each as its principal class (HOCR section F: the most serious).

    Without `confirmation_needed`, a third party's report about an identified victim counts as if confirmed: the
    inspectorate's view of a report that nobody followed up by its deadline, or closed without grounds."""
    units: dict[tuple[str, str | None, str | None], list[str]] = {}
    for offence in facts.offences:
        if not recordable_now(facts, offence, catalogue, confirmation_needed=confirmation_needed):
            continue
        known = catalogue.get(offence.ho_class)
        assert known is not None
        if known.victim_based:
            key: tuple[str, str | None, str | None] = ("victim", offence.victim_ref, offence.incident_ref)
        else:
            # An offence against the state has no victim, even when the report names one: each distinct
            # offence in an incident is a crime.
            key = ("state", offence.ho_class, offence.incident_ref)
        units.setdefault(key, []).append(offence.ho_class)
    return [principal for classes in units.values() if (principal := catalogue.principal(classes)) is not None]


def expected_crimes(contact: ContactCreate, catalogue: OffenceCatalogue | None = None) -> int:
    """The crimes the counting rules require for a contact as received."""
    return required_crimes(ReportedFacts.of(contact), catalogue or OffenceCatalogue.default())


CLOSED_AS_NO_CRIME = frozenset({"cri", "non_crime"})


def counts_unconfirmed(*, outcome: str | None, evidence_given: bool, deadline_passed: bool) -> bool:
    """Whether the recording rate counts a contact's identified victims' crimes as if confirmed: a report the
    standard left to a person, who let its deadline pass undecided or closed it as no crime without credible
    evidence to the contrary. (The repository's recording tally makes the same choice in SQL; a test holds the two
    together over every outcome.)"""
    undecided = outcome in (None, "pending") and deadline_passed
    closed_without_grounds = outcome in CLOSED_AS_NO_CRIME and not evidence_given
    return undecided or closed_without_grounds


def should_units(
    facts: ReportedFacts,
    catalogue: OffenceCatalogue,
    *,
    outcome: str | None,
    evidence_given: bool,
    deadline_passed: bool,
) -> list[str]:
    """The crimes that should have been recorded from a contact, as the recording rate counts them: what the
    standard required at first contact; and, for a report the standard left to a person (an identified victim's
    account not yet confirmed), every identified victim's crime once that person let the deadline pass undecided
    or closed the report as no crime without credible evidence to the contrary."""
    unconfirmed = counts_unconfirmed(outcome=outcome, evidence_given=evidence_given, deadline_passed=deadline_passed)
    return required_units(facts, catalogue, confirmation_needed=not unconfirmed)


def required_categories(facts: ReportedFacts, catalogue: OffenceCatalogue, *, confirmation_needed: bool) -> list[str]:
    """The audit categories of the crimes `required_units` finds (sorted): stored with a contact's facts, both
    ways, so the recording rate is summed in the database instead of judged again contact by contact."""
    units = required_units(facts, catalogue, confirmation_needed=confirmation_needed)
    return sorted(offence.audit_category.value for code in units if (offence := catalogue.get(code)) is not None)


def recording_status(*, reported: bool, outcome: str | None, expected: int | None, recorded: int) -> str:
    """Where a contact stands as the auditor sees it: `awaiting_report`, `awaiting_decision`, `decided`,
    `under_recorded`, `not_recorded` or `recorded`."""
    if not reported:
        return "awaiting_report"  # decision or crimes seen, the report itself (another topic) not yet
    if outcome is None:
        return "awaiting_decision"
    if outcome != Outcome.RECORDED.value:
        return "decided"
    if expected is not None and recorded < expected:
        return "under_recorded" if recorded else "not_recorded"
    return "recorded"
