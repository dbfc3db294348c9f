"""The recorder's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactReceived
from services.recorder import service
from services.recorder.service import RecorderPolicy
from services.runtime.kafka import Subscription
from services.runtime.messaging import UnitOfWork


def subscriptions(*, policy: RecorderPolicy) -> list[Subscription]:
    """The recorder reads every contact."""

    async def on_contact(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
        if isinstance(payload, ContactReceived):
            await service.record_contact(uow, envelope, payload, policy=policy)

    return [Subscription(name="recorder.contacts", topics=[topics.CONTACTS], handler=on_contact)]
