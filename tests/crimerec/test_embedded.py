"""The embedded engines start, keep PostgreSQL data across restarts, speak Kafka, and stop cleanly."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from crimerec.embedded import EmbeddedKafka, EmbeddedPostgres, free_port

# Deliberately no fixtures from tests/conftest.py: these tests check the engines that conftest builds upon.


def test_free_port_is_bindable() -> None:
    """free_port hands out a port that can be bound right away."""
    port = free_port("127.0.0.1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    """A row written before stop() is there after a new start() on the same folder."""
    pg = EmbeddedPostgres(tmp_path)
    url = pg.start()
    assert url == f"postgresql+asyncpg://postgres@/crimerec?host={pg.socket_dir}"
    assert make_url(url).query["host"] == str(pg.socket_dir)
    # Starting again while it runs reuses the server instead of failing.
    assert pg.start() == url

    async def write() -> None:
        conn = await asyncpg.connect(host=str(pg.socket_dir), port=pg.port, user="postgres", database="crimerec")
        try:
            await conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
            await conn.execute("INSERT INTO kept VALUES (1, 'still here')")
        finally:
            await conn.close()

    asyncio.run(write())
    pg.stop()
    assert not pg.is_running()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
    pg.stop()  # idempotent

    async def read_after_restart() -> str:
        # A fresh object, as a new process would have, started from inside a running event loop.
        again = EmbeddedPostgres(tmp_path)
        restarted_url = again.start()
        engine = create_async_engine(restarted_url)
        try:
            async with engine.connect() as conn:
                return str((await conn.execute(text("SELECT note FROM kept WHERE id = 1"))).scalar_one())
        finally:
            await engine.dispose()
            again.stop()

    assert asyncio.run(read_after_restart()) == "still here"


def test_postgres_survives_stale_postmaster_pid(tmp_path: Path) -> None:
    """After a crash whose pid was reused by another process, start() still brings the server up."""
    with EmbeddedPostgres(tmp_path) as pg:
        other_url = pg.ensure_database("other_db")
        assert other_url == pg.server_url("other_db")
        assert "/other_db?" in other_url
    pid_file = tmp_path / "postgres" / "postmaster.pid"
    assert not pid_file.exists()
    # Fake the leftover of a killed server whose pid now belongs to a live, unrelated process (this one).
    pgdata = tmp_path / "postgres"
    pid_file.write_text(f"{os.getpid()}\n{pgdata}\n0\n5432\n{pgdata}\n\n\nready\n")
    pg = EmbeddedPostgres(tmp_path)
    assert not pg.is_running()
    try:
        pg.start()
        assert pg.is_running()

        async def databases() -> set[str]:
            conn = await asyncpg.connect(host=str(pg.socket_dir), port=pg.port, user="postgres")
            try:
                return {row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")}
            finally:
                await conn.close()

        assert {"crimerec", "other_db"} <= asyncio.run(databases())
    finally:
        pg.stop()


def test_kafka_round_trip_and_taken_port(tmp_path: Path) -> None:
    """Create a topic, produce with acks=all, consume in a group; a second broker on that port is refused."""
    kafka = EmbeddedKafka(tmp_path)
    bootstrap = kafka.start()
    try:
        assert bootstrap == f"127.0.0.1:{kafka.port}"
        assert kafka.start() == bootstrap  # already running: same broker
        topic = f"t-{uuid.uuid4().hex[:8]}"

        async def round_trip() -> bytes:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
            finally:
                await admin.close()
            # The broker cannot do idempotent producers (InitProducerId fails): enable_idempotence=False.
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
            await producer.start()
            try:
                await producer.send_and_wait(topic, b"hello", key=b"k")
            finally:
                await producer.stop()
            # The broker completes a group join after about half the session timeout (5 s at aiokafka's
            # default 10 s); a short session keeps the test fast.
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=f"g-{topic}",
                auto_offset_reset="earliest",
                session_timeout_ms=2000,
                heartbeat_interval_ms=200,
            )
            await consumer.start()
            try:
                record = await asyncio.wait_for(consumer.getone(), 20)
                await consumer.commit()
            finally:
                await consumer.stop()
            return bytes(record.value or b"")

        assert asyncio.run(round_trip()) == b"hello"

        with pytest.raises(RuntimeError, match="already in use"):
            EmbeddedKafka(tmp_path / "second", port=kafka.port).start()
    finally:
        kafka.stop()
    assert not kafka.is_running()
    kafka.stop()  # idempotent
    # The port is released: a broker starts on it again.
    assert kafka.port is not None
    with EmbeddedKafka(tmp_path, port=kafka.port) as again:
        assert again.bootstrap == bootstrap
        assert again.is_running()
    assert not again.is_running()
    assert "listening on" in (tmp_path / "kafka.log").read_text()


def test_kafka_start_failure_names_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that dies at start-up gives an error naming its log file."""
    monkeypatch.setenv("CALF_TANSU_BIN", "/bin/false")
    kafka = EmbeddedKafka(tmp_path)
    with pytest.raises(RuntimeError, match=r"exited with code 1 .*kafka\.log"):
        kafka.start()
    assert not kafka.is_running()
