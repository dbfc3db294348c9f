"""The life of the auditor's flags: raised once, cured by a later event, acknowledged or resolved by a person;
every step kept in the flag's history, the resumable alert stream and the alerts topic (through the outbox)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import EventPayload, FlagRaised, FlagStatus, FlagUpdated, envelope_for
from services.auditor import repository
from services.auditor.rules.flags import FlagDraft, Rule
from services.runtime import clock
from services.runtime.messaging import UnitOfWork
from services.runtime.refusals import Refused

PRODUCER = "auditor"
CURABLE = frozenset({FlagStatus.OPEN.value, FlagStatus.ACKNOWLEDGED.value})


def flag_payload(
    flag: Mapping[str, Any], model: type[FlagRaised] | type[FlagUpdated], note: str | None
) -> EventPayload:
    """A flag as published on the alerts topic."""
    return model(
        contact_id=flag["contact_id"],
        flag_id=flag["flag_id"],
        rule=flag["rule"],
        severity=flag["severity"],
        force=flag["force"],
        crime_reference=flag["crime_reference"],
        audit_category=flag["audit_category"],
        explanation=flag["explanation"],
        evidence=flag["evidence"],
        raised_at=flag["raised_at"],
        status=FlagStatus(flag["status"]),
        resolution=flag["resolution"],
        note=note,
    )


@dataclass(frozen=True)
class FlagChange:
    """One step in a flag's life, to be kept in its history and announced to supervisors."""

    flag: Mapping[str, Any]  # the flag as it stood after the step
    at: datetime
    by: str | None = None
    note: str | None = None
    cause: Envelope | None = None


async def publish(uow: UnitOfWork, changes: Sequence[FlagChange]) -> None:
    """Keeps each change in its flag's history, the resumable alert stream and the alerts topic (outbox)."""
    history, stream = [], []
    for change in changes:
        flag = change.flag
        raised = flag["status"] == FlagStatus.OPEN.value and change.by is None
        payload = flag_payload(flag, FlagRaised if raised else FlagUpdated, change.note)
        cause = change.cause
        uow.emit(
            topics.ALERTS,
            envelope_for(
                payload,
                producer=PRODUCER,
                correlation_id=cause.correlation_id if cause else flag["contact_id"],
                causation_id=cause.event_id if cause else None,
                occurred_at=clock.when_handling(cause.occurred_at) if cause else clock.now(),
            ),
        )
        history.append(
            {"flag_id": flag["flag_id"], "at": change.at, "status": flag["status"], "by_principal": change.by,
             "note": None if raised else change.note}
        )  # fmt: skip
        stream.append(
            {"flag_id": flag["flag_id"], "force": flag["force"], "rule": flag["rule"], "severity": flag["severity"],
             "at": change.at, "body": {"event": payload.EVENT_TYPE, **payload.model_dump(mode="json")}}
        )  # fmt: skip
    await repository.add_flag_history(uow.session, history)
    await repository.append_alerts(uow.session, stream)


# A ledger step (raise or cure, the flag's rule and subject, its data, the event), and a change it made.
_Step = tuple[str, tuple[str, str], dict[str, Any], Envelope | None]
_Logged = tuple[tuple[str, str], dict[str, Any], datetime, str | None, Envelope | None]


