"""Intake's OpenAPI document is enough for a call-handling system vendor to integrate from `/docs` alone (issue 3)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate, catalogue_problems
from tests.conftest import Services

ERRORS = ["400", "401", "403", "409", "413", "422"]


@pytest.fixture(scope="module")
async def openapi(services: Services) -> dict[str, Any]:
    response = await services.intake.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        node = document["components"]["schemas"][name]
    return node


def _post(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"]["/v1/contacts"]["post"]
    return operation


async def test_the_docs_are_served(services: Services) -> None:
    docs = await services.intake.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text


def test_post_contacts_documents_the_idempotency_key_header(openapi: dict[str, Any]) -> None:
    [header] = [p for p in _post(openapi)["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert "255" in header["description"]
    assert "retry" in header["description"].lower()


def test_the_idempotency_key_is_documented_as_required_and_bounded(openapi: dict[str, Any]) -> None:
    [header] = [p for p in _post(openapi)["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["required"] is True
    assert header["schema"].get("maxLength") == 255


def test_post_contacts_has_request_examples_that_intake_accepts(openapi: dict[str, Any]) -> None:
    body = _post(openapi)["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    schema = _resolve(openapi, media["schema"])
    examples = list(schema.get("examples", [])) + [e["value"] for e in media.get("examples", {}).values()]
    assert len(examples) >= 2
    catalogue = OffenceCatalogue.default()
    for example in examples:
        contact = TypeAdapter(ContactCreate).validate_python(example)
        assert catalogue_problems(contact, catalogue) == []
    # The fields of the contract are described for the vendor.
    for name in ("force", "source", "channel", "received_at", "reporter", "victims", "offences", "narrative"):
        assert schema["properties"][name].get("description"), name
    assert schema.get("additionalProperties") is False


def test_post_contacts_documents_every_error_status(openapi: dict[str, Any]) -> None:
    responses = _post(openapi)["responses"]
    assert "201" in responses
    for status in ERRORS:
        assert status in responses, status
        assert responses[status]["description"], status
    for status in ("401", "403", "413", "422"):
        assert "application/problem+json" in responses[status]["content"], status


@pytest.mark.parametrize("status", ERRORS)
def test_every_error_status_is_documented_as_problem_json_with_its_schema(openapi: dict[str, Any], status: str) -> None:
    content = _post(openapi)["responses"][status].get("content", {})
    assert list(content) == ["application/problem+json"], content
    schema = _resolve(openapi, content["application/problem+json"].get("schema", {}))
    assert {"title", "status"} <= set(schema.get("properties", {}))


@pytest.mark.parametrize("path", ["/v1/contacts/{contact_id}", "/v1/contacts"])
def test_reads_document_their_404(openapi: dict[str, Any], path: str) -> None:
    assert "404" in openapi["paths"][path]["get"]["responses"]


def test_the_bearer_credential_is_documented(openapi: dict[str, Any]) -> None:
    schemes = openapi.get("components", {}).get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme", "").lower() == "bearer" for s in schemes.values())
    assert _post(openapi).get("security")


def test_metrics_documents_what_it_answers(openapi: dict[str, Any]) -> None:
    responses = openapi["paths"]["/metrics"]["get"]["responses"]
    assert {"401", "403"} <= set(responses)
    assert list(responses["200"]["content"]) == ["text/plain"]


def _unbounded(document: dict[str, Any], node: Any, path: str, seen: set[str]) -> list[str]:
    """Every string without maxLength (and not an enum, date or time) and every array without maxItems."""
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        if name in seen:
            return []
        return _unbounded(document, document["components"]["schemas"][name], path, seen | {name})
    found: list[str] = []
    unbounded_string = node.get("type") == "string" and "maxLength" not in node and "enum" not in node
    if unbounded_string and node.get("format") not in ("date", "date-time", "uuid"):
        found.append(path)
    if node.get("type") == "array" and "maxItems" not in node:
        found.append(path)
    for name, child in node.get("properties", {}).items():
        found += _unbounded(document, child, f"{path}.{name}", seen)
    for key in ("items", "additionalProperties"):
        found += _unbounded(document, node.get(key), f"{path}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for child in node.get(key, []):
            found += _unbounded(document, child, path, seen)
    return found


def test_every_string_and_list_of_a_contact_is_bounded(openapi: dict[str, Any]) -> None:
    schema = _post(openapi)["requestBody"]["content"]["application/json"]["schema"]
    assert _unbounded(openapi, schema, "body", set()) == []
