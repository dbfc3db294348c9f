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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from schemas.catalogue import AuditCategory, OffenceCatalogue, is_force
from schemas.contacts import ContactCreate, IncidentCategory, ReportedOffence, ReporterRelationship, Victim
from schemas.events import Outcome
from services.recorder.rules.counting import CrimeToRecord, count_crimes
from services.recorder.rules.policy import DEFAULT_POLICY, RecordingPolicy

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

RULES_VERSION: Final = "ncrs-2026.1"
"""The version of these rules; a decision stores it with the catalogue's version (see rules_version)."""

MAX_PROBLEMS: Final = 200
MAX_PROBLEM_CHARS: Final = 1000
MAX_RATIONALE_CHARS: Final = 10_000
MAX_DETAIL_LINES: Final = 60
MAX_N100_LINES: Final = 10
# The bounds of ContactDecided (problems, rationale): a decision must always fit in its event.


class PendingKind(StrEnum):
    """Why part of a contact waits for a person's decision."""

    NO_OFFENCE_CLASSIFIED = "no_offence_classified"
    CLASS_NOT_RECORDABLE = "class_not_recordable"
    NO_VICTIM_NAMED = "no_victim_named"
    VICTIM_NOT_IDENTIFIED = "victim_not_identified"
    VICTIM_NOT_CONFIRMED = "victim_not_confirmed"
    POINTS_TO_PROVE = "points_to_prove"
    FORCE_AREA_UNKNOWN = "force_area_unknown"
    HELD_BY_POLICY = "held_by_policy"


_PENDING_SUMMARY: Final[dict[PendingKind, str]] = {
    PendingKind.NO_OFFENCE_CLASSIFIED: "no offence classified",
    PendingKind.CLASS_NOT_RECORDABLE: "a class the force may not record under",
    PendingKind.NO_VICTIM_NAMED: "a victim-based offence naming no victim",
    PendingKind.VICTIM_NOT_IDENTIFIED: "a victim not identified",
    PendingKind.VICTIM_NOT_CONFIRMED: "a third-party report the victim has not confirmed",
    PendingKind.POINTS_TO_PROVE: "an offence against the state whose points to prove are not made out",
    PendingKind.FORCE_AREA_UNKNOWN: "a force area crimerec does not know",
    PendingKind.HELD_BY_POLICY: "crimes held by force policy until the whole contact is decided",
}


@dataclass(frozen=True)
class PendingItem:
    """One thing in a contact that a person must decide, where it is, and why the rules cannot decide it."""

    kind: PendingKind
    where: str
    """Where in the contact, as in problems: victims.V2, offences.3.ho_class, location.force_area."""
    reason: str
    offences: tuple[int, ...] = ()
    """Indices into contact.offences that wait on this item."""
    victim_ref: str | None = None
    ho_class: str | None = None
    """The class the crime would be recorded under (the principal one), when there is one."""
    incident_ref: str | None = None

    @property
    def problem(self) -> str:
        """The item as one line of Decision.problems."""
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Decision:
    """The recording decision for one contact, with its reasons."""

    outcome: Outcome
    crimes: tuple[CrimeToRecord, ...]
    """The crimes to record now, principal crime first; also under outcome pending (a mixed contact)."""
    rationale: str
    recording_deadline: datetime
    problems: tuple[str, ...] = ()
    """What a person must decide, one line each ('where: why'); empty unless the outcome is pending."""
    transfer_to: str | None = None
    """The force the recorded crimes are transferred to (committed in its area; HOCR G, cancellation C1)."""
    n100: bool = False
    rules_version: str = field(default=RULES_VERSION)
    """decide() always sets this to rules_version(catalogue, policy)."""
    decision_deadline: datetime | None = None
    """When a pending decision must be made: the recording deadline, which is never reset."""
    pending_reason: str | None = None
    """In a few words, why the contact is pending."""
    pending: tuple[PendingItem, ...] = ()
    n100_offences: tuple[int, ...] = ()
    """Indices into contact.offences of the reported rapes not recorded at once as rape."""
    referred_to_action_fraud: tuple[int, ...] = ()
    """Indices into contact.offences of the frauds the force does not record (Action Fraud does)."""
    closing_category: IncidentCategory | None = None
    """The NSIR category a non-crime incident is closed in."""
    credible_evidence: str | None = None
    """A CRI for credible evidence to the contrary: that evidence, as reported (ContactDecided.credible_evidence)."""


