"""The recorder's Kafka handlers: thin adapters over the service."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactReceived
from services.recorder import first_contact
from services.recorder.recording import RecorderPolicy
from services.runtime.consumer import Subscription
from services.runtime.messaging import UnitOfWork


def subscriptions(*, policy: RecorderPolicy) -> list[Subscription]:
    """The recorder reads every contact."""

    async def on_contacts(uow: UnitOfWork, events: Sequence[tuple[Envelope, BaseModel]]) -> None:
        received = [(e, p) for e, p in events if isinstance(p, ContactReceived)]
        await first_contact.record_contacts(uow, received, policy=policy)

    return [
        Subscription(
            name="recorder.contacts", topics=[topics.CONTACTS], batch_handler=on_contacts, merge_partitions=True
        )
    ]
