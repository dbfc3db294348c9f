"""Which crimes a contact discloses, and what must be recorded for it (NCRS, counting rules).

The decision for one contact, made at first contact by the National Crime Recording Standard (domain.md, The
recording decision), in this order:

1. No offence classified: a crime-category contact waits for a person ("no offence classified"); any other NSIR
   category is a non-crime incident closed in that category.
2. Credible evidence to the contrary: a crime-related incident (CRI) with that evidence quoted as its reason.
3. Each reported offence is then sorted: fraud goes to Action Fraud; a class the force may not record waits for
   a person; a victim-based offence is recordable on the victim's account (identified victim, and the victim or
   someone acting for them reported it, or the victim confirmed it), otherwise it waits; an offence against the
   state is recordable when the police or a professional reported it (points to prove), otherwise it waits.
4. The recordable offences are counted (HOCR D, E, F) and recorded at once; a crime committed in another force's
   area is recorded and transferred to it (HOCR G, cancellation C1).
5. Outcome: `pending` when anything waits for a person (the crimes that could be recorded are recorded all the
   same, see below), else `recorded` when crimes were recorded, else `cri` (fraud only: Action Fraud records it).
6. N100: a reported rape not recorded at once as a rape crime (waiting, CRI, counted within a more serious
   principal crime, or transferred) sets n100. The rules never return the outcome `n100` itself: a rape they do
   not record is always either waiting for a person (`pending`) or a CRI, each with n100 true; `n100` is the
   outcome a person gives when they close a reported rape without recording it as rape.

Mixed contacts (some crimes recordable now, some waiting): the outcome is `pending`, the recordable crimes are in
`crimes` and are recorded at first contact, and `pending`/`problems` say what is left for a person. Recording
never waits for investigation (domain.md, First contact), so the confirmed victim's crime is not held back by
another victim's missing confirmation; and the contact stays in the work queue of pending decisions (outcome
`pending`) until a person has decided the rest. A force may hold everything instead (policy
`record_what_can_be_recorded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.catalogue import AuditCategory, OffenceCatalogue, is_force
from schemas.contacts import ContactCreate, IncidentCategory, ReportedOffence, ReporterRelationship, Victim
from schemas.events import Outcome
from services.recorder.rules.counting import CrimeToRecord, count_crimes
from services.recorder.rules.outcome import (
    PENDING_SUMMARY,
    RULES_VERSION,
    Decision,
    PendingItem,
    PendingKind,
    recording_deadline,
    rules_version,
)
from services.recorder.rules.policy import DEFAULT_POLICY, RecordingPolicy
from services.recorder.rules.rationale import (
    CATEGORY_WORDS,
    REPORTER_WORDS,
    bounded_problems,
    first_contact_rationale,
    labels,
    limit_words,
    rationale,
)

__all__ = [
    "DEFAULT_POLICY",
    "RULES_VERSION",
    "CrimeToRecord",
    "Decision",
    "PendingItem",
    "PendingKind",
    "RecordingPolicy",
    "decide",
    "recording_deadline",
    "rules_version",
]

# ------------------------------------------------------------------------------------------------------- rules


def _reported_rapes(contact: ContactCreate, catalogue: OffenceCatalogue) -> tuple[int, ...]:
    # domain.md, N100: a reported rape (or attempt: attempts are classified under the rape classes).
    rapes = []
    for index, offence in enumerate(contact.offences):
        entry = catalogue.get(offence.ho_class)
        if entry is not None and entry.audit_category is AuditCategory.RAPE:
            rapes.append(index)
    return tuple(rapes)


def _victim_blocker(
    index: int,
    offence: ReportedOffence,
    victims: dict[str, Victim],
    reporter: ReporterRelationship,
    policy: RecordingPolicy,
) -> tuple[PendingKind, str, str] | None:
    """Why a victim-based offence cannot be recorded on the victim's account now (kind, where, reason), or None."""
    if offence.victim_ref is None:
        return (
            PendingKind.NO_VICTIM_NAMED,
            f"offences.{index}.victim_ref",
            f"{offence.ho_class} is an offence against a victim but names none: NCRS records it for an identified "
            "victim, so a person must identify the victim or decide",
        )
    victim = victims.get(offence.victim_ref)
    if victim is None or not victim.identified:
        # NCRS records a crime for an offence against an identified victim; an anonymous or unknown victim (even
        # one who reports it themselves) leaves the decision to a person within the same deadline.
        return (
            PendingKind.VICTIM_NOT_IDENTIFIED,
            f"victims.{offence.victim_ref}",
            f"{offence.victim_ref} is not identified: NCRS records a crime for an identified victim, so a person "
            "must identify the victim or decide",
        )
    # The victim's account: the victim or someone acting for them reported it (policy), or the victim has
    # confirmed what a third party reported (example 02: a witness's report, both victims present and confirmed).
    # With several victims and the victim as reporter, the report is taken as every named victim's own account,
    # as the contact schema documents `confirmed` for third-party reports only.
    if victim.confirmed or reporter in policy.victim_account_relationships:
        return None
    return (
        PendingKind.VICTIM_NOT_CONFIRMED,
        f"victims.{offence.victim_ref}",
        f"{offence.victim_ref} has not confirmed what {REPORTER_WORDS[reporter]} reported: NCRS records a "
        "third-party report once the victim confirms it, so a person must reach the victim or decide",
    )