def recording_deadline(received_at: datetime, limit: timedelta) -> datetime:
    """NCRS: recorded within the limit (default 24 h) of the report; the clock starts at receipt, never resets."""
    return received_at + limit


def rules_version(catalogue: OffenceCatalogue, policy: RecordingPolicy = DEFAULT_POLICY) -> str:
    """The version a decision is made by: these rules, the catalogue's content and, if not the default, the policy."""
    version = f"{RULES_VERSION}+{catalogue.version}"
    if policy is not DEFAULT_POLICY and (digest := policy.digest()) != DEFAULT_POLICY.digest():
        version += f".p{digest}"
    return version


# ------------------------------------------------------------------------------------------------------- words

_REPORTER_WORDS: Final[dict[ReporterRelationship, str]] = {
    ReporterRelationship.VICTIM: "the victim",
    ReporterRelationship.ACTING_FOR_VICTIM: "someone acting for the victim",
    ReporterRelationship.WITNESS: "a witness",
    ReporterRelationship.THIRD_PARTY: "a third party",
    ReporterRelationship.PROFESSIONAL: "a professional",
    ReporterRelationship.POLICE: "the police",
}

_CATEGORY_WORDS: Final[dict[IncidentCategory, str]] = {
    IncidentCategory.CRIME: "crime",
    IncidentCategory.ASB: "anti-social behaviour",
    IncidentCategory.PUBLIC_SAFETY: "public safety and welfare",
    IncidentCategory.TRANSPORT: "transport",
}


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def _class_label(code: str, catalogue: OffenceCatalogue) -> str:
    offence = catalogue.get(code)
    return f"{code} ({offence.name})" if offence is not None else f"{code} (not in the catalogue)"


def _labels(codes: Iterable[str], catalogue: OffenceCatalogue) -> str:
    return ", ".join(_class_label(code, catalogue) for code in codes)


def _incident_words(incident_ref: str | None) -> str:
    return "" if incident_ref is None else f" in incident '{incident_ref}'"


def _limit_words(limit: timedelta) -> str:
    hours = limit.total_seconds() / 3600
    return f"{format(hours, 'g')}-hour"


def _bounded_problems(items: Sequence[PendingItem]) -> tuple[str, ...]:
    lines = [_shorten(item.problem, MAX_PROBLEM_CHARS) for item in items]
    if len(lines) > MAX_PROBLEMS:
        rest = len(lines) - (MAX_PROBLEMS - 1)
        lines = [
            *lines[: MAX_PROBLEMS - 1],
            f"and {rest} more of the same kinds, listed in the decision's pending items",
        ]
    return tuple(lines)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rationale(head: Sequence[str], details: Sequence[str], tail: Sequence[str] = ()) -> str:
    """Plain English for a supervisor: what was decided, then each crime or open matter, then transfer and N100."""
    shown = list(details[:MAX_DETAIL_LINES])
    if len(details) > MAX_DETAIL_LINES:
        shown.append(f"- … and {len(details) - MAX_DETAIL_LINES} more, listed in the decision.")
    return _shorten("\n".join([*head, *shown, *tail]), MAX_RATIONALE_CHARS)


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
        f"{offence.victim_ref} has not confirmed what {_REPORTER_WORDS[reporter]} reported: NCRS records a "
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
                f"an offence against the state reported by {_REPORTER_WORDS[reporter]}: NCRS records it when the "
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


def _waiting_line(item: PendingItem, catalogue: OffenceCatalogue) -> str:
    what = ""
    if item.ho_class is not None and item.kind is not PendingKind.CLASS_NOT_RECORDABLE:
        what = f", {_class_label(item.ho_class, catalogue)}{_incident_words(item.incident_ref)}"
    return f"- Waiting: {item.where}{what}: {item.reason}."


