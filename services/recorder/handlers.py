"""The recorder's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from schemas import topics
from schemas.catalogue import OffenceCatalogue
from schemas.envelope import Envelope
from schemas.events import ContactReceived
from services.recorder import service
from services.runtime.kafka import Handler, Subscription
from services.runtime.messaging import UnitOfWork


def subscriptions(*, catalogue: OffenceCatalogue, limit: timedelta) -> list[Subscription]:
    """The recorder reads every contact."""

    async def on_contact(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        if isinstance(payload, ContactReceived):
            await service.record_contact(uow, envelope, payload, catalogue=catalogue, limit=limit)

    handler: Handler = on_contact
    return [Subscription(name="recorder.contacts", topics=[topics.CONTACTS], handler=handler)]
