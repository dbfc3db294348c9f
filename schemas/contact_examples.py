"""Worked examples of intake's contact body, shown in its OpenAPI document."""

from __future__ import annotations

from typing import Any

EXAMPLE_SINGLE_VICTIM: dict[str, Any] = {
    "force": "GMP",
    "source": {"system": "STORM", "reference": "INC-0001"},
    "channel": "999",
    "received_at": "2026-11-02T21:14:00Z",
    "reporter": {"relationship": "victim", "name": "as victim", "phone": None, "email": None},
    "victims": [
        {
            "ref": "V1",
            "kind": "person",
            "name": "Dana Holt",
            "date_of_birth": None,
            "identified": True,
            "confirmed": True,
        }
    ],
    "incident": {"category": "crime", "opening_code": None, "qualifiers": []},
    "location": {"description": "as reported", "postcode": None, "force_area": "GMP"},
    "occurred_from": "2026-11-02T20:40:00Z",
    "occurred_to": "2026-11-02T20:50:00Z",
    "offences": [{"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None}],
    "credible_evidence_to_contrary": None,
    "narrative": "Caller was punched twice in the face outside a bar by an unknown man; nose bleeding, "
    "possibly broken.",
}

EXAMPLE_TWO_VICTIMS: dict[str, Any] = {
    "force": "GMP",
    "source": {"system": "STORM", "reference": "INC-0002"},
    "channel": "999",
    "received_at": "2026-11-02T21:14:00Z",
    "reporter": {"relationship": "witness", "name": "bar staff", "phone": None, "email": None},
    "victims": [
        {
            "ref": "V1",
            "kind": "person",
            "name": "Sam Ortiz",
            "date_of_birth": None,
            "identified": True,
            "confirmed": True,
        },
        {
            "ref": "V2",
            "kind": "person",
            "name": "Lee Ward",
            "date_of_birth": None,
            "identified": True,
            "confirmed": True,
        },
    ],
    "incident": {"category": "crime", "opening_code": None, "qualifiers": []},
    "location": {"description": "as reported", "postcode": None, "force_area": "GMP"},
    "occurred_from": "2026-11-02T20:40:00Z",
    "occurred_to": "2026-11-02T20:50:00Z",
    "offences": [
        {"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None},
        {"victim_ref": "V2", "ho_class": "105A", "offender_ref": "S1", "incident_ref": None},
    ],
    "credible_evidence_to_contrary": None,
    "narrative": "Door staff report a man glassed one customer (cut to the head) and pushed a second to the "
    "floor, uninjured. Both customers present and want it reported.",
}

EXAMPLE_ASB_MINIMAL: dict[str, Any] = {
    "force": "GMP",
    "source": {"system": "online-form", "reference": "WEB-20261102-0042"},
    "channel": "online",
    "received_at": "2026-11-02T22:05:00+00:00",
    "reporter": {"relationship": "victim"},
    "incident": {"category": "asb"},
    "narrative": "Loud music from a house party two doors down.",
}
