"""Writes the committed contract files: JSON Schema for every payload and an AsyncAPI document of the topics.

Run `python -m schemas.generate` (or `make schemas`) after changing a model; a test fails while they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas import topics
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import EVENT_TOPICS, EVENT_TYPES, EventPayload

SCHEMAS_DIR: Final = Path(__file__).resolve().parent
"""The schemas package directory: the generated files live under it."""

JSON_DIR: Final = SCHEMAS_DIR / "json"
"""Where the JSON Schema files go, one per model."""

ASYNCAPI_PATH: Final = SCHEMAS_DIR / "asyncapi.json"
"""The AsyncAPI document describing the topics."""

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING_VERSION: Final = "0.5.0"

# The headers the shared runtime puts on every event (services/runtime/messaging.py, event_headers) and adds
# when it dead-letters one (services/runtime/consumer.py). Described here so tools can route without parsing.
EVENT_HEADERS: Final = {
    "event_type": "The envelope's event_type, e.g. contact.received.",
    "event_id": "The envelope's event_id (UUID).",
    "schema_version": "The envelope's schema_version, as decimal text.",
    "correlation_id": "The envelope's correlation_id (UUID).",
    "producer": "The service that produced the event.",
}
DEAD_LETTER_HEADERS: Final = {
    "dlq.error": "Why the consumer could not handle the record (truncated to 4,000 characters).",
    "dlq.error_type": "The error's type, e.g. ValidationError.",
    "dlq.consumer": "The subscription that gave up on the record.",
    "dlq.original_topic": "The topic the record was read from.",
    "dlq.original_partition": "Its partition there.",
    "dlq.original_offset": "Its offset there.",
    "dlq.attempts": "How many times the consumer tried it.",
}

_SERVICE_TOPICS: Final = {
    # design.md, What it is: intake -> contacts -> recorder -> records -> auditor -> alerts -> supervisors.
    topics.CONTACTS: {
        "title": "Contacts",
        "description": "Every contact intake accepts (`contact.received`), published from intake's outbox "
        "once the contact is durable. Read by the recorder (to decide on it) and the auditor (to start its "
        "clock).",
        "producers": ["intake"],
        "consumers": ["recorder", "auditor"],
    },
    topics.RECORDS: {
        "title": "Records",
        "description": "Every recorder decision and crime lifecycle event (`contact.decided`, "
        "`crime.recorded`, ...). Read by the auditor.",
        "producers": ["recorder"],
        "consumers": ["auditor"],
    },
    topics.ALERTS: {
        "title": "Alerts",
        "description": "Every flag the auditor raises or changes; supervisors receive them through the "
        "auditor's server-sent events and webhooks. Its event payloads are not yet part of `schemas`.",
        "producers": ["auditor"],
        "consumers": [],
    },
}


def _dump(document: dict[str, Any]) -> str:
    # Sorted keys and a trailing newline: the same models always give the same bytes.
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()}


def json_schema_files() -> dict[str, type[BaseModel]]:
    """The JSON Schema file name of each model that crosses a service boundary."""
    files: dict[str, type[BaseModel]] = {
        "envelope.schema.json": Envelope,
        "contact-create.schema.json": ContactCreate,
    }
    for event_type, model in EVENT_TYPES.items():
        files[f"{event_type}.schema.json"] = model
    return files


def _channel_id(topic: str) -> str:
    # AsyncAPI ids allow [A-Za-z0-9_-]; the topic's own name is the channel's address.
    return topic.replace(".", "_")


def _message_id(model: type[BaseModel]) -> str:
    return model.__name__


def _headers_schema(headers: dict[str, str], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {name: {"type": "string", "description": text} for name, text in headers.items()},
    }


def _kafka_key() -> dict[str, Any]:
    return {
        "kafka": {
            "bindingVersion": KAFKA_BINDING_VERSION,
            "key": {
                "type": "string",
                "format": "uuid",
                "description": "The contact_id: every event about a contact, and about the crimes recorded "
                "from it, goes to one partition in order.",
            },
        }
    }


def _operation(action: str, title: str, channel: str, messages: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "title": title,
        "channel": {"$ref": f"#/channels/{channel}"},
    }
    if messages:
        # AsyncAPI 3.0: without `messages` an operation carries every message its channel defines.
        operation["messages"] = [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in messages]
    return operation


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: the topics, which events go on which, their keys, headers and payloads."""
    channels, operations = _channels_and_operations()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "crimerec events",
            "version": "1.0.0",
            "description": "The Kafka topics that join crimerec's services (intake, recorder, auditor). "
            "Every value is a JSON envelope whose `payload` is the event type's model; every key is the "
            "contact_id. Evolution is additive; a breaking change is a new schema_version. A deployment may "
            "put a prefix in front of every topic name.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": _component_schemas(), "messages": _messages()},
    }


