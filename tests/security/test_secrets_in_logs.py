"""No token, narrative or victim detail in the logs, at any level (issue 22, Secrets and logs).

Logging is set up as a service sets it up (`configure_logging`, JSON lines), at DEBUG, and every record is kept as
well. Marker strings are planted in a key, a narrative, a victim's and a reporter's name, a phone number, an email
address, a place and the credible evidence; contacts carrying them go through the whole pipeline (intake, recorder,
auditor, a person's decision), and through error paths (422 with the narrative in the wrong field, 401 with a bad
key, 409 for a source reference used twice, a poison event on the contacts topic). Then every record, and every
JSON line the services wrote, is searched for the markers.
"""

from __future__ import annotations

import io
import logging
import secrets
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.events import Role
from services.runtime.logs import configure_logging
from services.runtime.settings import EngineSettings
from tests.conftest import Services
from tests.security.support import Force, area, bearer, damage, decision, force_keys, submit
from tests.support import eventually, idempotency_key

FORCE = "LAN"


class Keep(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Logs:
    """What the services logged while a test ran: the records, and the JSON lines `configure_logging` wrote."""

    kept: Keep
    json_lines: io.StringIO
    markers: dict[str, str] = field(default_factory=dict)

    def plant(self, what: str, value: str | None = None) -> str:
        """A marker for one kind of secret; returns it."""
        marker = value or f"{what.replace(' ', '')}{uuid.uuid4().hex[:12]}"
        self.markers[what] = marker
        return marker

    def texts(self) -> Iterator[tuple[str, str]]:
        """Every record as text (message, arguments, extra fields, exception) and every JSON line."""
        for record in self.kept.records:
            parts = [record.getMessage(), repr(record.args)]
            parts += [repr(v) for k, v in record.__dict__.items() if k not in ("msg", "args", "exc_info")]
            if record.exc_info:
                parts.append(logging.Formatter().formatException(record.exc_info))
            yield f"{record.name}: {record.getMessage()[:200]}", "\n".join(parts)
        for line in self.json_lines.getvalue().splitlines():
            yield f"json: {line[:200]}", line

    def leaks(self) -> list[str]:
        """Which markers show up where."""
        return [
            f"{what} in {where}"
            for where, content in self.texts()
            for what, marker in self.markers.items()
            if marker in content
        ]


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Logs]:
    """The process's logging as a service configures it, at DEBUG, captured; put back as it was afterwards.

    configure_logging keeps aiokafka at WARNING whatever the level: at DEBUG aiokafka logs the first bytes of every
    record it produces (a narrative, a name), so that pin is a control, and this test runs with it."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    pinned = {name: logging.getLogger(name).level for name in ("aiokafka", "kafka")}
    json_lines = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", json_lines)  # configure_logging's handler writes to the stderr of the moment
        configure_logging("crimerec-security-test", "DEBUG")
    kept = Keep()
    root.addHandler(kept)
    try:
        yield Logs(kept, json_lines)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in pinned.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
async def lan(engines: EngineSettings) -> Force:
    """Lancashire's keys (a force no other test uses)."""
    return Force(FORCE, await force_keys(engines, FORCE, "security-logs"))


def marked_contact(logs: Logs, **changes: Any) -> dict[str, Any]:
    """A LAN contact whose personal details and narrative carry fresh markers."""
    phone = logs.plant("phone", "07" + "".join(secrets.choice("0123456789") for _ in range(9)))
    body = damage(
        FORCE,
        reporter={
            "relationship": "witness",
            "name": logs.plant("reporter name"),
            "phone": phone,
            "email": f"{logs.plant('email')}@example.org",
        },
        victims=[
            {
                "ref": "V1",
                "kind": "person",
                "name": logs.plant("victim name"),
                "date_of_birth": "1980-02-03",
                "identified": True,
                "confirmed": True,
            }
        ],
        location=area(FORCE) | {"description": f"Flat 3, {logs.plant('address')} Street"},
        narrative=f"{logs.plant('narrative')}: the front window was smashed with a brick.",
    )
    body.update(changes)
    return body


