"""Narrative screening in the recorder (issue 18): a contact closed as something other than a crime is screened,
stored, served, queued and reviewed, and screening never loses a contact or stops the consumer."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.envelope import Envelope
from schemas.events import Actor, ContactReceived, Role, envelope_for
from services.recorder import first_contact
from services.recorder.models import decisions, outbox, screenings
from services.recorder.recording import RecorderPolicy
from services.recorder.rules.authority import AuthorityPolicy
from services.recorder.screening_model import load_screener
from services.runtime.database import create_session_factory
from services.runtime.messaging import unit_of_work
from tests.conftest import Keys, Services
from tests.recorder.helpers import PROBLEM_JSON, decided, events, payloads, types
from tests.support import contact

WELFARE = {"category": "public_safety", "opening_code": None, "qualifiers": []}
HIDDEN_ASSAULT = (
    "Concern for welfare. Caller says her partner punched her in the face last night and she has a cut lip; "
    "she is scared to go home."
)
BENIGN = "Concern for welfare: elderly man not seen by neighbours for two days; found safe and well at his daughter's."


def welfare(narrative: str, **changes: Any) -> dict[str, Any]:
    """A contact opened as concern for welfare, with no offence classified by the call handler."""
    return contact(incident=WELFARE, offences=[], narrative=narrative, **changes)


async def screening_of(services: Services, keys: Keys, contact_id: str, role: Role = Role.SUPERVISOR) -> Any:
    return await services.recorder.get(f"/v1/contacts/{contact_id}/screening", headers=keys.auth(role))


async def queue(services: Services, keys: Keys, **params: Any) -> list[dict[str, Any]]:
    """Every page of the force's review queue."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        query = params | ({"after": after} if after else {})
        r = await services.recorder.get("/v1/screening/reviews", params=query, headers=keys.auth(Role.SUPERVISOR))
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        after = page["next_after"]
        if after is None:
            return items


async def test_a_welfare_contact_disclosing_an_assault_is_screened_queued_and_recorded_on_review(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    contact_id, decision = await decided(services, keys, welfare(HIDDEN_ASSAULT))
    assert decision["outcome"] == "non_crime"

    r = await screening_of(services, keys, contact_id)
    assert r.status_code == 200, r.text
    screen = r.json()
    assert screen["positive"] is True and screen["mode"] == "rules+model"
    assert "violence" in screen["families"]
    assert any("punched" in e for e in screen["evidence"])
    assert screen["review_deadline"] == decision["recording_deadline"]  # received_at + 24 h
    assert screen["reviewed_at"] is None
    (screened,) = payloads(await events(db, contact_id), "contact.screened")
    assert screened["screened"] is True and screened["result"]["positive"] is True
    assert screened["outcome"] == "non_crime"

    queued = await queue(services, keys, family="violence", limit=2)
    assert contact_id in [item["contact_id"] for item in queued]
    deadlines = [item["review_deadline"] for item in queued]
    assert deadlines == sorted(deadlines)
    assert contact_id in [i["contact_id"] for i in await queue(services, keys, max_hours_left=25)]
    assert contact_id not in [i["contact_id"] for i in await queue(services, keys, max_hours_left=-1)]
    assert contact_id not in [i["contact_id"] for i in await queue(services, keys, family="fraud")]

    review = {
        "action": "record",
        "offences": [{"victim_ref": "V1", "ho_class": "8N", "offender_ref": "S1", "incident_ref": None}],
        "rationale": "The narrative discloses a punch causing a cut lip: assault with injury by her partner.",
    }
    r = await services.recorder.post(
        f"/v1/screening/reviews/{contact_id}", json=review, headers=keys.auth(Role.SUPERVISOR)
    )
    assert r.status_code == 200, r.text
    assert r.json()["review_outcome"] == "record" and r.json()["reviewed_at"] is not None

    r = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.SUPERVISOR))
    after = r.json()
    assert after["outcome"] == "recorded"
    (reference,) = after["crime_references"]
    assert reference.startswith("GMP-")
    assert after["recording_deadline"] == decision["recording_deadline"]  # the clock never resets
    crime = (await services.recorder.get(f"/v1/crimes/{reference}", headers=keys.auth(Role.SUPERVISOR))).json()
    assert crime["ho_class"] == "8N"
    envelopes = await events(db, contact_id)
    assert types(envelopes)[-3:] == ["crime.recorded", "contact.decided", "screening.reviewed"]
    (reviewed,) = payloads(envelopes, "screening.reviewed")
    assert reviewed["action"] == "record" and reviewed["crime_references"] == [reference]
    assert contact_id not in [i["contact_id"] for i in await queue(services, keys)]

    again = await services.recorder.post(
        f"/v1/screening/reviews/{contact_id}", json=review, headers=keys.auth(Role.DDM)
    )
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith(PROBLEM_JSON)


