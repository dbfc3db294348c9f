"""The auditor's work: project every event, judge it by the rules the moment a breach can be known, and sweep the
deadlines the clock has passed; raising and curing flags is the ledger's, the contact projection `projection`'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from schemas.envelope import Envelope
from schemas.events import (
    ContactScreened,
    CrimeCancelled,
    CrimeReclassified,
    CrimeTransferred,
    EventPayload,
    N100Recorded,
    ScreeningReviewed,
    VictimNotified,
)
from services.auditor import audit_repository, repository, screening_repository, screenings, stats_repository
from services.auditor.ledger import FlagLedger, cure, raise_flags
from services.auditor.projection import Projected, project_run
from services.auditor.rules import cancellations, detectors, statistics
from services.auditor.rules.facts import Removal
from services.auditor.rules.flags import Rule
from services.auditor.rules.sampling import draw_sample, stratum_of
from services.auditor.rules.standard import Standard
from services.runtime import clock
from services.runtime.messaging import UnitOfWork


async def on_events(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]], *, standard: Standard) -> None:
    """Projects a run of events, in order, and judges what each makes knowable, as if handled one at a time."""
    run: list[tuple[Envelope, Projected]] = []
    for envelope, payload in events:
        if isinstance(payload, Projected):
            run.append((envelope, payload))
            continue
        await project_run(uow, run, standard)
        run = []
        await _on_other(uow, envelope, payload, standard)
    await project_run(uow, run, standard)
    if standard.event_time and uow.watermark is not None and events:
        # Replaying: the deadlines the event time has passed — on every partition, not just this one — fire as the
        # wall clock would have fired them live. The judgement is as things stood at each deadline, by the events'
        # own times, so it does not matter that the run was projected first.
        watermark = uow.watermark(max(envelope.occurred_at for envelope, _ in events))
        if watermark is not None:
            await sweep_deadlines(uow, now=watermark, standard=standard)


async def on_event(uow: UnitOfWork, envelope: Envelope, payload: EventPayload, *, standard: Standard) -> None:
    """Projects one event and judges what it makes knowable."""
    await on_events(uow, [(envelope, payload)], standard=standard)


async def _on_other(uow: UnitOfWork, envelope: Envelope, payload: EventPayload, standard: Standard) -> None:
    match payload:
        case CrimeCancelled() | CrimeTransferred():
            await _removed(uow, envelope, payload, standard)
        case CrimeReclassified():
            await _reclassified(uow, envelope, payload, standard)
        case N100Recorded():
            await repository.insert_n100(
                uow.session, n100_id=payload.n100_id, contact_id=payload.contact_id, force=payload.force,
                recorded_at=payload.recorded_at,
            )  # fmt: skip
            await cure(uow, Rule.RAPE_WITHOUT_N100, str(payload.contact_id), envelope, "an N100 was recorded")
        case VictimNotified():
            await repository.insert_notification(
                uow.session, event_id=envelope.event_id, crime_reference=payload.crime_reference,
                notified_at=payload.notified_at,
            )  # fmt: skip
            ledger = FlagLedger()
            for removal in await repository.removals_of(uow.session, payload.crime_reference):
                if payload.notified_at <= removal.notify_by:
                    ledger.cure(
                        Rule.CANCELLATION_VICTIM_NOT_TOLD, str(removal.event_id), envelope,
                        f"the victim was told on {payload.notified_at.isoformat()}",
                    )  # fmt: skip
            await ledger.write(uow)
        case ContactScreened():
            await screenings.screened(uow, payload)
        case ScreeningReviewed():
            await screenings.reviewed(uow, envelope, payload)


async def _removed(
    uow: UnitOfWork, envelope: Envelope, removal: CrimeCancelled | CrimeTransferred, standard: Standard
) -> None:
    kind = "transferred" if isinstance(removal, CrimeTransferred) else "cancelled"
    session = uow.session
    duplicate = removal.grounds.duplicate_of
    live = set()
    if duplicate and await repository.crime_is_live(session, crime_reference=duplicate, force=removal.force):
        live.add(duplicate)
    row = {
        "event_id": envelope.event_id,
        "crime_reference": removal.crime_reference,
        "contact_id": removal.contact_id,
        "force": removal.force,
        "kind": kind,
        "code": removal.grounds.code.value,
        "audit_category": removal.audit_category.value,
        "ho_class": removal.ho_class,
        "removed_at": removal.authorised_at,
        "notify_by": removal.authorised_at + standard.policy.victim_notice,
        "victim_told": bool(removal.victim_informed),
        "detail": {
            "grounds": removal.grounds.model_dump(mode="json"),
            "requested_by": removal.requested_by.model_dump(mode="json") if removal.requested_by else None,
            "authorised_by": removal.authorised_by.model_dump(mode="json") if removal.authorised_by else None,
            "authority_mode": removal.authority_mode.value,
            "request_id": str(removal.request_id) if removal.request_id else None,
            "victim_informed_at": removal.victim_informed_at.isoformat() if removal.victim_informed_at else None,
        },
    }
    # Judged from the row as stored, so a removal reads the same now as when its notice limit is swept.
    fact = _removal_fact(row)
    grounds = cancellations.cancellation_without_grounds(fact, live_crimes=live)
    authority = cancellations.cancellation_wrong_authority(fact, policy=standard.policy)
    await repository.update_crime(session, removal.crime_reference, status=kind)
    await repository.insert_removal(session, **row, judged_correct=not grounds and not authority)
    await stats_repository.refresh_units(session, [removal.contact_id])
    drafts = [*grounds, *authority, *cancellations.high_risk_cancellation(fact)]
    await raise_flags(
        uow, drafts, force=removal.force, contact_id=removal.contact_id, at=removal.authorised_at, envelope=envelope
    )


async def _reclassified(uow: UnitOfWork, envelope: Envelope, change: CrimeReclassified, standard: Standard) -> None:
    await repository.update_crime(
        uow.session, change.crime_reference, ho_class=change.new_class, audit_category=change.new_audit_category.value
    )
    await stats_repository.refresh_units(uow.session, [change.contact_id])
    drafts = detectors.downgrade(
        contact_id=str(change.contact_id),
        crime_reference=change.crime_reference,
        event_id=str(envelope.event_id),
        previous_class=change.previous_class,
        new_class=change.new_class,
        new_information=change.new_information,
        catalogue=standard.catalogue,
    )
    for draft in drafts:
        draft.evidence["reclassified_by"] = change.reclassified_by.model_dump(mode="json")
        draft.evidence["reason"] = change.reason
    await raise_flags(
        uow, drafts, force=change.force, contact_id=change.contact_id, at=change.reclassified_at, envelope=envelope
    )


# ------------------------------------------------------------------------------------------------ deadlines


async def sweep_deadlines(uow: UnitOfWork, *, now: datetime, standard: Standard) -> int:
    """Judges every contact whose recording deadline, every positive narrative screen whose review deadline, and
    every removal whose victim-notice limit, `now` has passed; returns how many it judged."""
    session = uow.session
    ledger = FlagLedger()
    due = await repository.contacts_due(session, now=now)
    states = await repository.contact_states(session, due)
    for contact_id in due:
        state = states.get(contact_id)
        if state is None or state.recording_deadline is None:
            continue
        drafts = detectors.missing_record(state, now=now, catalogue=standard.catalogue)
        ledger.raise_(drafts, force=state.force, contact_id=contact_id, at=state.recording_deadline)
    if due:
        await repository.mark_deadline_checked(session, due)
        await stats_repository.refresh_units(session, due)
    removals = await repository.removals_due(session, now=now)
    told = await repository.notifications_for(session, {row.crime_reference for row in removals})
    for row in removals:
        drafts = cancellations.victim_not_told(
            _removal_fact(row._asdict()), notified_at=told.get(row.crime_reference, []), now=now, policy=standard.policy
        )
        ledger.raise_(drafts, force=row.force, contact_id=row.contact_id, at=row.notify_by)
    if removals:
        await repository.mark_notice_checked(session, [r.event_id for r in removals])
    screens = await screenings.sweep(uow, ledger, now=now)
    await ledger.write(uow)
    return len(due) + len(removals) + screens


def _removal_fact(row: Mapping[str, Any]) -> Removal:
    """A removal as stored (its columns and detail), as the cancellation rules read it."""
    detail = row["detail"]
    return Removal(
        event_id=str(row["event_id"]),
        kind=row["kind"],
        crime_reference=row["crime_reference"],
        contact_id=str(row["contact_id"]),
        force=row["force"],
        ho_class=row["ho_class"],
        audit_category=row["audit_category"],
        code=row["code"],
        grounds=detail.get("grounds") or {},  # none stored: no grounds (and a sweep never stalls on such a row)
        request_id=detail.get("request_id"),
        requested_by=detail.get("requested_by"),
        authorised_by=detail.get("authorised_by"),
        authority_mode=detail.get("authority_mode", "enforce"),
        removed_at=row["removed_at"],
        victim_informed=row["victim_told"],
        victim_informed_at=datetime.fromisoformat(told) if (told := detail.get("victim_informed_at")) else None,
    )


# ------------------------------------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class RecordingStatistics:
    """The inspectorate's recording measures for a force and period."""

    tally: statistics.RecordingTally
    recorded_12_months: int


