"""A simulation through all three services: contacts sent at simulated times are recorded at those times.

The simulated stack runs on its own database (each service's tables are shared by every instance on one database)
and its own topic prefix, with `simulated_clock` on and the auditor judging by event time, as `crimerec simulate`
runs it. Requests say their time in the `Crimerec-Simulated-Time` header; every event is handled at its own time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr

from crimerec import stack
from schemas import topics
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, AuthorityMode, ContactReceived, Role, envelope_for
from services.recorder.rules.authority import AuthorityPolicy
from services.runtime.clock import SIMULATED_TIME_HEADER
from services.runtime.messaging import encode_event, event_headers
from services.runtime.settings import EngineSettings
from tests.conftest import FORCE, Server, create_database, drop_database
from tests.support import contact, eventually, idempotency_key

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def reported(*, received_at: datetime, occurred_before: datetime | None = None) -> dict[str, Any]:
    """A contact body received at `received_at`, about an incident an hour to half an hour before `occurred_before`
    (by default, before its receipt)."""
    occurred = occurred_before or received_at
    return contact(
        received_at=received_at.isoformat(),
        occurred_from=(occurred - HOUR).isoformat(),
        occurred_to=(occurred - HOUR / 2).isoformat(),
    )


def received(contact_id: UUID, *, received_at: datetime, at: datetime) -> Envelope:
    """contact.received as intake publishes it at simulated time `at`, for a contact received at `received_at`."""
    body = reported(received_at=received_at)
    payload = ContactReceived(
        contact_id=contact_id,
        force=FORCE,
        received_at=received_at,
        submitted_by=Actor(principal="simulated-call-handler", roles=[Role.CALL_HANDLER], force=FORCE),
        contact=ContactCreate.model_validate(body),
    )
    return envelope_for(payload, producer="intake", correlation_id=contact_id, occurred_at=at)


@dataclass
class Simulation:
    """intake, recorder and auditor started for a simulation, and a key per role."""

    intake: httpx.AsyncClient
    recorder: httpx.AsyncClient
    auditor: httpx.AsyncClient
    keys: dict[str, str]
    engines: EngineSettings

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role.value]}"}

    async def report(self, *, received_at: datetime, sent_at: datetime) -> str:
        """A call handler's contact received at `received_at`, posted at simulated time `sent_at`; its id."""
        response = await self.post_contact(reported(received_at=received_at), sent_at=sent_at)
        assert response.status_code == 201, response.text
        contact_id: str = response.json()["contact_id"]
        return contact_id

    async def post_contact(self, body: dict[str, Any], *, sent_at: datetime) -> httpx.Response:
        """A call handler posts `body` to intake at simulated time `sent_at`."""
        return await self.intake.post(
            "/v1/contacts",
            json=body,
            headers=self.auth(Role.CALL_HANDLER) | idempotency_key() | {SIMULATED_TIME_HEADER: sent_at.isoformat()},
        )

    async def decision(self, contact_id: str) -> dict[str, Any]:
        """The recorder's decision, once made."""

        async def decided() -> dict[str, Any]:
            r = await self.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=self.auth(Role.OFFICER))
            return r.json() if r.status_code == 200 else {}

        return await eventually(decided, within=30)

    async def crime(self, crime_reference: str) -> dict[str, Any]:
        r = await self.recorder.get(f"/v1/crimes/{crime_reference}", headers=self.auth(Role.OFFICER))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
async def simulation(pg_server: Server, engines: EngineSettings) -> AsyncIterator[Simulation]:
    """The three services with `simulated_clock` on, on a fresh database and topic prefix; dropped afterwards."""
    from services.auditor.app import create_app as auditor_app
    from services.auditor.settings import AuditorSettings
    from services.intake.app import create_app as intake_app
    from services.intake.settings import IntakeSettings
    from services.recorder.app import create_app as recorder_app
    from services.recorder.settings import RecorderSettings

    url = create_database(pg_server, prefix="crimerec_simulation")
    try:
        await asyncio.to_thread(stack.migrate_all, url)
        settings = engines.model_copy(
            update={
                "database_url": SecretStr(url),
                "topic_prefix": f"sim{uuid.uuid4().hex[:6]}.",
                "simulated_clock": True,
                "database_pool_size": 3,
            }
        )
        await stack.prepare_broker(settings, republish=False)
        keys = await stack.issue_keys(settings, force=FORCE, roles=list(Role), label="simulation")
        apps = [
            intake_app(IntakeSettings(engines=settings)),
            # As `crimerec up --simulation`: the authority matrix audited, not enforced, so wrong authorisers get
            # through and the auditor must find them.
            recorder_app(RecorderSettings(engines=settings, authority=AuthorityPolicy(mode=AuthorityMode.AUDIT))),
            auditor_app(AuditorSettings(engines=settings, clock="event_time", sweep_seconds=0.2, victim_notice_days=1)),
        ]
        async with contextlib.AsyncExitStack() as exit_stack:
            clients: dict[str, httpx.AsyncClient] = {}
            for app, name in zip(apps, ("intake", "recorder", "auditor"), strict=True):
                await exit_stack.enter_async_context(app.router.lifespan_context(app))
                client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
                clients[name] = await exit_stack.enter_async_context(client)
            yield Simulation(**clients, keys=keys, engines=settings)
    finally:
        drop_database(pg_server, url)


