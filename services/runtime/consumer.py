"""The consumer loop: inbox-deduplicated handling, offsets committed after the database commit, a .dlq for poison.

Its faults (`is_transient`, `PoisonEvent`, `parse_event`, `describe`, `loggable`) live in event_faults.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schemas import topics
from schemas.envelope import Envelope
from services.runtime import clock, logs, metrics
from services.runtime.backoff import Backoff
from services.runtime.event_faults import PoisonEvent, describe, is_transient, loggable, parse_event
from services.runtime.messaging import UnitOfWork
from services.runtime.settings import EngineSettings

log = logging.getLogger(__name__)

FIRST_RUN = 20
"""Records in a consumer's first run of a polled batch, before it knows how long a record takes."""


Handler = Callable[[UnitOfWork, Envelope, BaseModel], Awaitable[None]]
"""Handles one event inside a unit of work: effects and new events commit together with the inbox entry."""

BatchHandler = Callable[[UnitOfWork, Sequence[tuple[Envelope, BaseModel]]], Awaitable[None]]
"""Handles a run of new events (in order) inside one unit of work."""


@dataclass(frozen=True)
class Subscription:
    """A consumer of some topics: its name (also its consumer group and inbox key) and its handler.

    A `batch_handler`, when given, takes every new event of a polled run at once (set-based work: one statement per
    table rather than per event); `handler` takes them one at a time. Either way they share one transaction.
    """

    name: str
    topics: Sequence[str]
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    # How a record's bytes become its envelope and payload (PoisonEvent if they cannot): `parse_event` unless given.
    parse: Callable[[bytes | None], tuple[Envelope, BaseModel]] | None = None
    # A poll's records of several partitions, when they fit in one run, are handled in one transaction and their
    # offsets committed at once, instead of a transaction and a commit a partition one after another (at a few
    # events a second a partition that sequence is most of an event's wait). Each partition's events keep their
    # order. Only for a subscription that does not follow event time: the watermark is kept per partition.
    merge_partitions: bool = False


class _Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts the rebalances a consumer went through (each gives it an assignment, perhaps empty)."""

    def __init__(self, name: str, forget: Callable[[object], None]) -> None:
        self.name = name
        self.forget = forget
        self.count = 0

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Forgets the partitions' event times (offsets need nothing: committed after each run, never held back)."""
        self.forget(revoked)

    async def on_partitions_assigned(self, assigned: object) -> None:
        """Counts the assignment."""
        self.count += 1
        metrics.CONSUMER_REBALANCES.labels(self.name).inc()