async def recording_statistics(
    session: AsyncSession, *, force: str, start: datetime, end: datetime, width: timedelta | None = None
) -> list[tuple[datetime, datetime, RecordingStatistics]]:
    """Crimes recorded ÷ crimes that should have been recorded, from the contacts received in the period, for the
    whole period or for each part of it `width` long (the last may be shorter): one pass over the contacts, one
    over the screens and one over a year of crimes, however many parts."""
    step = width or end - start
    periods: list[tuple[datetime, datetime]] = []
    while (at := start + step * len(periods)) < end:
        periods.append((at, min(at + step, end)))
    tallies = [statistics.RecordingTally() for _ in periods]
    for row in await stats_repository.recording_tally(session, force=force, start=start, end=end, width=step):
        tally = tallies[row.bucket]
        tally.should[row.category] += int(row.should)
        tally.correct[row.category] += int(row.correct)
        tally.recorded += int(row.recorded)
        tally.on_time += int(row.on_time)
    for screen in await screening_repository.undecided_between(session, force=force, start=start, end=end):
        tallies[int((screen.received_at - start) / step)].add_undecided(screen.families)
    year = timedelta(days=365)
    recorded = await stats_repository.crimes_recorded_in(
        session, force=force, windows=[(b - year, b) for _, b in periods]
    )
    return [
        (a, b, RecordingStatistics(tally=tally, recorded_12_months=count))
        for (a, b), tally, count in zip(periods, tallies, recorded, strict=True)
    ]