def _crime_line(
    crime: CrimeToRecord, contact: ContactCreate, catalogue: OffenceCatalogue, policy: RecordingPolicy
) -> str:
    entry = catalogue.get(crime.ho_class)
    where = _incident_words(crime.incident_ref)
    offenders = f", offender {', '.join(crime.offender_refs)}" if crime.offender_refs else ""
    if entry is not None and not entry.victim_based:
        line = (
            f"- Against the state: {_class_label(crime.ho_class, catalogue)}{where}{offenders}; the points to prove "
            f"are made out by {_REPORTER_WORDS[contact.reporter.relationship]} (NCRS)."
        )
        if crime.absorbed:
            line += f" Reported {len(crime.counted_offences)} times in the incident, counted once."
        return line
    victim = next((v for v in contact.victims if v.ref == crime.victim_ref), None)
    kind = f" ({victim.kind.value})" if victim is not None else ""
    if contact.reporter.relationship in policy.victim_account_relationships:
        account = f"reported by {_REPORTER_WORDS[contact.reporter.relationship]}"
    else:
        account = f"confirmed by the victim after a report by {_REPORTER_WORDS[contact.reporter.relationship]}"
    line = f"- {crime.victim_ref}{kind}: {_class_label(crime.ho_class, catalogue)}{where}{offenders}, {account}; " + (
        "one crime for this victim (HOCR section D)."
        if crime.incident_ref is None
        else "one crime for this victim in this incident (HOCR sections D and E)."
    )
    if crime.absorbed:
        line += (
            f" Counted within it as one finished incident against the same victim: "
            f"{_labels(crime.absorbed, catalogue)} (HOCR sections E and F: the principal crime is the most serious)."
        )
    return line