@dataclass
class _Sorted:
    """The offences of one contact, sorted by what the rules can do with each now."""

    recordable: list[tuple[int, ReportedOffence]] = field(default_factory=list)
    unrecordable: list[PendingItem] = field(default_factory=list)
    waiting: dict[tuple[PendingKind, str, str], list[tuple[int, ReportedOffence]]] = field(default_factory=dict)
    fraud: list[int] = field(default_factory=list)


def _sort_offences(contact: ContactCreate, catalogue: OffenceCatalogue, policy: RecordingPolicy) -> _Sorted:
    victims = {victim.ref: victim for victim in contact.victims}
    reporter = contact.reporter.relationship
    result = _Sorted()
    for index, offence in enumerate(contact.offences):
        entry = catalogue.get(offence.ho_class)
        refusal = catalogue.recordable(offence.ho_class)
        if entry is not None and entry.fraud:
            # domain.md, Classification: fraud is recorded nationally by Action Fraud, not by forces. Nothing is
            # left for a person to decide about recording it, so it does not make the contact pending.
            result.fraud.append(index)
            continue
        if refusal is not None or entry is None:
            # Unknown or legacy-only class (e.g. from an older intake): never dropped, never guessed at; a person
            # decides under which current class it is recorded (issue 4, Reliability).
            result.unrecordable.append(
                PendingItem(
                    kind=PendingKind.CLASS_NOT_RECORDABLE,
                    where=f"offences.{index}.ho_class",
                    reason=refusal or f"{offence.ho_class} cannot be recorded",
                    offences=(index,),
                    victim_ref=offence.victim_ref,
                    ho_class=offence.ho_class,
                    incident_ref=offence.incident_ref,
                )
            )
            continue
        if entry.victim_based:
            blocker = _victim_blocker(index, offence, victims, reporter, policy)
            if blocker is None:
                result.recordable.append((index, offence))
            else:
                result.waiting.setdefault(blocker, []).append((index, offence))
            continue
        # NCRS: for an offence against the state the points to prove must be made out; by default (policy) a
        # report by the police or a professional does, anyone else's waits for a person.
        if reporter in policy.state_offence_reporters:
            result.recordable.append((index, offence))
        else:
            reason = (
                f"an offence against the state reported by {REPORTER_WORDS[reporter]}: NCRS records it when the "
                "points to prove are made out, so a person must decide"
            )
            result.waiting.setdefault((PendingKind.POINTS_TO_PROVE, "", reason), []).append((index, offence))
    return result


def _waiting_items(sorted_offences: _Sorted, catalogue: OffenceCatalogue, policy: RecordingPolicy) -> list[PendingItem]:
    """The offences waiting for a person, counted as the crimes they would become (so a person sees the class)."""
    items = list(sorted_offences.unrecordable)
    for (kind, where, reason), members in sorted_offences.waiting.items():
        for would_be in count_crimes(members, catalogue=catalogue, policy=policy):
            items.append(
                PendingItem(
                    kind=kind,
                    where=where or f"offences.{would_be.counted_offences[0]}",
                    reason=reason,
                    offences=would_be.counted_offences,
                    victim_ref=would_be.victim_ref,
                    ho_class=would_be.ho_class,
                    incident_ref=would_be.incident_ref,
                )
            )
    return sorted(items, key=lambda item: min(item.offences, default=-1))


