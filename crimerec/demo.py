"""Sample contacts for `crimerec up --demo`: one of each kind of recording decision, received just now."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any


def sample_contacts(*, force: str) -> list[dict[str, Any]]:
    """The shipped sample contacts for `force`, each with a fresh source reference and received a moment ago."""
    text = resources.files("crimerec").joinpath("sample_contacts.json").read_text()
    now = datetime.now(UTC).replace(microsecond=0)
    batch = uuid.uuid4().hex[:8]
    contacts: list[dict[str, Any]] = json.loads(text)
    for i, contact in enumerate(contacts):
        contact["force"] = force
        contact["source"]["reference"] = f"DEMO-{batch}-{i + 1:02d}"
        received = now - timedelta(minutes=len(contacts) - i)
        contact["received_at"] = received.isoformat()
        contact["occurred_from"] = (received - timedelta(minutes=40)).isoformat()
        contact["occurred_to"] = (received - timedelta(minutes=30)).isoformat()
        if contact["location"]["force_area"] == "SELF":
            contact["location"]["force_area"] = force
    return contacts