class ConsumerRunner:
    """Runs one subscription: inbox-deduplicated handling, offsets committed after the database commit, a .dlq."""

    def __init__(
        self,
        *,
        subscription: Subscription,
        settings: EngineSettings,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        inbox: Table,
        producer: AIOKafkaProducer,
        batch_size: int = 2000,
        max_attempts: int = 5,
        idle_after_s: float = 1.0,
    ) -> None:
        self.subscription = subscription
        self.settings = settings
        self.sessions = sessions
        self.outbox = outbox
        self.inbox = inbox
        self.producer = producer
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.topic_prefix + subscription.name,
            client_id=subscription.name,
            enable_auto_commit=False,  # offsets are committed only after the handling transaction commits
            auto_offset_reset="earliest",
            max_poll_records=batch_size,
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,  # aiokafka's 500 ms held every hop that long
            max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        )
        self.assignments = _Assignments(subscription.name, forget=self._forget)
        self.consumer.subscribe([settings.topic(name) for name in subscription.topics], listener=self.assignments)
        # A polled batch is handled in runs, each committed, sized to take a quarter of the poll interval at most.
        self.run_size = min(FIRST_RUN, batch_size)
        self.pace: float | None = None  # seconds an event took in the last run
        self.polled_at = time.monotonic()
        self.caught_up = False  # True when the last poll found nothing new: every assigned event is handled
        # Event time per partition: the last event handled, and which partitions still have unread events.
        self.marks: dict[TopicPartition, datetime] = {}
        self.unread: set[TopicPartition] = set()
        self.idle_since: dict[TopicPartition, float] = {}  # partitions with nothing unread, since when
        self.idle_after_s = idle_after_s

    async def run(self) -> None:
        """Consumes until cancelled; never stops on one bad event."""
        try:
            await self.consumer.start()  # inside: cancelled while starting, its clients still close
            while True:
                batches = await self.consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                self.polled_at = time.monotonic()
                beyond = await self._partitions_with_more()
                self.unread = beyond | set(batches)
                if await self._process_merged(batches):
                    self.unread -= set(batches) - beyond
                else:
                    for tp, records in batches.items():
                        if await self._process_in_time(tp, records) and tp not in beyond:
                            self.unread.discard(tp)
                self._note_idle()
                self.caught_up = not batches and bool(self.consumer.assignment())
        finally:
            await self.consumer.stop()

    async def _process_merged(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> bool:
        """Handles a poll's records of several partitions as one run (Subscription.merge_partitions), when they fit
        in one and every partition is still ours; True when it did (each record handled, every offset committed),
        False to leave them to the partition-by-partition way."""
        if not self.subscription.merge_partitions or len(batches) < 2:
            return False
        interval = self.settings.kafka_max_poll_interval_ms / 1000
        records = [record for run in batches.values() for record in run]
        fits = self._run_fitting(interval / 2 - (time.monotonic() - self.polled_at))
        if len(records) > fits or any(tp not in self.consumer.assignment() for tp in batches):
            return False
        await self._run(records, {tp: run[-1].offset + 1 for tp, run in batches.items()}, interval)
        return True

    async def _process_in_time(self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Handles a partition's polled records in runs, committing after each, so the consumer polls again well
        inside its max poll interval (a consumer that does not is put out of its group: a rebalance, and its
        partitions' work done again by the next owner). When half the interval has gone, or the partition was taken
        away by a rebalance, it stops: the rest is fetched again at the next poll (by whoever owns it then).
        True when every record was handled here."""
        interval = self.settings.kafka_max_poll_interval_ms / 1000
        start = 0
        while start < len(records):
            if tp not in self.consumer.assignment():
                return False  # revoked: the next owner starts from our last commit
            size = self._run_fitting(interval / 2 - (time.monotonic() - self.polled_at))
            if size == 0:
                self.consumer.seek(tp, records[start].offset)  # given back, to be fetched again after a poll
                return False
            run = records[start : start + size]
            await self._run(run, {tp: run[-1].offset + 1}, interval)
            start += len(run)
        return True

    async def _run(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], offsets: dict[TopicPartition, int], interval: float
    ) -> None:
        """One run: its records handled, then its offsets committed, and the next run sized by its pace."""
        began = time.monotonic()
        await self.process(records)
        await self._commit(offsets)
        self._size_runs(len(records), time.monotonic() - began, interval)

    def _run_fitting(self, budget: float) -> int:
        """How many records the next run takes: its usual size, cut to what the pace just seen finishes inside the
        time left before half the poll interval (so a run twice as slow as expected still ends inside it); 0 when
        no time is left."""
        if budget <= 0:
            return 0
        if self.pace is None:
            return self.run_size
        return min(self.run_size, int(budget / max(self.pace, 1e-6)))

    def _size_runs(self, handled: int, seconds: float, interval: float) -> None:
        """The next run's size: what takes a quarter of the poll interval at the pace just seen (at most double
        the last, at most a polled batch)."""
        self.pace = seconds / handled
        fits = int(interval / 4 / max(self.pace, 1e-6))
        self.run_size = max(1, min(fits, self.run_size * 2, self.batch_size))

    async def _partitions_with_more(self) -> set[TopicPartition]:
        """Assigned partitions with events beyond what has been fetched (or not known yet)."""
        more = set()
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None or await self.consumer.position(tp) < high:
                more.add(tp)
        return more

    def watermark(self, current: TopicPartition | None = None, event_time: datetime | None = None) -> datetime | None:
        """The event time every partition has reached: the earliest last-handled time among partitions with unread
        events (the event in hand counting for its own) and those caught up for less than `idle_after_s` (an event
        may be on its way to them: still in a producer's outbox, or just appended after our last fetch); with none
        such, the latest time handled. None while a partition with unread events has not been read at all."""
        now = time.monotonic()
        times = []
        for tp in self.unread | self.marks.keys():
            if tp == current and event_time is not None:
                times.append(event_time)
            elif tp in self.unread and tp not in self.marks:
                return None
            elif tp in self.unread or now - self.idle_since.get(tp, now) < self.idle_after_s:
                times.append(self.marks[tp])
        if times:
            return min(times)
        return max(self.marks.values()) if self.marks else None

    def _note_idle(self) -> None:
        """Partitions with nothing unread start (or go on) being idle; the others are not."""
        now = time.monotonic()
        for tp in self.consumer.assignment():
            if tp in self.unread:
                self.idle_since.pop(tp, None)
            else:
                self.idle_since.setdefault(tp, now)

    def _forget(self, partitions: object) -> None:
        """A partition taken away by a rebalance no longer holds our watermark back (its next owner's does)."""
        for tp in partitions:  # type: ignore[attr-defined]
            self.marks.pop(tp, None)
            self.idle_since.pop(tp, None)
            self.unread.discard(tp)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.consumer.commit(offsets)
                return
            except KafkaError as exc:
                # A rebalance can take a partition away; the next owner's inbox skips what we already did.
                partitions = sorted(tp.partition for tp in offsets)
                log.warning("offset commit failed", extra={"error": repr(exc), "partitions": partitions})
                offsets = {tp: offset for tp, offset in offsets.items() if await self._still_assigned(tp)}
                if not offsets:
                    return
                await backoff.sleep()

    async def _still_assigned(self, tp: TopicPartition) -> bool:
        return tp in self.consumer.assignment()

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Handles a run of records (of one partition, or of several each in its order: merge_partitions), in order;
        returns once each is handled or dead-lettered."""
        parsed: list[tuple[ConsumerRecord[bytes, bytes], Envelope, BaseModel]] = []
        parse = self.subscription.parse or parse_event
        for record in records:
            try:
                envelope, payload = parse(record.value)
            except PoisonEvent as exc:
                await self.dead_letter(record, exc, attempts=1)
                continue
            parsed.append((record, envelope, payload))
        if not parsed:
            return
        # Fast path: the whole run in one transaction. On a non-transient failure, fall back to one at a time,
        # so one bad event cannot hold up or take down its neighbours.
        try:
            await self._with_transient_retry(lambda: self._handle_all(parsed))
            return
        except Exception as exc:
            batch_error = exc
        # Every event's run in the failed batch counts as its first try, so a bad event runs max_attempts times;
        # but each of several also runs alone at least once, so a neighbour is never dead-lettered for another.
        for item in parsed:
            await self._retry_then_dead_letter(*item, first_error=batch_error, must_run_alone=len(parsed) > 1)

    async def _retry_then_dead_letter(
        self,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope,
        payload: BaseModel,
        first_error: Exception,
        must_run_alone: bool,
    ) -> None:
        attempts = 1
        error = first_error
        while attempts < self.max_attempts or (must_run_alone and attempts == 1):
            try:
                await self._with_transient_retry(lambda: self._handle_all([(record, envelope, payload)]))
                return
            except Exception as exc:
                attempts += 1
                error = exc
                log.warning(
                    "event handling failed",
                    extra={"event_id": str(envelope.event_id), "attempt": attempts, "error": loggable(exc)},
                )
                await asyncio.sleep(min(0.05 * 2**attempts, 2.0))
        await self.dead_letter(record, error, attempts=attempts)

    async def _with_transient_retry(self, work: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff()
        while True:
            try:
                await work()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                metrics.CONSUMER_TRANSIENT_RETRIES.labels(self.subscription.name).inc()
                log.warning("transient fault, retrying", extra={"error": repr(exc)})
                await backoff.sleep()

    async def _handle_all(self, items: Sequence[tuple[ConsumerRecord[bytes, bytes], Envelope, BaseModel]]) -> None:
        partitions = {TopicPartition(record.topic, record.partition) for record, _, _ in items}
        # The event in hand counts for its partition's time; in a run of several partitions, for none of them.
        current = next(iter(partitions)) if len(partitions) == 1 else None
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(
                session=session,
                outbox=self.outbox,
                topic_prefix=self.settings.topic_prefix,
                watermark=lambda event_time: self.watermark(current, event_time),
            )
            claimed = await uow.claim_events(self.inbox, self.subscription.name, [e.event_id for _, e, _ in items])
            fresh: list[tuple[Envelope, BaseModel]] = []
            for _record, envelope, payload in items:
                if envelope.event_id in claimed:
                    claimed.discard(envelope.event_id)  # the same event twice in one run is handled once
                    fresh.append((envelope, payload))
                else:
                    metrics.EVENTS_DUPLICATE.labels(self.subscription.name).inc()
            if self.subscription.batch_handler is not None:
                if fresh:
                    # A batch handler takes each event's own time with clock.when_handling().
                    with self._at(max(envelope.occurred_at for envelope, _ in fresh)):
                        await self.subscription.batch_handler(uow, fresh)
            else:
                assert self.subscription.handler is not None
                for envelope, payload in fresh:
                    logs.event_id.set(str(envelope.event_id))
                    logs.correlation_id.set(str(envelope.correlation_id))
                    with self._at(envelope.occurred_at):
                        await self.subscription.handler(uow, envelope, payload)
            await uow.flush_outbox()
        # Only now, with the run committed, does each partition's mark move on.
        for record, envelope, _ in items:
            tp = TopicPartition(record.topic, record.partition)
            self.marks[tp] = max(envelope.occurred_at, self.marks.get(tp, envelope.occurred_at))
        metrics.EVENTS_HANDLED.labels(self.subscription.name).inc(len(items))

    def _at(self, occurred_at: datetime) -> AbstractContextManager[None]:
        """In a simulation, an event is handled at the time it occurred (as live, however late it is read)."""
        return clock.simulated(occurred_at) if self.settings.simulated_clock else nullcontext()

    async def dead_letter(self, record: ConsumerRecord[bytes, bytes], error: BaseException, *, attempts: int) -> None:
        """Puts a record on its topic's .dlq with the error in headers; waits for the broker's ack."""
        headers = [
            *(record.headers or ()),
            ("dlq.error", describe(error)[:4000].encode()),
            ("dlq.error_type", type(error).__name__.encode()),
            ("dlq.consumer", self.subscription.name.encode()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.attempts", str(attempts).encode()),
        ]
        backoff = Backoff()
        while True:
            try:
                await self.producer.send_and_wait(
                    topics.dead_letter(record.topic), record.value, key=record.key, headers=headers
                )
                break
            except KafkaError as exc:  # never drop it: the offset is not committed until the .dlq has it
                log.warning("dead-letter publish failed", extra={"error": repr(exc)})
                await backoff.sleep()
        metrics.EVENTS_DEAD_LETTERED.labels(self.subscription.name).inc()
        log.error(
            "event dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": loggable(error)[:500]},
        )