async def test_a_review_can_confirm_non_crime_with_a_rationale_and_only_once(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    contact_id, _ = await decided(services, keys, welfare("Caller says a man threatened to kill her over the fence."))
    assert (await screening_of(services, keys, contact_id)).json()["positive"] is True
    url = f"/v1/screening/reviews/{contact_id}"
    r = await services.recorder.post(url, json={"action": "confirm_non_crime"}, headers=keys.auth(Role.DDM))
    assert r.status_code == 422, r.text
    r = await services.recorder.post(
        url, json={"action": "confirm_non_crime", "rationale": "x" * 4001}, headers=keys.auth(Role.DDM)
    )
    assert r.status_code == 422, r.text
    body = {"action": "confirm_non_crime", "rationale": "Officer attended: the 'threat' was a line from a play."}
    r = await services.recorder.post(url, json=body, headers=keys.auth(Role.DDM))
    assert r.status_code == 200, r.text
    assert r.json()["review_outcome"] == "confirm_non_crime"
    decision = await services.recorder.get(f"/v1/contacts/{contact_id}/decision", headers=keys.auth(Role.DDM))
    assert decision.json()["outcome"] == "non_crime"
    (reviewed,) = payloads(await events(db, contact_id), "screening.reviewed")
    assert reviewed["action"] == "confirm_non_crime" and reviewed["crime_references"] == []
    assert (await services.recorder.post(url, json=body, headers=keys.auth(Role.FCR))).status_code == 409


async def test_a_benign_non_crime_is_screened_negative_and_not_queued(
    services: Services, keys: Keys, db: AsyncEngine
) -> None:
    contact_id, decision = await decided(services, keys, welfare(BENIGN))
    assert decision["outcome"] == "non_crime"
    screen = (await screening_of(services, keys, contact_id, Role.AUDITOR)).json()
    assert screen["positive"] is False
    # Kept by the recorder, published to nobody: only positive and failed screens are published.
    assert types(await events(db, contact_id)) == ["contact.decided"]
    assert contact_id not in [i["contact_id"] for i in await queue(services, keys)]
    r = await services.recorder.post(
        f"/v1/screening/reviews/{contact_id}",
        json={"action": "confirm_non_crime", "rationale": "Nothing to see."},
        headers=keys.auth(Role.SUPERVISOR),
    )
    assert r.status_code == 409, r.text


async def test_a_contact_recorded_at_first_contact_is_not_screened(services: Services, keys: Keys) -> None:
    contact_id, decision = await decided(services, keys, contact())
    assert decision["outcome"] == "recorded"
    assert (await screening_of(services, keys, contact_id)).status_code == 404


async def test_a_call_handler_may_neither_read_nor_review_and_another_force_sees_nothing(
    services: Services, keys: Keys
) -> None:
    contact_id, _ = await decided(services, keys, welfare(HIDDEN_ASSAULT))
    assert (await screening_of(services, keys, contact_id, Role.CALL_HANDLER)).status_code == 403
    review = {"action": "confirm_non_crime", "rationale": "Not a crime."}
    url = f"/v1/screening/reviews/{contact_id}"
    assert (await services.recorder.post(url, json=review, headers=keys.auth(Role.CALL_HANDLER))).status_code == 403
    assert (await services.recorder.post(url, json=review, headers=keys.auth(Role.OFFICER))).status_code == 403
    other = await services.recorder.get(
        f"/v1/contacts/{contact_id}/screening", headers=keys.auth(Role.SUPERVISOR, other=True)
    )
    assert other.status_code == 404, other.text
    r = await services.recorder.post(url, json=review, headers=keys.auth(Role.SUPERVISOR, other=True))
    assert r.status_code == 404, r.text
    mps_queue = await services.recorder.get(
        "/v1/screening/reviews", params={"force": "GMP"}, headers=keys.auth(Role.SUPERVISOR, other=True)
    )
    assert mps_queue.status_code == 403
    assert (await screening_of(services, keys, contact_id)).json()["reviewed_at"] is None


async def test_health_shows_how_screening_runs(services: Services) -> None:
    r = await services.recorder.get("/healthz")
    assert r.status_code == 200
    assert r.json()["screening"]["mode"] == "rules+model"
    assert r.json()["screening"]["model_version"]
    assert r.json()["screening"]["problem"] is None


# --------------------------------------------------------------------- the consumer's own path, bad input


def received(body: dict[str, Any], *, narrative: str | None = None) -> tuple[Envelope, ContactReceived]:
    """A contact.received as the recorder's consumer gets it; `narrative` may exceed what intake accepts (another
    source, a newer intake), so it is put in without intake's validation."""
    validated = ContactCreate.model_validate(body)
    if narrative is not None:
        validated = validated.model_copy(update={"narrative": narrative})
    payload = ContactReceived.model_construct(
        contact_id=uuid.uuid4(), force=validated.force, received_at=validated.received_at,
        submitted_by=Actor(principal="tests", roles=[Role.CALL_HANDLER], force=validated.force), contact=validated,
    )  # fmt: skip
    envelope = envelope_for(payload, producer="intake", correlation_id=payload.contact_id)
    return envelope, payload


def policy(screener: Any) -> RecorderPolicy:
    return RecorderPolicy(
        catalogue=OffenceCatalogue.default(), limit=timedelta(hours=24), authority=AuthorityPolicy(),
        force_authority={}, screener=screener,
    )  # fmt: skip


async def stored(db: AsyncEngine, contact_id: uuid.UUID) -> tuple[Any, Any]:
    async with db.connect() as conn:
        decision = (await conn.execute(select(decisions).where(decisions.c.contact_id == contact_id))).first()
        screen = (await conn.execute(select(screenings).where(screenings.c.contact_id == contact_id))).first()
    return decision, screen


async def test_with_the_model_file_missing_screening_runs_rules_only(db: AsyncEngine, tmp_path: Path) -> None:
    screener = load_screener(model_path=tmp_path / "no-such-model.json")
    assert screener.status["mode"] == "rules-only" and "not found" in screener.status["problem"]
    run = [received(welfare(HIDDEN_ASSAULT)), received(welfare(BENIGN))]
    async with unit_of_work(create_session_factory(db), outbox) as uow:
        await first_contact.record_contacts(uow, run, policy=policy(screener))
    (_, hidden), (_, benign) = [await stored(db, p.contact_id) for _, p in run]
    assert hidden.mode == "rules-only" and hidden.positive is True and "violence" in hidden.families
    assert benign.mode == "rules-only" and benign.positive is False


async def test_a_100_kb_narrative_is_screened_capped_and_the_contact_kept(db: AsyncEngine) -> None:
    huge = HIDDEN_ASSAULT + " " + ("The caller went on about the weather and the bins. " * 2000)
    assert len(huge) > 100_000
    envelope, payload = received(welfare(BENIGN), narrative=huge)
    async with unit_of_work(create_session_factory(db), outbox) as uow:
        await first_contact.record_contacts(uow, [(envelope, payload)], policy=policy(load_screener()))
    decision, screen = await stored(db, payload.contact_id)
    assert decision.outcome == "non_crime"
    assert screen.truncated is True and screen.positive is True
    assert any("cut at" in e for e in screen.evidence)


class BrokenScreener:
    """A screener with a defect: it raises, quoting the narrative in its message."""

    status: dict[str, Any] = {}

    def screen_contact(self, contact: ContactCreate, extra: tuple[str | None, ...] = ()) -> Any:
        raise RuntimeError(f"cannot read {contact.narrative}")


async def test_a_screener_that_raises_leaves_the_contact_decided_and_unscreened(
    db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    run = [received(welfare(HIDDEN_ASSAULT)), received(contact())]
    with caplog.at_level(logging.ERROR, logger="crimerec.recorder.screening"):
        async with unit_of_work(create_session_factory(db), outbox) as uow:
            await first_contact.record_contacts(uow, run, policy=policy(BrokenScreener()))
    (d1, s1), (d2, s2) = [await stored(db, p.contact_id) for _, p in run]
    assert d1.outcome == "non_crime" and d2.outcome == "recorded"
    assert s1.mode == "failed" and s1.positive is False and s1.score is None
    assert s2 is None  # recorded at first contact: not screened
    assert caplog.records and all("punched" not in r.getMessage() for r in caplog.records)
    assert all("punched" not in str(r.__dict__) for r in caplog.records)
    (screened,) = payloads(await events(db, str(run[0][1].contact_id)), "contact.screened")
    assert screened["screened"] is False and screened["result"] is None
    assert screened["problem"] == "screening raised RuntimeError"
