"""A running service: its pool, producer, outbox relay, consumers and housekeeping, started and stopped as one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.runtime.access_log import AccessLog
from services.runtime.auth import KeyVerifier
from services.runtime.backoff import Backoff
from services.runtime.consumer import ConsumerRunner, Subscription
from services.runtime.database import create_engine, create_session_factory
from services.runtime.messaging import UnitOfWork, unit_of_work
from services.runtime.producer import create_producer
from services.runtime.relay import OutboxRelay
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """Everything a running service holds: pool, producer, relay, consumers, key verifier."""

    name: str
    schema: str
    settings: ServiceSettings
    outbox: Table
    inbox: Table
    access_log: AccessLog
    subscriptions: Sequence[Subscription] = ()
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    producer: AIOKafkaProducer = field(init=False)
    keys: KeyVerifier = field(init=False)
    housekeeping: Sequence[tuple[str, Housekeeping]] = ()
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    producer_started: bool = False
    runners: dict[str, ConsumerRunner] = field(default_factory=dict)

    def unit_of_work(self) -> contextlib.AbstractAsyncContextManager[UnitOfWork]:
        """A transaction whose staged events reach the outbox when it commits."""
        return unit_of_work(self.sessions, self.outbox, self.settings.engines.topic_prefix)

    async def start(self) -> None:
        """Connects to the database; starts the producer, relay, consumers and housekeeping in the background.

        The broker is not waited for: a service accepts requests while it is away (intake's contacts wait in the
        outbox), and /readyz says so.
        """
        self.engine = create_engine(self.settings.engines)
        self.sessions = create_session_factory(self.engine)
        self.keys = KeyVerifier(self.engine, self.settings.auth_cache_seconds)
        self.producer = create_producer(self.settings.engines, client_id=f"crimerec-{self.name}")
        self._spawn(self.access_log.run_sealer(self.engine), "access-log-sealer")
        for name, job in self.housekeeping:
            self._spawn(_every(job, self), name)
        self._spawn(self._run_messaging(), "messaging")

    async def _run_messaging(self) -> None:
        await self._start_producer()
        relay = OutboxRelay(
            engine=self.engine,
            outbox=self.outbox,
            producer=self.producer,
            schema=self.schema,
            retention=timedelta(hours=self.settings.outbox_retention_hours),
        )
        self._spawn(relay.run(), "outbox-relay")
        self._spawn(_every((3600.0, lambda _runtime: relay.purge_expired()), self), "outbox-purge")
        for subscription in self.subscriptions:
            self._spawn(self._keep_running(subscription), f"consumer-{subscription.name}")

    async def _start_producer(self) -> None:
        # The broker may still be starting (or away): keep trying in the background.
        backoff = Backoff(first=0.2, ceiling=5.0)
        while True:
            try:
                await self.producer.start()
                self.producer_started = True
                return
            except Exception as exc:
                log.warning("broker not reachable yet", extra={"error": repr(exc)})
                await self.producer.stop()
                self.producer = create_producer(self.settings.engines, client_id=f"crimerec-{self.name}")
                await backoff.sleep()

    def caught_up(self) -> bool:
        """True when every consumer has handled every event it has been given (no lag at its last poll)."""
        return bool(self.runners) and all(r.caught_up for r in self.runners.values())

    def _runner(self, subscription: Subscription) -> ConsumerRunner:
        return ConsumerRunner(
            subscription=subscription,
            settings=self.settings.engines,
            sessions=self.sessions,
            outbox=self.outbox,
            inbox=self.inbox,
            producer=self.producer,
            batch_size=self.settings.consumer_batch_size,
            max_attempts=self.settings.consumer_max_attempts,
        )

    async def _keep_running(self, subscription: Subscription) -> None:
        # A consumer that falls over (broker gone, group coordinator lost) is rebuilt, never abandoned.
        while True:
            runner = self._runner(subscription)
            self.runners[subscription.name] = runner
            try:
                await runner.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("consumer stopped; restarting", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)

    def _spawn(self, coro: Any, name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        """Stops the background work, then the producer and the pool."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.producer_started:
            await self.producer.stop()
        await self.engine.dispose()

    async def ready(self) -> dict[str, str]:
        """Checks the database and the broker; each check's result by name."""
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            if not self.producer_started:
                raise ConnectionError("not connected yet")
            async with asyncio.timeout(2):
                await self.producer.client.fetch_all_metadata()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {type(exc).__name__}"
        return checks


Housekeeping = tuple[float, Callable[["ServiceRuntime"], Awaitable[object]]]
"""A background job: how often (seconds) and what (given the runtime), e.g. expiring idempotency keys."""


async def _every(job: Housekeeping, runtime: ServiceRuntime) -> None:
    interval, work = job
    while True:
        await asyncio.sleep(interval)
        try:
            await work(runtime)
        except Exception as exc:  # housekeeping must never take the service down; it tries again next time
            log.warning("housekeeping failed", extra={"error": repr(exc)})
