"""The auditor's Kafka handlers: thin adapters over the projection."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactDecided, ContactReceived, CrimeRecorded
from services.auditor import service
from services.runtime.kafka import Subscription
from services.runtime.messaging import UnitOfWork


def subscriptions(*, limit: timedelta) -> list[Subscription]:
    """The auditor reads contacts and records, and nothing else (it works behind any recorder that emits them)."""

    async def on_event(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        match payload:
            case ContactReceived():
                await service.project_contact(uow, envelope, payload, limit=limit)
            case ContactDecided():
                await service.project_decision(uow, envelope, payload)
            case CrimeRecorded():
                await service.project_crime(uow, envelope, payload)

    return [Subscription(name="auditor.projection", topics=[topics.CONTACTS, topics.RECORDS], handler=on_event)]