# ------------------------------------------------------------------------------------------------ sample audits


async def draw_audit(
    session: AsyncSession,
    *,
    force: str,
    by: str,
    period_from: datetime,
    period_to: datetime,
    size: int,
    stratify: bool,
    seed: int,
    standard: Standard,
) -> tuple[UUID, list[str]]:
    """Draws and stores a reproducible random sample of a force's contacts received in the period (stratified by
    the audit category of the most serious reported offence, if asked); the audit and the contacts sampled."""
    rows = await repository.contacts_received(session, force=force, start=period_from, end=period_to)
    population = [
        (str(r.contact_id), stratum_of([o["ho_class"] for o in r.facts["offences"]], standard.catalogue)) for r in rows
    ]
    sample = draw_sample(population, size=size, seed=seed, stratify=stratify)
    audit_id = uuid4()
    await audit_repository.insert_audit(
        session,
        {
            "audit_id": audit_id, "force": force, "created_by": by, "created_at": clock.now(),
            "period_from": period_from, "period_to": period_to, "size": size, "stratified": stratify, "seed": seed,
            "population": len(population),
        },
        [
            {"audit_id": audit_id, "item_no": n, "contact_id": UUID(cid), "stratum": stratum}
            for n, (cid, stratum) in enumerate(sample, start=1)
        ],
    )  # fmt: skip
    return audit_id, [contact_id for contact_id, _ in sample]