def _component_schemas() -> dict[str, Any]:
    """The envelope, every payload model and the two header sets, as JSON Schema components."""
    payloads: list[type[EventPayload]] = list(EVENT_TYPES.values())
    _, definitions = models_json_schema(
        [(Envelope, "validation"), *[(model, "validation") for model in payloads]],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(definitions["$defs"])
    schemas["EventHeaders"] = _headers_schema(EVENT_HEADERS, "Kafka headers on every event, copied from its envelope.")
    schemas["DeadLetterHeaders"] = _headers_schema(
        DEAD_LETTER_HEADERS,
        "The original record's headers, plus these, which say why it was dead-lettered.",
    )
    return schemas


def _messages() -> dict[str, Any]:
    """One message per event type (an envelope carrying its payload), and the dead letter."""
    messages: dict[str, Any] = {}
    for event_type, model in EVENT_TYPES.items():
        messages[_message_id(model)] = {
            "name": event_type,
            "title": event_type,
            "summary": (model.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/EventHeaders"},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "event_type": {"const": event_type},
                            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
                        },
                    },
                ]
            },
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "bindings": _kafka_key(),
        }
    messages["DeadLetter"] = {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record its consumer could not parse or validate after a bounded number of tries.",
        "description": "The original record's key and value, byte for byte (usually an envelope, possibly "
        "not JSON at all), with the error in headers. Transient faults are retried, never dead-lettered.",
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original record's value, unchanged."},
    }
    return messages


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    """A channel per topic and per dead-letter topic, and who sends to and receives from each."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL:
        about = _SERVICE_TOPICS[topic]
        channel = _channel_id(topic)
        events = {
            _message_id(EVENT_TYPES[event_type]): {"$ref": f"#/components/messages/{_message_id(model)}"}
            for event_type, model in EVENT_TYPES.items()
            if EVENT_TOPICS[event_type] == topic
        }
        channels[channel] = {
            "address": topic,
            "title": about["title"],
            "description": about["description"],
            "messages": events,
        }
        dead = topics.dead_letter(topic)
        dead_channel = _channel_id(dead)
        dead_letters = {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
        channels[dead_channel] = {
            "address": dead,
            "title": f"{about['title']} dead letters",
            "description": f"Records from `{topic}` that a consumer could not parse or validate.",
            "messages": dead_letters,
        }
        for producer in about["producers"]:
            operations[f"{producer}_sends_{channel}"] = _operation(
                "send", f"{producer} publishes to {topic}", channel, events
            )
        for consumer in about["consumers"]:
            operations[f"{consumer}_receives_{channel}"] = _operation(
                "receive", f"{consumer} consumes {topic}", channel, events
            )
            operations[f"{consumer}_dead_letters_{dead_channel}"] = _operation(
                "send", f"{consumer} dead-letters what it cannot handle from {topic}", dead_channel, dead_letters
            )
    return channels, operations


def render() -> dict[Path, str]:
    """Every generated file, by absolute path, with the exact text it must hold."""
    files = {JSON_DIR / name: _dump(_json_schema(model)) for name, model in json_schema_files().items()}
    files[ASYNCAPI_PATH] = _dump(asyncapi_document())
    return files


def stale_files() -> list[Path]:
    """Generated JSON Schema files left over from a model that no longer exists."""
    rendered = render()
    return sorted(path for path in JSON_DIR.glob("*.schema.json") if path not in rendered)


def write() -> list[Path]:
    """Writes every generated file, removes stale ones, and returns the paths that changed."""
    changed: list[Path] = []
    JSON_DIR.mkdir(exist_ok=True)
    for path in stale_files():
        path.unlink()
        changed.append(path)
    for path, text in render().items():
        data = text.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            changed.append(path)
    return changed


def main() -> int:
    """Regenerates the contract files and says which changed."""
    changed = write()
    for path in changed:
        print(f"wrote {path.relative_to(SCHEMAS_DIR.parent)}")
    if not changed:
        print("schemas: generated files already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
