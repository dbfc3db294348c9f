"""A person's decision on a pending contact, as a pure function: what it records, and what makes it invalid."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate, ReportedOffence, ReporterRelationship
from schemas.events import Outcome
from services.recorder.rules.decision import Decision, decide, rules_version
from services.runtime.refusals import Refused

Unit = tuple[str | None, ...]


def unit(victim_ref: str | None, ho_class: str, incident_ref: str | None) -> Unit:
    """What a crime counts once for: a victim in an incident, or (no victim) an offence in an incident."""
    return ("victim", victim_ref, incident_ref) if victim_ref is not None else ("state", ho_class, incident_ref)


@dataclass(frozen=True)
class Resolution:
    """A person's decision on a pending contact."""

    outcome: Outcome
    rationale: str
    offences: Sequence[ReportedOffence] = ()
    credible_evidence: str | None = None
    closing_category: str | None = None


@dataclass(frozen=True)
class Pending:
    """What is known of the pending contact being decided: its account, its deadline, whether it has an N100, and the
    crimes first contact already recorded for it (by the unit each counts for)."""

    contact: ContactCreate
    recording_deadline: datetime
    n100: bool
    recorded: Sequence[tuple[Unit, str]]
    """(unit, crime reference) of each crime already recorded for the contact."""


def resolve(
    pending: Pending, resolution: Resolution, *, catalogue: OffenceCatalogue, limit: timedelta
) -> Refused | Decision:
    """The decision a person's resolution amounts to; the recording deadline never resets."""
    match resolution.outcome:
        case Outcome.RECORDED:
            return _record(pending, resolution, catalogue=catalogue, limit=limit)
        case Outcome.CRI:
            if not (resolution.credible_evidence or "").strip():
                return _invalid("A CRI needs the credible evidence to the contrary.",
                                "credible_evidence", "required for a crime-related incident")  # fmt: skip
            rationale = f"{resolution.rationale} Credible evidence to the contrary: {resolution.credible_evidence}"
        case Outcome.NON_CRIME:
            if not (resolution.closing_category or "").strip():
                return _invalid("A non-crime decision needs the NSIR closing category.",
                                "closing_category", "required for a non-crime incident")  # fmt: skip
            rationale = f"{resolution.rationale} NSIR closing category: {resolution.closing_category}"
        case Outcome.N100:
            rationale = resolution.rationale
        case _:
            return Refused(422, "Request is not valid", "A pending contact cannot be decided as pending again.")
    return Decision(
        outcome=resolution.outcome,
        crimes=(),
        rationale=rationale,
        recording_deadline=pending.recording_deadline,
        n100=pending.n100 or resolution.outcome is Outcome.N100,
        rules_version=rules_version(catalogue),
    )


def _invalid(detail: str, field: str, why: str) -> Refused:
    return Refused(422, "Request is not valid", detail, ((field, why),))


def _record(
    pending: Pending, resolution: Resolution, *, catalogue: OffenceCatalogue, limit: timedelta
) -> Refused | Decision:
    """Records the offences the person confirmed; the rules still do the counting (HOCR sections D to F)."""
    contact = pending.contact
    refs = {v.ref for v in contact.victims}
    errors = [
        (f"offences.{i}.victim_ref", f"{o.victim_ref} is not a victim of this contact")
        for i, o in enumerate(resolution.offences)
        if o.victim_ref is not None and o.victim_ref not in refs
    ]
    if errors:
        return Refused(422, "Request is not valid", "; ".join(m for _, m in errors), tuple(errors))
    confirmed = contact.model_copy(
        update={
            "offences": list(resolution.offences),
            "victims": [v.model_copy(update={"identified": True, "confirmed": True}) for v in contact.victims],
            "reporter": contact.reporter.model_copy(update={"relationship": ReporterRelationship.POLICE}),
            "credible_evidence_to_contrary": None,
        }
    )
    counted = decide(confirmed, catalogue=catalogue, limit=limit)
    if counted.outcome is not Outcome.RECORDED or not counted.crimes:
        problems = counted.problems or (counted.rationale,)
        return Refused(
            422, "Cannot record these offences", "; ".join(problems), tuple(("offences", p) for p in problems)
        )
    # A mixed contact already has the crimes first contact could record; one crime per victim per incident (HOCR D,
    # E) means those units are not recorded again (a class change is a reclassification).
    recorded_units = {u for u, _ in pending.recorded}
    new_crimes = tuple(
        c for c in counted.crimes if unit(c.victim_ref, c.ho_class, c.incident_ref) not in recorded_units
    )
    if not new_crimes:
        return Refused(
            422, "Already recorded",
            "Every crime these offences amount to is already recorded for this contact; to change a class, "
            "reclassify the crime.",
            (("offences", "already recorded: " + ", ".join(r for _, r in pending.recorded)),),
        )  # fmt: skip
    return Decision(
        outcome=Outcome.RECORDED,
        crimes=new_crimes,
        rationale=resolution.rationale,
        recording_deadline=pending.recording_deadline,  # the clock never resets
        transfer_to=counted.transfer_to,
        n100=counted.n100 or pending.n100,
        rules_version=counted.rules_version,
    )