class FlagLedger:
    """The flags a piece of work raises and cures, in order, written together: each rule raises a flag on a
    subject once (a replay raises nothing new), and only an open or acknowledged flag is cured."""

    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def raise_(
        self,
        drafts: Sequence[FlagDraft],
        *,
        force: str,
        contact_id: UUID,
        at: datetime,
        envelope: Envelope | None = None,
    ) -> None:
        """Raises each flag not raised before, with the evidence the detector saw and the event that showed it."""
        for draft in drafts:
            evidence = dict(draft.evidence)
            if envelope is not None:
                evidence.setdefault("event_id", str(envelope.event_id))
                evidence.setdefault("event_type", envelope.event_type)
            flag = {
                "rule": draft.rule.value,
                "severity": draft.severity.value,
                "force": force,
                "contact_id": contact_id,
                "crime_reference": draft.crime_reference,
                "subject": draft.subject,
                "audit_category": draft.audit_category,
                "explanation": draft.explanation,
                "evidence": evidence,
                "raised_at": at,
                "status": FlagStatus.OPEN.value,
                "resolution": None,
                "cured_by": None,
                "updated_at": at,
            }
            self._steps.append(("raise", (draft.rule.value, draft.subject), flag, envelope))

    def cure(self, rule: Rule, subject: str, envelope: Envelope, why: str) -> None:
        """Cures a rule's flag on a subject, if one is open or acknowledged by then, saying by what."""
        cured_by = {"event_id": str(envelope.event_id), "event_type": envelope.event_type, "why": why}
        self._steps.append(("cure", (rule.value, subject), cured_by, envelope))

    async def write(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        """Applies the steps in order to the flags as stored (locked) and writes them; returns the new flags."""
        steps, self._steps = self._steps, []
        if not steps:
            return []
        new, cured, log = await _apply(uow, steps)
        ids = await repository.insert_flags(uow.session, list(new.values()))
        if lost := {key for key in new if key not in ids}:
            # Another consumer raised these between our read and our insert (the insert waited for it to commit):
            # the flags are its to announce, and our steps apply to them as stored now.
            log = [entry for entry in log if entry[0] not in lost]
            _, cured_since, log_since = await _apply(uow, [step for step in steps if step[1] in lost])
            cured |= cured_since
            log += log_since
        await repository.update_flags(uow.session, list(cured.values()))
        changes = []
        for key, flag, at, note, envelope in log:
            changes.append(
                FlagChange(flag=flag | {"flag_id": ids.get(key, flag.get("flag_id"))}, at=at, note=note, cause=envelope)
            )
        await publish(uow, changes)
        return [flag | {"flag_id": ids[key]} for key, flag in new.items() if key in ids]


async def _apply(
    uow: UnitOfWork, steps: Sequence[_Step]
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], dict[str, Any]], list[_Logged]]:
    """Steps applied in order to the flags as stored (locked): the flags to insert, the stored flags cured, and
    each change as it happened."""
    stored = await repository.flags_by_key(uow.session, {key for _, key, _, _ in steps})
    flags = {key: dict(row._mapping) for key, row in stored.items()}
    new: dict[tuple[str, str], dict[str, Any]] = {}
    cured: dict[tuple[str, str], dict[str, Any]] = {}
    log: list[_Logged] = []
    for kind, key, data, envelope in steps:
        if kind == "raise":
            if key not in flags:
                flags[key] = new[key] = dict(data)
                log.append((key, dict(data), data["raised_at"], None, envelope))
        elif (flag := flags.get(key)) is not None and flag["status"] in CURABLE:
            assert envelope is not None
            flag.update(status="cured", cured_by=data, updated_at=envelope.occurred_at)
            if key not in new:
                cured[key] = flag
            log.append((key, dict(flag), envelope.occurred_at, f"cured: {data['why']}", envelope))
    return new, cured, log


async def raise_flags(
    uow: UnitOfWork,
    drafts: Sequence[FlagDraft],
    *,
    force: str,
    contact_id: UUID,
    at: datetime,
    envelope: Envelope | None = None,
) -> list[dict[str, Any]]:
    """Raises each flag not raised before (a replay raises nothing new) and alerts on it; returns the new ones."""
    ledger = FlagLedger()
    ledger.raise_(drafts, force=force, contact_id=contact_id, at=at, envelope=envelope)
    return await ledger.write(uow)


async def cure(uow: UnitOfWork, rule: Rule, subject: str, envelope: Envelope, why: str) -> None:
    """Marks a rule's flag on a subject cured by a later event, saying by what."""
    ledger = FlagLedger()
    ledger.cure(rule, subject, envelope, why)
    await ledger.write(uow)


async def change_flag(
    uow: UnitOfWork,
    *,
    flag_id: int,
    force: str,
    by: str,
    status: FlagStatus,
    resolution: str | None,
    note: str,
    now: datetime,
) -> Row[Any] | Refused:
    """A person acknowledges or resolves a flag; returns the flag, or why it cannot change."""
    flag = await repository.get_flag(uow.session, flag_id, lock=True)
    if flag is None or flag.force != force:
        return Refused(404, "Not found", f"No flag {flag_id}.")
    allowed = {
        FlagStatus.ACKNOWLEDGED: {FlagStatus.OPEN.value},
        FlagStatus.RESOLVED: {FlagStatus.OPEN.value, FlagStatus.ACKNOWLEDGED.value},
    }[status]
    if flag.status not in allowed:
        return Refused(409, "Flag cannot change", f"a {flag.status} flag cannot become {status.value}")
    updated = await repository.set_flag_status(
        uow.session, flag_id=flag_id, status=status.value, resolution=resolution, now=now
    )
    assert updated is not None
    await publish(uow, [FlagChange(flag=updated._asdict(), at=now, by=by, note=note)])
    return updated