async def test_a_contact_through_the_whole_pipeline_leaves_no_secret_in_the_logs(
    services: Services, lan: Force, logs: Logs
) -> None:
    token = lan.keys[Role.CALL_HANDLER]
    logs.plant("call handler's key", token.split("_", 2)[2])
    for role in (Role.OFFICER, Role.AUDITOR):
        logs.plant(f"{role.value}'s key", lan.keys[role].split("_", 2)[2])

    body = marked_contact(logs)
    contact_id = await submit(services, lan, body)
    decided = await decision(services, lan, contact_id)
    assert decided["outcome"] == "recorded", decided
    crime = decided["crime_references"][0]

    # Read it back everywhere it is shown.
    read = await services.intake.get(f"/v1/contacts/{contact_id}", headers=lan.auth(Role.OFFICER))
    assert read.status_code == 200 and logs.markers["narrative"] in read.text
    assert (await services.recorder.get(f"/v1/crimes/{crime}", headers=lan.auth(Role.OFFICER))).status_code == 200

    async def audited() -> bool:
        r = await services.auditor.get(f"/v1/contacts/{contact_id}", headers=lan.auth(Role.AUDITOR))
        return r.status_code == 200 and r.json()["status"] == "recorded"

    await eventually(audited)

    # A contact a person decides, with credible evidence in their own words.
    pending = marked_contact(
        logs,
        reporter={"relationship": "third_party", "name": logs.plant("neighbour"), "phone": None, "email": None},
        victims=[
            {
                "ref": "V1",
                "kind": "person",
                "name": logs.plant("unconfirmed victim"),
                "date_of_birth": None,
                "identified": True,
                "confirmed": False,
            }
        ],
    )
    pending_id = await submit(services, lan, pending)
    assert (await decision(services, lan, pending_id))["outcome"] == "pending"
    resolved = await services.recorder.post(
        f"/v1/contacts/{pending_id}/decision",
        json={"outcome": "cri", "rationale": "CCTV reviewed.", "credible_evidence": logs.plant("evidence")},
        headers=lan.auth(Role.OFFICER),
    )
    assert resolved.status_code == 200, resolved.text

    # The same source reference again: 409, which names the reference but must not log the contact.
    again = await services.intake.post(
        "/v1/contacts", json=body, headers=lan.auth(Role.CALL_HANDLER) | idempotency_key()
    )
    assert again.status_code == 409, again.text

    assert logs.kept.records, "nothing was logged at all: is the capture working?"
    assert not logs.leaks()


async def test_refused_requests_leave_no_secret_in_the_logs(services: Services, lan: Force, logs: Logs) -> None:
    headers = lan.auth(Role.CALL_HANDLER)
    logs.plant("call handler's key", lan.keys[Role.CALL_HANDLER].split("_", 2)[2])
    narrative = logs.plant("narrative")
    for wrong in (
        {"channel": narrative},  # the narrative in a field that takes one of a few words
        {"victims": [{"ref": "V1", "kind": "person", "name": narrative, "date_of_birth": narrative}]},
        {"narative": narrative},  # an unknown field
        {"narrative": narrative + " x" * 40_000},  # too long
    ):
        body = marked_contact(logs) | wrong
        response = await services.intake.post("/v1/contacts", json=body, headers=headers | idempotency_key())
        assert response.status_code in (413, 422), response.text

    bad_secret = logs.plant("bad key", f"TokenMarker{uuid.uuid4().hex}")
    for key in (f"crk_{'0' * 16}_{bad_secret}", f"crk_{lan.keys[Role.ADMIN].split('_', 2)[1]}_{bad_secret}"):
        for client, path in (
            (services.intake, "/v1/contacts"),
            (services.recorder, "/v1/pending"),
            (services.auditor, "/v1/flags"),
        ):
            assert (await client.get(path, headers=bearer(key))).status_code == 401
    assert not logs.leaks()


async def test_a_poison_event_is_dead_lettered_without_its_content_in_the_logs(
    services: Services, engines: EngineSettings, logs: Logs
) -> None:
    narrative = logs.plant("narrative")
    victim = logs.plant("victim name")
    producer = AIOKafkaProducer(bootstrap_servers=engines.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # Cut off mid-way, as a broken producer might send it: not JSON, so not an event.
        value = f'{{"payload": {{"narrative": "{narrative}", "victims": [{{"name": "{victim}"'.encode()
        await producer.send_and_wait(engines.topic_prefix + topics.CONTACTS, value, key=uuid.uuid4().bytes)
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        return any(r.getMessage() == "event dead-lettered" for r in logs.kept.records)

    await eventually(dead_lettered)
    assert not logs.leaks()
