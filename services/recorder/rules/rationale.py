"""The plain English of a decision's rationale: what was decided, each crime or open matter, transfer and N100."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

from schemas.catalogue import OffenceCatalogue, is_force
from schemas.contacts import ContactCreate, IncidentCategory, ReporterRelationship
from schemas.events import Outcome
from services.recorder.rules.counting import CrimeToRecord
from services.recorder.rules.outcome import PendingItem, PendingKind
from services.recorder.rules.policy import RecordingPolicy

MAX_PROBLEMS: Final = 200
MAX_PROBLEM_CHARS: Final = 1000
MAX_RATIONALE_CHARS: Final = 10_000
MAX_DETAIL_LINES: Final = 60
MAX_N100_LINES: Final = 10
# The bounds of ContactDecided (problems, rationale): a decision must always fit in its event.


REPORTER_WORDS: Final[dict[ReporterRelationship, str]] = {
    ReporterRelationship.VICTIM: "the victim",
    ReporterRelationship.ACTING_FOR_VICTIM: "someone acting for the victim",
    ReporterRelationship.WITNESS: "a witness",
    ReporterRelationship.THIRD_PARTY: "a third party",
    ReporterRelationship.PROFESSIONAL: "a professional",
    ReporterRelationship.POLICE: "the police",
}

CATEGORY_WORDS: Final[dict[IncidentCategory, str]] = {
    IncidentCategory.CRIME: "crime",
    IncidentCategory.ASB: "anti-social behaviour",
    IncidentCategory.PUBLIC_SAFETY: "public safety and welfare",
    IncidentCategory.TRANSPORT: "transport",
}


def plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def class_label(code: str, catalogue: OffenceCatalogue) -> str:
    offence = catalogue.get(code)
    return f"{code} ({offence.name})" if offence is not None else f"{code} (not in the catalogue)"


def labels(codes: Iterable[str], catalogue: OffenceCatalogue) -> str:
    return ", ".join(class_label(code, catalogue) for code in codes)


def incident_words(incident_ref: str | None) -> str:
    return "" if incident_ref is None else f" in incident '{incident_ref}'"


def limit_words(limit: timedelta) -> str:
    hours = limit.total_seconds() / 3600
    return f"{format(hours, 'g')}-hour"


def bounded_problems(items: Sequence[PendingItem]) -> tuple[str, ...]:
    lines = [shorten(item.problem, MAX_PROBLEM_CHARS) for item in items]
    if len(lines) > MAX_PROBLEMS:
        rest = len(lines) - (MAX_PROBLEMS - 1)
        lines = [
            *lines[: MAX_PROBLEMS - 1],
            f"and {rest} more of the same kinds, listed in the decision's pending items",
        ]
    return tuple(lines)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rationale(head: Sequence[str], details: Sequence[str], tail: Sequence[str] = ()) -> str:
    """Plain English for a supervisor: what was decided, then each crime or open matter, then transfer and N100."""
    shown = list(details[:MAX_DETAIL_LINES])
    if len(details) > MAX_DETAIL_LINES:
        shown.append(f"- … and {len(details) - MAX_DETAIL_LINES} more, listed in the decision.")
    return shorten("\n".join([*head, *shown, *tail]), MAX_RATIONALE_CHARS)


def waiting_line(item: PendingItem, catalogue: OffenceCatalogue) -> str:
    what = ""
    if item.ho_class is not None and item.kind is not PendingKind.CLASS_NOT_RECORDABLE:
        what = f", {class_label(item.ho_class, catalogue)}{incident_words(item.incident_ref)}"
    return f"- Waiting: {item.where}{what}: {item.reason}."


def crime_line(
    crime: CrimeToRecord, contact: ContactCreate, catalogue: OffenceCatalogue, policy: RecordingPolicy
) -> str:
    entry = catalogue.get(crime.ho_class)
    where = incident_words(crime.incident_ref)
    offenders = f", offender {', '.join(crime.offender_refs)}" if crime.offender_refs else ""
    if entry is not None and not entry.victim_based:
        line = (
            f"- Against the state: {class_label(crime.ho_class, catalogue)}{where}{offenders}; the points to prove "
            f"are made out by {REPORTER_WORDS[contact.reporter.relationship]} (NCRS)."
        )
        if crime.absorbed:
            line += f" Reported {len(crime.counted_offences)} times in the incident, counted once."
        return line
    victim = next((v for v in contact.victims if v.ref == crime.victim_ref), None)
    kind = f" ({victim.kind.value})" if victim is not None else ""
    if contact.reporter.relationship in policy.victim_account_relationships:
        account = f"reported by {REPORTER_WORDS[contact.reporter.relationship]}"
    else:
        account = f"confirmed by the victim after a report by {REPORTER_WORDS[contact.reporter.relationship]}"
    line = f"- {crime.victim_ref}{kind}: {class_label(crime.ho_class, catalogue)}{where}{offenders}, {account}; " + (
        "one crime for this victim (HOCR section D)."
        if crime.incident_ref is None
        else "one crime for this victim in this incident (HOCR sections D and E)."
    )
    if crime.absorbed:
        line += (
            f" Counted within it as one finished incident against the same victim: "
            f"{labels(crime.absorbed, catalogue)} (HOCR sections E and F: the principal crime is the most serious)."
        )
    return line


def n100_lines(
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
                f"is counted within the more serious principal crime {class_label(crime.ho_class, catalogue)} "
                "(HOCR section F), so it is not recorded as rape"
            )
        against = f" against {offence.victim_ref}" if offence.victim_ref else ""
        lines.append(f"N100: the reported rape {class_label(offence.ho_class, catalogue)}{against} {why}.")
    if len(lines) > MAX_N100_LINES:
        lines = [*lines[:MAX_N100_LINES], f"N100: and {len(lines) - MAX_N100_LINES} more reported rapes likewise."]
    return lines


def first_contact_rationale(
    contact: ContactCreate,
    *,
    outcome: Outcome,
    crimes: Sequence[CrimeToRecord],
    pending: Sequence[PendingItem],
    frauds: Sequence[int],
    deadline: datetime,
    limit: timedelta,
    transfer_to: str | None,
    unrecorded_rapes: tuple[int, ...],
    catalogue: OffenceCatalogue,
    policy: RecordingPolicy,
) -> str:
    """The rationale of a first-contact decision: the outcome, each crime or open matter, then transfer and N100."""
    head = _outcome_lines(contact, outcome=outcome, crimes=crimes, pending=pending, deadline=deadline, limit=limit)
    details = [waiting_line(item, catalogue) for item in pending] if outcome is Outcome.PENDING else []
    details.extend(crime_line(crime, contact, catalogue, policy) for crime in crimes)
    tail: list[str] = []
    fraud_classes = dict.fromkeys(contact.offences[i].ho_class for i in frauds)
    if frauds and outcome is not Outcome.CRI:
        tail.append(
            f"Not recorded by the force: {labels(fraud_classes, catalogue)} is fraud, recorded nationally by Action "
            "Fraud; the victim is referred to Action Fraud."
        )
    elif outcome is Outcome.CRI:
        details.append(f"- Fraud reported: {labels(fraud_classes, catalogue)}.")
    area = contact.location.force_area
    if transfer_to is not None:
        tail.append(
            f"Committed in {transfer_to}'s area: recorded here at first contact and transferred to {transfer_to} "
            "(HOCR section G, cancellation C1); the recording clock is not reset."
        )
    elif area is not None and area != contact.force and is_force(area) and pending:
        tail.append(f"Committed in {area}'s area: whatever is recorded is then transferred to {area} (HOCR G).")
    if contact.incident.category is not IncidentCategory.CRIME:
        tail.append(
            f"Opened as NSIR {CATEGORY_WORDS[contact.incident.category]}, but the report discloses notifiable "
            "offences, so NCRS decides it (the closing category may differ from the opening one)."
        )
    tail.extend(n100_lines(unrecorded_rapes, crimes, transfer_to, contact, catalogue))
    return rationale(head, details, tail)


def _outcome_lines(
    contact: ContactCreate,
    *,
    outcome: Outcome,
    crimes: Sequence[CrimeToRecord],
    pending: Sequence[PendingItem],
    deadline: datetime,
    limit: timedelta,
) -> list[str]:
    """The first lines of a rationale: what was decided and why."""
    reporter = REPORTER_WORDS[contact.reporter.relationship]
    if outcome is Outcome.RECORDED:
        return [
            f"Recorded at first contact (NCRS): {plural(len(crimes), 'crime')}. The circumstances as reported by "
            f"{reporter} amount to notifiable offences and there is no credible evidence to the contrary."
        ]
    if outcome is not Outcome.PENDING:
        return [
            "Crime-related incident (CRI): the report discloses only fraud, which Action Fraud records nationally; "
            "the force records no crime and refers the victim to Action Fraud."
        ]
    head = [
        f"Pending: {plural(len(pending), 'matter')} must be decided by a person by {deadline.isoformat()} (the "
        f"{limit_words(limit)} recording clock started at receipt, {contact.received_at.isoformat()}, and is "
        "not reset)."
    ]
    if crimes:
        head.append(
            f"Recorded at first contact all the same, on the account reported by {reporter}: "
            f"{plural(len(crimes), 'crime')} (recording never waits for the rest)."
        )
    return head
