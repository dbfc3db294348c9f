"""Outbox and inbox tables, and the unit of work that writes state and events in one transaction.

design.md, Delivery semantics: a service writes its state change and the events it implies in one PostgreSQL
transaction; a consumer records each event id it handled in the same transaction as the handling's effects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas.envelope import Envelope
from services.runtime.database import insert_rows


def outbox_table(metadata: MetaData) -> Table:
    """The outbox of one service: events waiting for (or kept after) publication, in commit order."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        # The relay only ever looks for what is not yet published.
        Index(None, "id", postgresql_where=text("published_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    """The inbox of one service: which consumer has handled which event."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel a schema's outbox wakes its relay on."""
    return f"{schema}_outbox"


def outbox_trigger_sql(schema: str) -> list[str]:
    """DDL for the trigger that wakes the relay whenever a transaction adds to the outbox."""
    channel = notify_channel(schema)
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$""",
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()""",
    ]


def encode_event(envelope: Envelope) -> bytes:
    """An envelope as the bytes that go on the wire."""
    return envelope.model_dump_json().encode()


def header_values(envelope: Envelope) -> dict[str, str]:
    """The Kafka headers of an event as text (as the outbox keeps them): they let tools route and trace an event
    without parsing it."""
    return {
        "event_type": envelope.event_type,
        "event_id": str(envelope.event_id),
        "schema_version": str(envelope.schema_version),
        "correlation_id": str(envelope.correlation_id),
        "producer": envelope.producer,
    }


def event_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """The Kafka headers of an event, as they go on the wire."""
    return [(name, value.encode()) for name, value in header_values(envelope).items()]


@dataclass
class UnitOfWork:
    """One transaction: the session for state changes, and the events it will publish through the outbox."""

    session: AsyncSession
    outbox: Table
    topic_prefix: str = ""
    staged: list[tuple[str, Envelope]] = field(default_factory=list)
    # For a consumer's unit of work: the event time every partition it reads has reached, given the time of the
    # event in hand (None while some partition with unread events has not been read at all).
    watermark: Callable[[datetime], datetime | None] | None = None

    def emit(self, topic: str, envelope: Envelope) -> None:
        """Stages an event; it is written to the outbox in this unit of work's transaction."""
        self.staged.append((topic, envelope))

    async def flush_outbox(self) -> None:
        """Writes the staged events into the outbox table (part of the open transaction)."""
        if not self.staged:
            return
        rows = [
            {
                "event_id": envelope.event_id,
                "topic": self.topic_prefix + topic,
                "key": str(envelope.contact_id),
                "value": encode_event(envelope),
                "headers": header_values(envelope),
            }
            for topic, envelope in self.staged
        ]
        await insert_rows(self.session, self.outbox, rows)
        self.staged.clear()

    async def claim_events(self, inbox: Table, consumer: str, event_ids: Sequence[UUID]) -> set[UUID]:
        """Records that `consumer` handles these events now, in one statement; returns those it had not before."""
        if not event_ids:
            return set()
        # The ids as one array parameter: the statement is the same for any number of events, so it is compiled once.
        ids = select(literal(consumer), func.unnest(bindparam("ids", type_=ARRAY(Uuid))))
        result = await self.session.execute(
            pg_insert(inbox)
            .from_select(["consumer", "event_id"], ids)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id),
            {"ids": list(event_ids)},
        )
        return {row.event_id for row in result}

    async def claim_event(self, inbox: Table, consumer: str, event_id: UUID) -> bool:
        """Records that `consumer` handles `event_id` now; False when it already had (a redelivery)."""
        return event_id in await self.claim_events(inbox, consumer, [event_id])


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], outbox: Table, topic_prefix: str = ""
) -> AsyncIterator[UnitOfWork]:
    """Opens a transaction; on a clean exit writes the staged events to the outbox and commits both together."""
    async with sessions() as session, session.begin():
        uow = UnitOfWork(session=session, outbox=outbox, topic_prefix=topic_prefix)
        yield uow
        await uow.flush_outbox()


def decode_headers(headers: dict[str, str] | None) -> list[tuple[str, bytes]]:
    """Outbox headers (stored as JSON) back to Kafka header tuples."""
    return [(k, v.encode()) for k, v in (headers or {}).items()]


def create_messaging_tables(schema: str) -> None:
    """Migration step: a service's outbox (with its wake-up trigger) and inbox. Frozen: change by a new revision."""
    from alembic import op  # only ever called from inside a migration

    metadata = MetaData(schema=schema)
    for table in (outbox_table(metadata), inbox_table(metadata)):
        table.create(op.get_bind())
    for statement in outbox_trigger_sql(schema):
        op.execute(statement)
