"""The auditor repeats the recording standard independently of the recorder; on every contact they must agree on
how many crimes the counting rules require, or the auditor would flag a correct recorder (or miss a wrong one)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings

from schemas.catalogue import OffenceCatalogue
from schemas.contacts import ContactCreate
from schemas.events import Outcome
from services.auditor.rules.counting import expected_crimes
from services.recorder.rules import decide
from tests.recorder.rules.test_decision import contacts

CATALOGUE = OffenceCatalogue.default()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contacts())
def test_recorder_and_auditor_agree_on_the_crimes_a_contact_requires(contact: ContactCreate) -> None:
    decision = decide(contact, catalogue=CATALOGUE, limit=timedelta(hours=24))
    required = expected_crimes(contact, CATALOGUE)
    if decision.outcome in (Outcome.RECORDED, Outcome.PENDING):
        assert len(decision.crimes) == required, (decision.outcome, decision.rationale, decision.problems)
    else:  # CRI and non-crime record nothing, and the auditor must expect nothing
        assert required == 0, (decision.outcome, decision.rationale)
