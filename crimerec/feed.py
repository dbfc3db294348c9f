"""A live line per recording decision, for a person watching `crimerec up`."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from rich.console import Console

from schemas import topics
from schemas.envelope import Envelope
from schemas.events import ContactDecided
from services.runtime.settings import EngineSettings

STYLE = {"recorded": "green", "pending": "yellow", "cri": "magenta", "n100": "cyan", "non_crime": "dim"}


async def print_decisions(engines: EngineSettings, console: Console) -> None:
    """Prints every `contact.decided` from now on (no consumer group: it commits nothing)."""
    while True:
        consumer = AIOKafkaConsumer(
            engines.topic(topics.RECORDS),
            bootstrap_servers=engines.kafka_bootstrap,
            auto_offset_reset="latest",
        )
        try:
            await consumer.start()
            async for record in consumer:
                with contextlib.suppress(ValidationError, ValueError):
                    envelope = Envelope.model_validate_json(record.value or b"")
                    if envelope.event_type != "contact.decided":
                        continue
                    decided = ContactDecided.model_validate(envelope.payload)
                    style = STYLE.get(decided.outcome.value, "white")
                    refs = ", ".join(decided.crime_references) or "-"
                    console.print(
                        f"[{style}]{decided.outcome.value:>9}[/] contact {decided.contact_id}  crimes: {refs}  "
                        f"[dim]{decided.rationale}[/]"
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            await asyncio.sleep(2)  # broker restarting; try again
        finally:
            await consumer.stop()
