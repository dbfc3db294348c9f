"""Re-seeding a broker that lost its log: only what some consuming group has not handled yet goes out again.

The consumers' positions are in PostgreSQL with their effects: each service's inbox holds the id of every event a
consumer has handled. An outbox row every consuming group of its topic has in its inbox needs no second publication;
the others are marked unpublished, and the relays publish them again in commit order. A topic whose consumers
crimerec does not know (alerts go to outside subscribers) gets every retained row again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas import topics
from services.auditor import judging
from services.auditor import models as auditor_models
from services.intake import handlers as intake_handlers
from services.intake import models as intake_models
from services.recorder import models as recorder_models
from services.runtime.settings import EngineSettings


@dataclass(frozen=True)
class Group:
    """A consuming group: the inbox it records handled events in, and its name there."""

    inbox: Table
    consumer: str


RECORDER_CONTACTS = "recorder.contacts"

CONSUMERS: Mapping[str, Sequence[Group]] = {
    topics.CONTACTS: (
        Group(recorder_models.inbox, RECORDER_CONTACTS),
        Group(auditor_models.inbox, judging.SUBSCRIPTION),
    ),
    topics.RECORDS: (
        Group(intake_models.inbox, intake_handlers.SUBSCRIPTIONS[0].name),
        Group(auditor_models.inbox, judging.SUBSCRIPTION),
    ),
}
"""Who consumes each topic inside crimerec (tests/chaos check it against the services' own subscriptions)."""


def _not_handled_by_all(outbox: Table, settings: EngineSettings) -> object:
    """Rows of a known topic some group has not handled, and every row of a topic with consumers unknown."""
    known = [settings.topic(name) for name in CONSUMERS]
    clauses: list[ColumnElement[bool]] = [outbox.c.topic.not_in(known)]
    for name, groups in CONSUMERS.items():
        missing = [
            ~exists(select(1).where(and_(g.inbox.c.consumer == g.consumer, g.inbox.c.event_id == outbox.c.event_id)))
            for g in groups
        ]
        clauses.append(and_(outbox.c.topic == settings.topic(name), or_(false(), *missing)))
    return or_(*clauses)


async def republish_unhandled(engine: AsyncEngine, outbox: Table, settings: EngineSettings) -> int:
    """Marks unpublished the retained rows some consuming group has not handled (all of an unknown topic's)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.published_at.is_not(None), _not_handled_by_all(outbox, settings))  # type: ignore[arg-type]
            .values(published_at=None)
        )
    return result.rowcount or 0


def groups_and_topics() -> dict[str, list[str]]:
    """Each consuming group (by its inbox name) and the topics it reads."""
    read: dict[str, list[str]] = {}
    for topic, groups in CONSUMERS.items():
        for group in groups:
            read.setdefault(group.consumer, []).append(topic)
    return read
