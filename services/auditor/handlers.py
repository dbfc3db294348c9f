"""The auditor's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import EventPayload
from services.auditor import service
from services.auditor.service import Standard
from services.runtime.kafka import Subscription
from services.runtime.messaging import UnitOfWork

SUBSCRIPTION = "auditor.projection"


def subscriptions(*, standard: Standard) -> list[Subscription]:
    """The auditor reads contacts and records, and nothing else (it works behind any recorder that emits them)."""

    async def on_event(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        assert isinstance(payload, EventPayload)
        await service.on_event(uow, envelope, payload, standard=standard)

    return [Subscription(name=SUBSCRIPTION, topics=[topics.CONTACTS, topics.RECORDS], handler=on_event)]
