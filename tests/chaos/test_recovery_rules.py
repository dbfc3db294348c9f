"""The supervisor's restart rules and the broker's fingerprint, as plain data: when to restart, when to give up,
when a broker has lost its log."""

from __future__ import annotations

import pytest

from crimerec.restarts import STABLE_AFTER_S, Failures, GiveUp, restart_delay
from services.runtime.broker_identity import BrokerFingerprint, lost_log


@pytest.mark.parametrize(("failures", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (50, 30.0)])
def test_restart_delay_doubles_from_half_a_second_to_half_a_minute(failures: int, delay: float) -> None:
    """Backoff: half a second first, doubling, never more than 30 s."""
    assert restart_delay(failures) == delay


def test_a_process_killed_after_running_healthily_is_restarted_at_once_every_time() -> None:
    """Kills minutes apart are separate faults: each restart waits only the first delay, and it never gives up."""
    failures = Failures()
    started = 0.0
    for _kill in range(10):
        at = started + STABLE_AFTER_S + 5
        assert failures.died(code=-9, started_at=started, now=at, give_up_after=180) == 0.5
        assert failures.count == 1
        started = at + 0.5


def test_a_process_that_keeps_failing_at_start_backs_off_then_gives_up_saying_why() -> None:
    """A crash loop (never up for STABLE_AFTER_S) waits longer each time and, after give_up_after, raises GiveUp."""
    failures = Failures()
    now, delays = 0.0, []
    with pytest.raises(GiveUp, match=r"kept failing for \d+ s \(\d+ times in a row, last exit 3\)"):
        while True:
            delays.append(failures.died(code=3, started_at=now, now=now + 1, give_up_after=120))
            now += 1 + delays[-1]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert now >= 120 - 30


def test_restarts_that_never_succeed_count_as_one_fault_even_long_after_the_last_good_start() -> None:
    """An engine that will not start again: its last good start was long ago, but the failures still add up."""
    failures = Failures()
    with pytest.raises(GiveUp):
        for attempt in range(1000):
            failures.died(code=None, started_at=0.0, now=1000.0 + attempt * 10, give_up_after=180)


def _print(cluster: str | None, **ends: int) -> BrokerFingerprint:
    return BrokerFingerprint(cluster_id=cluster, end_offsets={k.replace("_", ":"): v for k, v in ends.items()})


@pytest.mark.parametrize(
    ("before", "now", "lost"),
    [
        (None, _print("c1"), None),  # nothing known before: nothing to have lost
        (_print("c1", contacts_0=5), _print("c1", contacts_0=5), None),
        (_print("c1", contacts_0=5), _print("c1", contacts_0=9), None),  # grew
        (_print("c1", contacts_0=5), _print("c2", contacts_0=9), "cluster id c1 is now c2"),
        (_print("c1", contacts_0=5), _print("c1"), "contacts:0 is gone"),  # topic deleted, broker restarted empty
        (_print("c1", contacts_0=5), _print("c1", contacts_0=2), "contacts:0 ends at 2, before the 5"),
        (_print(None, contacts_0=5), _print("c1", contacts_0=5), None),  # a broker that names no cluster
    ],
)
def test_a_broker_has_lost_its_log_when_its_cluster_topics_or_end_offsets_went_back(
    before: BrokerFingerprint | None, now: BrokerFingerprint, lost: str | None
) -> None:
    """lost_log says why (or None), for re-seeding from the outboxes."""
    why = lost_log(before, now)
    if lost is None:
        assert why is None
    else:
        assert why is not None and why.startswith(lost)


def test_a_fingerprint_survives_the_state_folder() -> None:
    """Written as JSON, read back the same."""
    fingerprint = _print("c1", contacts_0=5, records_3=7)
    assert BrokerFingerprint.from_json(fingerprint.to_json()) == fingerprint