def _held_items(crimes: Sequence[CrimeToRecord]) -> list[PendingItem]:
    return [
        PendingItem(
            kind=PendingKind.HELD_BY_POLICY,
            where=f"victims.{crime.victim_ref}" if crime.victim_ref else f"offences.{crime.counted_offences[0]}",
            reason=f"{crime.ho_class} could be recorded now, but force policy holds every crime of a contact until "
            "a person has decided the whole of it",
            offences=crime.counted_offences,
            victim_ref=crime.victim_ref,
            ho_class=crime.ho_class,
            incident_ref=crime.incident_ref,
        )
        for crime in crimes
    ]


def _without_offences(contact: ContactCreate, deadline: datetime, version: str, limit: timedelta) -> Decision:
    category = contact.incident.category
    if category is not IncidentCategory.CRIME:
        # NSIR: not crime-related at all; the incident is closed in its category (example 09).
        return Decision(
            outcome=Outcome.NON_CRIME,
            crimes=(),
            rationale=(
                f"Non-crime incident: the report discloses no notifiable offence; closed in the NSIR category "
                f"{CATEGORY_WORDS[category]} ({category.value})."
            ),
            recording_deadline=deadline,
            rules_version=version,
            closing_category=category,
        )
    if contact.credible_evidence_to_contrary is not None:
        return Decision(
            outcome=Outcome.CRI,
            crimes=(),
            rationale=(
                "Crime-related incident (CRI): no offence is classified and credible evidence to the contrary is "
                f'immediately available: "{contact.credible_evidence_to_contrary}". No crime is recorded; this '
                "reason is kept for audit."
            ),
            recording_deadline=deadline,
            rules_version=version,
            credible_evidence=contact.credible_evidence_to_contrary,
        )
    item = PendingItem(
        kind=PendingKind.NO_OFFENCE_CLASSIFIED,
        where="offences",
        reason="none classified at first contact: a person must classify what the report discloses, or close it "
        "as a crime-related or non-crime incident",
    )
    return Decision(
        outcome=Outcome.PENDING,
        crimes=(),
        rationale=(
            f"Pending: a crime-related contact with no offence classified; a person must decide by "
            f"{deadline.isoformat()} (the {limit_words(limit)} recording clock started at receipt, "
            f"{contact.received_at.isoformat()}, and is not reset)."
        ),
        recording_deadline=deadline,
        problems=(item.problem,),
        rules_version=version,
        decision_deadline=deadline,
        pending_reason=PENDING_SUMMARY[item.kind],
        pending=(item,),
    )


def _crime_related_incident(
    contact: ContactCreate, catalogue: OffenceCatalogue, deadline: datetime, version: str, rapes: tuple[int, ...]
) -> Decision:
    # NCRS: crime-related, but there is credible evidence to the contrary immediately available, so the test is not
    # met. The evidence is the written reason an auditor checks (UNJUSTIFIED_NON_CRIME).
    codes = dict.fromkeys(offence.ho_class for offence in contact.offences)
    tail = []
    if rapes:
        tail.append(
            "N100: a reported rape closed as a crime-related incident is not recorded as rape; an N100 record is "
            "kept (domain.md, N100)."
        )
    return Decision(
        outcome=Outcome.CRI,
        crimes=(),
        rationale=rationale(
            [
                "Crime-related incident (CRI): credible evidence to the contrary is immediately available: "
                f'"{contact.credible_evidence_to_contrary}"',
                f"Reported: {labels(codes, catalogue)}. On the balance of probability the NCRS test is not met, "
                "so no crime is recorded; this reason is kept for audit.",
            ],
            [],
            tail,
        ),
        recording_deadline=deadline,
        rules_version=version,
        n100=bool(rapes),
        n100_offences=rapes,
        credible_evidence=contact.credible_evidence_to_contrary,
    )