async def test_a_contact_is_recorded_at_its_simulated_time_under_that_years_reference(simulation: Simulation) -> None:
    received_at = datetime(2016, 3, 14, 10, 0, tzinfo=UTC)
    sent_at = received_at + 4 * MINUTE + timedelta(seconds=30)

    contact_id = await simulation.report(received_at=received_at, sent_at=sent_at)

    decision = await simulation.decision(contact_id)
    assert decision["outcome"] == "recorded"
    assert datetime.fromisoformat(decision["decided_at"]) == sent_at  # not the wall clock, not the receipt time
    assert datetime.fromisoformat(decision["recording_deadline"]) == received_at + 24 * HOUR
    [crn] = decision["crime_references"]
    assert re.fullmatch(rf"{FORCE}-2016-\d{{6}}", crn), crn

    crime = await simulation.crime(crn)
    assert datetime.fromisoformat(crime["recorded_at"]) == sent_at
    assert datetime.fromisoformat(crime["received_at"]) == received_at
    assert [datetime.fromisoformat(h["at"]) for h in crime["history"]] == [sent_at]


async def test_intake_refuses_a_contact_received_after_the_simulated_time(simulation: Simulation) -> None:
    # Years before the wall clock, but an hour after the simulation's time: in the simulation's future.
    sent_at = datetime(2016, 5, 9, 14, 0, tzinfo=UTC)
    received_at = sent_at + HOUR
    body = reported(received_at=received_at, occurred_before=sent_at)
    response = await simulation.post_contact(body, sent_at=sent_at)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.received_at"]
    found = await simulation.intake.get(
        "/v1/contacts",
        params={"source_system": body["source"]["system"], "source_reference": body["source"]["reference"]},
        headers=simulation.auth(Role.OFFICER),
    )
    assert found.status_code == 404, found.text


async def test_events_handled_in_one_batch_each_take_their_own_time_and_year(simulation: Simulation) -> None:
    # Two contacts either side of new year, published as one record batch on one partition (as a busy intake's
    # relay would), so the recorder decides both in one run: each must still be decided at its own time.
    old_year = datetime(2016, 12, 31, 23, 55, tzinfo=UTC)
    new_year = datetime(2017, 1, 1, 0, 5, tzinfo=UTC)
    envelopes = [received(uuid.uuid4(), received_at=at - MINUTE, at=at) for at in (old_year, new_year)]
    producer = AIOKafkaProducer(
        bootstrap_servers=simulation.engines.kafka_bootstrap,
        acks="all",
        enable_idempotence=simulation.engines.kafka_enable_idempotence,
    )
    await producer.start()
    try:
        batch = producer.create_batch()
        for envelope in envelopes:
            appended = batch.append(
                timestamp=None,
                key=str(envelope.contact_id).encode(),
                value=encode_event(envelope),
                headers=event_headers(envelope),
            )
            assert appended is not None
        await (await producer.send_batch(batch, simulation.engines.topic(topics.CONTACTS), partition=0))
    finally:
        await producer.stop()

    for envelope in envelopes:
        at = envelope.occurred_at
        decision = await simulation.decision(str(envelope.contact_id))
        assert datetime.fromisoformat(decision["decided_at"]) == at
        [crn] = decision["crime_references"]
        assert re.fullmatch(rf"{FORCE}-{at.year}-\d{{6}}", crn), (crn, at)
        assert datetime.fromisoformat((await simulation.crime(crn))["recorded_at"]) == at


