"""What went wrong with an event: transient faults (retry) against the event's own (dead-letter), described
without the data they went wrong on."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from schemas.envelope import Envelope
from schemas.events import parse_payload

_TRANSIENT = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InterfaceError,
)


def is_transient(exc: BaseException) -> bool:
    """True for faults that go away by themselves (database or broker unreachable, a serialization conflict):
    retry, never dead-letter. Anything else is the event's own fault and ends in the .dlq after bounded tries."""
    seen: BaseException | None = exc
    depth = 0
    # SQLAlchemy wraps the driver's error two levels down, so walk the whole cause chain.
    while seen is not None and depth < 10:
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _TRANSIENT):
            return True
        if isinstance(seen, KafkaError) and seen.retriable:
            return True
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return False


class PoisonEvent(Exception):
    """An event that cannot be parsed or validated: it goes to the dead-letter topic at once."""


def parse_event(value: bytes | None) -> tuple[Envelope, BaseModel]:
    """The envelope and typed payload of a record, or PoisonEvent saying what is wrong with it."""
    if value is None:
        raise PoisonEvent("record has no value")
    try:
        envelope = Envelope.model_validate_json(value)
        return envelope, parse_payload(envelope)
    except (ValidationError, ValueError) as exc:
        raise PoisonEvent(describe(exc)[:2000]) from exc


def describe(exc: BaseException) -> str:
    """What went wrong, without the data it went wrong on: a validation error's places and messages, never its
    input (an event carries victims' accounts, which must not reach the logs or the dead letters' headers)."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        places = [f"{'.'.join(str(p) for p in e['loc']) or exc.title}: {e['msg']}" for e in errors[:20]]
        more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
        return f"{len(errors)} validation error(s) for {exc.title}: " + "; ".join(places) + more
    return str(exc)


def loggable(exc: BaseException) -> str:
    """What a log line may say of an error: a validation error or a poison event as `describe` gives it (places and
    messages), anything else by its kind alone, since its text may quote what it failed on."""
    if isinstance(exc, ValidationError | PoisonEvent):
        return describe(exc)
    return type(exc).__name__