def _unrecorded_rapes(
    rapes: tuple[int, ...], crimes: Sequence[CrimeToRecord], transfer_to: str | None, catalogue: OffenceCatalogue
) -> tuple[int, ...]:
    """The reported rapes not recorded at once as a rape crime of this force: each needs an N100."""
    if transfer_to is not None:
        # domain.md: including one transferred to another force (C1: for rape an N100 stays behind).
        return rapes
    recorded_as_rape: set[int] = set()
    for crime in crimes:
        entry = catalogue.get(crime.ho_class)
        if entry is not None and entry.audit_category is AuditCategory.RAPE:
            recorded_as_rape.update(crime.counted_offences)
    # A rape counted within a more serious principal crime (e.g. murder, HOCR F) is not recorded as rape either.
    return tuple(index for index in rapes if index not in recorded_as_rape)


def _transfer_to(contact: ContactCreate, crimes: Sequence[CrimeToRecord], pending: list[PendingItem]) -> str | None:
    """HOCR section G and Annex A: a crime committed in another force's area is recorded by the force that received
    it and transferred to that force (cancellation C1); the clock is not reset by the transfer. An area crimerec does
    not know waits for a person (added to `pending`)."""
    area = contact.location.force_area
    if area is None or area == contact.force or not (crimes or pending):
        return None
    if is_force(area):
        return area if crimes else None
    pending.append(
        PendingItem(
            kind=PendingKind.FORCE_AREA_UNKNOWN,
            where="location.force_area",
            reason=f"{area} is not a force crimerec knows: a person must say which force the crimes are "
            "transferred to (HOCR section G)",
        )
    )
    return None


def decide(
    contact: ContactCreate,
    *,
    catalogue: OffenceCatalogue,
    limit: timedelta,
    policy: RecordingPolicy = DEFAULT_POLICY,
) -> Decision:
    """Decides a contact at first contact: the crimes to record (one per victim and incident, principal crime), or
    what a person must decide, or why it is a crime-related or non-crime incident, with the rationale."""
    deadline = recording_deadline(contact.received_at, limit)
    version = rules_version(catalogue, policy)
    if not contact.offences:
        return _without_offences(contact, deadline, version, limit)
    rapes = _reported_rapes(contact, catalogue)
    if contact.credible_evidence_to_contrary is not None:
        return _crime_related_incident(contact, catalogue, deadline, version, rapes)

    sorted_offences = _sort_offences(contact, catalogue, policy)
    crimes = count_crimes(sorted_offences.recordable, catalogue=catalogue, policy=policy)
    pending = _waiting_items(sorted_offences, catalogue, policy)
    if pending and crimes and not policy.record_what_can_be_recorded:
        pending = sorted([*pending, *_held_items(crimes)], key=lambda item: min(item.offences, default=-1))
        crimes = ()

    transfer_to = _transfer_to(contact, crimes, pending)

    unrecorded_rapes = _unrecorded_rapes(rapes, crimes, transfer_to, catalogue)
    if pending:
        outcome = Outcome.PENDING
    elif crimes:
        outcome = Outcome.RECORDED
    else:
        # Only fraud is left: crime-related, but not the force's to record (Action Fraud records it nationally).
        outcome = Outcome.CRI

    text = first_contact_rationale(
        contact, outcome=outcome, crimes=crimes, pending=pending, frauds=sorted_offences.fraud, deadline=deadline,
        limit=limit, transfer_to=transfer_to, unrecorded_rapes=unrecorded_rapes, catalogue=catalogue, policy=policy,
    )  # fmt: skip
    kinds = dict.fromkeys(item.kind for item in pending)
    return Decision(
        outcome=outcome,
        crimes=crimes,
        rationale=text,
        recording_deadline=deadline,
        problems=bounded_problems(pending),
        transfer_to=transfer_to,
        n100=bool(unrecorded_rapes),
        rules_version=version,
        decision_deadline=deadline if pending else None,
        pending_reason="; ".join(PENDING_SUMMARY[kind] for kind in kinds) if pending else None,
        pending=tuple(pending),
        n100_offences=unrecorded_rapes,
        referred_to_action_fraud=tuple(sorted_offences.fraud),
    )
