"""The outbox relay: publishes each service's outbox rows in order, after commit, and marks them published."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from sqlalchemy import Table, func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import metrics
from services.runtime.listen import run_when_notified
from services.runtime.messaging import decode_headers, notify_channel
from services.runtime.producer import partition_of

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------- relay


class OutboxRelay:
    """Publishes a service's outbox in commit order, marks rows published once the broker has acknowledged them."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        producer: AIOKafkaProducer,
        schema: str,
        batch_size: int = 1000,
        poll_seconds: float = 1.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.producer = producer
        self.channel = notify_channel(schema)
        # One relay publishes at a time per outbox, so events keep their commit order across processes.
        self.lock_key = zlib.crc32(f"crimerec.outbox.{schema}".encode())
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retention = retention
        self._wake = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publishes one batch of unpublished rows; returns how many it published."""
        table = f'"{self.outbox.schema}"."{self.outbox.name}"'
        async with self.engine.begin() as conn:
            # Plain SQL to the driver (a thousand rows a run, read as they come), in this transaction.
            locked = await conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock($1)", (self.lock_key,))
            if not locked.scalar():
                return 0
            # The first ids (narrow, by the partial index), then their rows, locked. One statement that sorted and
            # locked whole rows made the planner, when its statistics lagged the outbox, sort every unpublished row
            # before the limit: tens of megabytes through temporary files a batch, while a backlog lasted. A row
            # among those ids that another transaction holds is skipped, not replaced by a later one: only a relay
            # locks unpublished rows, and the advisory lock lets one run at a time.
            rows = (
                await conn.exec_driver_sql(
                    f"SELECT id, topic, key, value, headers FROM {table} "
                    f"WHERE id = ANY(ARRAY(SELECT id FROM {table} WHERE published_at IS NULL ORDER BY id LIMIT $1)) "
                    "AND published_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED",
                    (self.batch_size,),
                )
            ).all()
            if not rows:
                return 0
            await self._send(rows)  # acks=all: every row is on the broker before we mark it
            await conn.exec_driver_sql(
                f"UPDATE {table} SET published_at = now() WHERE id = ANY($1::bigint[])", ([row[0] for row in rows],)
            )
        metrics.EVENTS_PUBLISHED.inc(len(rows))
        return len(rows)

    async def _send(self, rows: Sequence[Sequence[Any]]) -> None:
        """Sends rows (id, topic, key, value, headers) as batches, one open batch per partition (rows keep their
        order within it); waits for every batch to be acknowledged.

        The partition is the producer's own choice for the key (the same murmur2 as `send`), so events about one
        contact land together whichever path sent them. Building batches directly skips `send`'s per-message
        future, partitioning and queue look-ups."""
        open_batches: dict[tuple[str, int], BatchBuilder] = {}
        acks: list[asyncio.Future[Any]] = []
        partitions: dict[str, tuple[int, ...]] = {}
        for _id, topic, key, value, headers in rows:
            if topic not in partitions:
                partitions[topic] = tuple(sorted(await self.producer.partitions_for(topic)))
            key_bytes = key.encode()
            where = (topic, partition_of(key_bytes, partitions[topic]))
            kafka_headers = decode_headers(headers)
            batch = open_batches.get(where)
            if batch is None or batch.append(timestamp=None, key=key_bytes, value=value, headers=kafka_headers) is None:
                if batch is not None:  # full: send it and start the partition's next
                    batch.close()
                    acks.append(await self.producer.send_batch(batch, topic, partition=where[1]))
                batch = open_batches[where] = self.producer.create_batch()
                # a batch always takes its first message, however large
                batch.append(timestamp=None, key=key_bytes, value=value, headers=kafka_headers)
        for (topic, partition), batch in open_batches.items():
            batch.close()  # complete: sent at once, not after the producer's linger
            acks.append(await self.producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*acks)

    async def purge_expired(self) -> int:
        """Deletes published rows older than the retention window."""
        table = self.outbox
        async with self.engine.begin() as conn:
            result = await conn.execute(
                table.delete().where(
                    table.c.published_at.is_not(None),
                    table.c.published_at < func.now() - self.retention,
                )
            )
        return result.rowcount or 0

    async def run(self) -> None:
        """Publishes whenever the outbox changes (LISTEN/NOTIFY) or, failing a notification, every poll interval."""
        await run_when_notified(self.engine, self.channel, self._publish_then_wait, what="outbox relay")

    async def _publish_then_wait(self) -> float:
        # A full batch means more are waiting: publish the next at once.
        return 0.0 if await self.publish_pending() >= self.batch_size else self.poll_seconds


async def republish_outbox(engine: AsyncEngine, outbox: Table) -> int:
    """Marks every retained outbox row unpublished, so the relay publishes them again (a broker lost its log)."""
    async with engine.begin() as conn:
        result = await conn.execute(update(outbox).where(outbox.c.published_at.is_not(None)).values(published_at=None))
    return result.rowcount or 0
