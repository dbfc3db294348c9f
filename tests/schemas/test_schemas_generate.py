"""The committed JSON Schema and AsyncAPI files: in step with the models, and saying what the models say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import generate, topics
from schemas.contacts import ContactCreate
from schemas.events import EVENT_TOPICS, EVENT_TYPES

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared" / "examples"


def test_the_committed_files_match_the_models() -> None:
    rendered = generate.render()
    drifted = [
        str(path.relative_to(generate.SCHEMAS_DIR.parent))
        for path, text in rendered.items()
        if not path.is_file() or path.read_bytes() != text.encode("utf-8")
    ]
    assert not drifted, f"generated contract files are out of date: {drifted}; run `make schemas` and commit them"


def test_no_schema_file_is_left_from_a_model_that_is_gone() -> None:
    stale = generate.stale_files()
    assert not stale, f"stale schema files {stale}; run `make schemas` and commit the removal"


def test_rendering_is_deterministic() -> None:
    assert generate.render() == generate.render()


def test_there_is_a_schema_for_the_envelope_the_contact_and_every_event() -> None:
    names = {path.name for path in generate.render()}
    assert {"envelope.schema.json", "contact-create.schema.json", "asyncapi.json"} <= names
    assert {f"{event_type}.schema.json" for event_type in EVENT_TYPES} <= names


@pytest.mark.parametrize("path", sorted(generate.render()), ids=lambda p: p.name)
def test_each_file_is_sorted_json_ending_in_a_newline(path: Path) -> None:
    text = generate.render()[path]
    assert text.endswith("}\n")
    document = json.loads(text)
    assert json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_the_contact_schema_documents_every_field() -> None:
    schema = json.loads(generate.render()[generate.JSON_DIR / "contact-create.schema.json"])
    assert schema["additionalProperties"] is False
    assert len(schema["examples"]) >= 2
    undocumented = [
        f"{name}.{field}"
        for name, definition in [("ContactCreate", schema), *schema["$defs"].items()]
        for field, spec in definition.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert not undocumented, f"fields without a description: {undocumented}"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(generate.render()[generate.ASYNCAPI_PATH])
    return document


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = asyncapi()
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_the_asyncapi_document_names_every_topic_and_its_dead_letter_topic() -> None:
    document = asyncapi()
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(topics.ALL) | {topics.dead_letter(topic) for topic in topics.ALL}


def test_each_event_goes_on_its_topic_keyed_by_contact_id() -> None:
    document = asyncapi()
    by_address = {channel["address"]: channel for channel in document["channels"].values()}
    for event_type, model in EVENT_TYPES.items():
        channel = by_address[EVENT_TOPICS[event_type]]
        message = _resolve(document, channel["messages"][model.__name__]["$ref"])
        assert message["name"] == event_type
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        envelope_ref, specific = message["payload"]["allOf"]
        assert _resolve(document, envelope_ref["$ref"])["title"] == "Envelope"
        assert specific["properties"]["event_type"] == {"const": event_type}
        payload = _resolve(document, specific["properties"]["payload"]["$ref"])
        assert payload["title"] == model.__name__
        assert set(payload["properties"]) == set(model.model_fields)


def test_producers_send_only_their_own_events() -> None:
    operations = asyncapi()["operations"]
    sends = {name for name, op in operations.items() if op["action"] == "send" and "dead_letters" not in name}
    assert sends == {"intake_sends_contacts", "recorder_sends_records", "auditor_sends_alerts"}


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES_DIR.glob("*.json")) if EXAMPLES_DIR.is_dir() else [None],
    ids=lambda p: getattr(p, "stem", "none"),
)
def test_the_json_schema_accepts_what_the_model_accepts(path: Path | None) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schema = json.loads(generate.render()[generate.JSON_DIR / "contact-create.schema.json"])
    validator = jsonschema_rs.Draft202012Validator(schema)
    bodies = list(ContactCreate.model_json_schema()["examples"])
    if path is not None:
        bodies.append(json.loads(path.read_text(encoding="utf-8"))["contact"])
    for body in bodies:
        assert validator.is_valid(body), list(validator.iter_errors(body))
    assert not validator.is_valid({**bodies[0], "priority": "high"})
    assert not validator.is_valid({**bodies[0], "channel": "pigeon"})
