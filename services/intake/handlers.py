"""Intake's Kafka handlers: thin adapters over the service."""

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactDecided
from services.intake import service
from services.runtime.consumer import Subscription
from services.runtime.messaging import UnitOfWork


async def on_record_event(uow: UnitOfWork, envelope: Envelope, payload: BaseModel) -> None:
    """Follows the recorder's decisions on contacts (other record events are not intake's concern)."""
    if isinstance(payload, ContactDecided):
        await service.note_decision(uow, envelope, payload)


SUBSCRIPTIONS = [Subscription(name="intake.decisions", topics=[topics.RECORDS], handler=on_record_event)]
