"""The embedded engines (PostgreSQL and a Kafka-protocol broker) used when no URL is given, in one import."""

from __future__ import annotations

from crimerec.engine_kafka import KAFKA_READY_TIMEOUT, KAFKA_STOP_TIMEOUT, EmbeddedKafka
from crimerec.engine_postgres import DEFAULT_DATABASE, EmbeddedPostgres
from crimerec.processes import free_port

__all__ = [
    "DEFAULT_DATABASE",
    "KAFKA_READY_TIMEOUT",
    "KAFKA_STOP_TIMEOUT",
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "free_port",
]