def _without_offences(contact: ContactCreate, deadline: datetime, version: str, limit: timedelta) -> Decision:
    category = contact.incident.category
    if category is not IncidentCategory.CRIME:
        # NSIR: not crime-related at all; the incident is closed in its category (example 09).
        return Decision(
            outcome=Outcome.NON_CRIME,
            crimes=(),
            rationale=(
                f"Non-crime incident: the report discloses no notifiable offence; closed in the NSIR category "
                f"{_CATEGORY_WORDS[category]} ({category.value})."
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
            f"{deadline.isoformat()} (the {_limit_words(limit)} recording clock started at receipt, "
            f"{contact.received_at.isoformat()}, and is not reset)."
        ),
        recording_deadline=deadline,
        problems=(item.problem,),
        rules_version=version,
        decision_deadline=deadline,
        pending_reason=_PENDING_SUMMARY[item.kind],
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
        rationale=_rationale(
            [
                "Crime-related incident (CRI): credible evidence to the contrary is immediately available: "
                f'"{contact.credible_evidence_to_contrary}"',
                f"Reported: {_labels(codes, catalogue)}. On the balance of probability the NCRS test is not met, "
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


def _n100_lines(
    unrecorded: tuple[int, ...],
    crimes: Sequence[CrimeToRecord],
    transfer_to: str | None,
    contact: ContactCreate,
    catalogue: OffenceCatalogue,
) -> list[str]:
    lines = []
    for index in unrecorded:
        offence = contact.offences[index]
        crime = next((crime for crime in crimes if index in crime.counted_offences), None)
        if crime is None:
            why = "is not recorded at once as a rape crime: it waits for a person's decision"
        elif transfer_to is not None:
            why = f"is recorded here and transferred to {transfer_to}, so an N100 record stays behind (cancellation C1)"
        else:
            why = (
                f"is counted within the more serious principal crime {_class_label(crime.ho_class, catalogue)} "
                "(HOCR section F), so it is not recorded as rape"
            )
        against = f" against {offence.victim_ref}" if offence.victim_ref else ""
        lines.append(f"N100: the reported rape {_class_label(offence.ho_class, catalogue)}{against} {why}.")
    if len(lines) > MAX_N100_LINES:
        lines = [*lines[:MAX_N100_LINES], f"N100: and {len(lines) - MAX_N100_LINES} more reported rapes likewise."]
    return lines


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

    # HOCR section G and Annex A: a crime committed in another force's area is recorded by the force that
    # received it and transferred to that force (cancellation C1); the clock is not reset by the transfer.
    area = contact.location.force_area
    transfer_to: str | None = None
    out_of_area = area is not None and area != contact.force
    if area is not None and out_of_area and (crimes or pending):
        if is_force(area):
            transfer_to = area if crimes else None
        else:
            pending.append(
                PendingItem(
                    kind=PendingKind.FORCE_AREA_UNKNOWN,
                    where="location.force_area",
                    reason=f"{area} is not a force crimerec knows: a person must say which force the crimes are "
                    "transferred to (HOCR section G)",
                )
            )

    unrecorded_rapes = _unrecorded_rapes(rapes, crimes, transfer_to, catalogue)
    if pending:
        outcome = Outcome.PENDING
    elif crimes:
        outcome = Outcome.RECORDED
    else:
        # Only fraud is left: crime-related, but not the force's to record (Action Fraud records it nationally).
        outcome = Outcome.CRI

    head: list[str] = []
    details: list[str] = []
    tail: list[str] = []
    reporter = _REPORTER_WORDS[contact.reporter.relationship]
    if outcome is Outcome.PENDING:
        head.append(
            f"Pending: {_plural(len(pending), 'matter')} must be decided by a person by {deadline.isoformat()} (the "
            f"{_limit_words(limit)} recording clock started at receipt, {contact.received_at.isoformat()}, and is "
            "not reset)."
        )
        details.extend(_waiting_line(item, catalogue) for item in pending)
        if crimes:
            head.append(
                f"Recorded at first contact all the same, on the account reported by {reporter}: "
                f"{_plural(len(crimes), 'crime')} (recording never waits for the rest)."
            )
    elif outcome is Outcome.RECORDED:
        head.append(
            f"Recorded at first contact (NCRS): {_plural(len(crimes), 'crime')}. The circumstances as reported by "
            f"{reporter} amount to notifiable offences and there is no credible evidence to the contrary."
        )
    else:
        head.append(
            "Crime-related incident (CRI): the report discloses only fraud, which Action Fraud records nationally; "
            "the force records no crime and refers the victim to Action Fraud."
        )
    details.extend(_crime_line(crime, contact, catalogue, policy) for crime in crimes)
    if sorted_offences.fraud and outcome is not Outcome.CRI:
        frauds = dict.fromkeys(contact.offences[i].ho_class for i in sorted_offences.fraud)
        tail.append(
            f"Not recorded by the force: {_labels(frauds, catalogue)} is fraud, recorded nationally by Action Fraud; "
            "the victim is referred to Action Fraud."
        )
    elif outcome is Outcome.CRI:
        frauds = dict.fromkeys(contact.offences[i].ho_class for i in sorted_offences.fraud)
        details.append(f"- Fraud reported: {_labels(frauds, catalogue)}.")
    if transfer_to is not None:
        tail.append(
            f"Committed in {transfer_to}'s area: recorded here at first contact and transferred to {transfer_to} "
            "(HOCR section G, cancellation C1); the recording clock is not reset."
        )
    elif out_of_area and area is not None and is_force(area) and pending:
        tail.append(f"Committed in {area}'s area: whatever is recorded is then transferred to {area} (HOCR G).")
    if contact.incident.category is not IncidentCategory.CRIME:
        tail.append(
            f"Opened as NSIR {_CATEGORY_WORDS[contact.incident.category]}, but the report discloses notifiable "
            "offences, so NCRS decides it (the closing category may differ from the opening one)."
        )
    tail.extend(_n100_lines(unrecorded_rapes, crimes, transfer_to, contact, catalogue))

    kinds = dict.fromkeys(item.kind for item in pending)
    return Decision(
        outcome=outcome,
        crimes=crimes,
        rationale=_rationale(head, details, tail),
        recording_deadline=deadline,
        problems=_bounded_problems(pending),
        transfer_to=transfer_to,
        n100=bool(unrecorded_rapes),
        rules_version=version,
        decision_deadline=deadline if pending else None,
        pending_reason="; ".join(_PENDING_SUMMARY[kind] for kind in kinds) if pending else None,
        pending=tuple(pending),
        n100_offences=unrecorded_rapes,
        referred_to_action_fraud=tuple(sorted_offences.fraud),
    )