async def test_the_auditor_judges_by_the_latest_event_time_and_finds_the_record_on_time(
    simulation: Simulation,
) -> None:
    # Later than every other contact of this module, so it is the latest event whatever ran before.
    received_at = datetime(2018, 6, 1, 8, 30, tzinfo=UTC)
    sent_at = received_at + 3 * MINUTE
    contact_id = await simulation.report(received_at=received_at, sent_at=sent_at)
    auditor = simulation.auth(Role.AUDITOR)

    async def audited() -> dict[str, Any]:
        r = await simulation.auditor.get(f"/v1/contacts/{contact_id}", headers=auditor)
        return r.json() if r.status_code == 200 and r.json()["status"] == "recorded" else {}

    view = await eventually(audited, within=30)
    # Recorded at its simulated time, a few minutes after receipt: on time, so nothing to flag.
    assert view["flags"] == []
    [crime] = view["recorded_crimes"]
    assert crime["crime_reference"].startswith(f"{FORCE}-2018-")

    async def caught_up() -> dict[str, Any]:
        r = await simulation.auditor.get("/v1/clock", headers=auditor)
        assert r.status_code == 200, r.text
        reading: dict[str, Any] = r.json()
        # A partition that has just caught up holds the watermark at its own time for a moment (an event may still
        # be on its way to it): the clock reaches the latest event time once every partition has been idle that long.
        reached = reading["now"] is not None and datetime.fromisoformat(reading["now"]) >= sent_at
        return reading if reading["caught_up"] and reached else {}

    reading = await eventually(caught_up, within=30)
    assert reading["mode"] == "event_time"
    assert reading["now"] is not None
    assert datetime.fromisoformat(reading["now"]) == sent_at


# ------------------------------------------------------------------------------------------------ simulate + evaluate


def _eventful_profile() -> Any:
    """The default profile with people who err often, so three simulated days inject a breach of every rule the
    events show."""
    from crimerec.simulation.plan import Profile

    profile = Profile.load("default")
    return profile.model_copy(
        update={
            "contacts_per_day": 60,
            "cancellation_rate": {"rape": 0.5, "other_sexual": 0.4, "violence": 0.25, "robbery": 0.4, "other": 0.1},
            "cancellations_correct": {"rape": 0.5, "other_sexual": 0.5, "violence": 0.5, "robbery": 0.5, "other": 1.0},
            "late_decision_share": 0.4,
            "reclassification_rate": 0.5,
            "victim_told_at_request": 0.3,
            "victim_told_later": 0.3,
            "downgrade_without_information": 0.6,
            # Incidents with several victims, some in another force's area: each victim must be told of the transfer.
            "multi_victim_share": 0.3,
            "other_force_area_share": 0.15,
        }
    )


async def test_a_simulation_evaluated_finds_every_injected_breach_and_no_other(simulation: Simulation) -> None:
    from crimerec.simulation import simulate
    from crimerec.simulation.driver import Clients
    from crimerec.simulation.evaluate import evaluate, passed, read_auditor
    from crimerec.simulation.plan import plan

    start = datetime(2019, 6, 3, tzinfo=UTC)
    the_plan = plan(
        _eventful_profile(),
        seed=23,
        force=FORCE,
        start=start,
        days=3,
        run=uuid.uuid4().hex[:6],
        victim_notice=timedelta(days=1),
    )
    clients = Clients(simulation.intake, simulation.recorder, simulation.auditor)
    truth = await simulate(the_plan, clients, simulation.keys)
    assert truth["run_stats"]["refused"] == []

    view = await read_auditor(simulation.auditor, simulation.keys["auditor"], truth, patience=120)
    result = evaluate(truth, view)

    injected = {row["rule"]: row["injected"] for row in result["rules"]}
    for rule in ("MISSING_RECORD", "LATE_RECORD", "UNJUSTIFIED_NON_CRIME", "HIGH_RISK_CANCELLATION",
                 "CANCELLATION_WRONG_AUTHORITY", "CANCELLATION_VICTIM_NOT_TOLD", "DOWNGRADE"):  # fmt: skip
        assert injected[rule] > 0, f"the plan injected no {rule} by {view.clock}: the test would prove nothing about it"
    # Positive narrative screens (right or wrong) left unreviewed by the simulated supervisors: the rule is exact
    # whatever the screener says, because what it said is read back from the recorder.
    assert injected["HIDDEN_CRIME_UNREVIEWED"] > 0, "no positive screen was left unreviewed: nothing proved"
    assert result["screening"]["contacts"] > 0 and result["screening"]["not_screened"] == 0
    assert result["screening_reviews"]["reviewed_on_time"] > 0
    assert passed(result) == [], result
    assert result["hidden_in_narrative"]["crimes"] > 0
    # The hidden ones no review recorded are the gap between the truth and what the events show.
    overall, hidden = result["recording_rate"]["overall"], result["hidden_in_narrative"]
    unseen = hidden["crimes"] - hidden["recorded_by_review"]
    assert overall["true_should"] - overall["true_should_visible_in_events"] == unseen
    assert overall["true_rate"] <= overall["true_rate_visible_in_events"]
