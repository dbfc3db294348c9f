"""`crimerec simulate` and `crimerec evaluate`: a force's weeks played through the public APIs, and the auditor's
findings compared with the truth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crimerec.simulation.driver import Clients, Driver
from crimerec.simulation.plan import Plan


async def simulate(
    plan: Plan,
    clients: Clients,
    keys: dict[str, str],
    *,
    speed: float | None = None,
    advance: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """Plays the plan; returns the ground truth with the ids the system gave, and what the run did."""
    driver = Driver(plan, clients, keys, speed=speed, advance=advance)
    outcome = await driver.run()
    truth = plan.truth()
    truth["screening_reviews"] = driver.reviewer.reviews  # what the supervisors did with the positive screens
    truth["screening"] = await driver.reviewer.results()  # what the screener said, by contact id
    for reference, contact_id in outcome.contact_ids.items():
        truth["contacts"][reference]["contact_id"] = contact_id
    truth["last_step_at"] = outcome.last_step_at.isoformat() if outcome.last_step_at else plan.start.isoformat()
    truth["run_stats"] = {
        "steps": outcome.steps,
        "contacts": outcome.contacts,
        "seconds": round(outcome.seconds, 2),
        "barriers": outcome.barriers,
        "waiting_seconds": round(outcome.waiting, 2),
        "settling_seconds": round(outcome.settling, 2),
        "contacts_per_second": round(outcome.contacts / outcome.seconds, 1) if outcome.seconds else None,
        "refused": outcome.refused,
    }
    return truth
