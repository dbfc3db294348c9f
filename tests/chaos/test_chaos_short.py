"""The short chaos run of the test suite: 1,000 contacts through `crimerec up` (embedded engines) while each service
and the broker are SIGKILLed once; nothing acknowledged may be lost or duplicated. `make chaos` is the long one."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from crimerec.chaos.run import ChaosOptions, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_a_thousand_contacts_survive_a_kill_of_each_service_and_of_the_broker(tmp_path: Path) -> None:
    """Every acknowledged contact is stored, decided, recorded once and audited; no duplicate record or event; no
    flag (none is called for); every kill recovered."""
    options = ChaosOptions(
        contacts=1000,
        rate=25,
        clients=6,
        kills_per_service=1,
        kill_broker=True,
        kill_database=False,
        kill_everything=False,
        seed=7,
        data_dir=tmp_path / "stack",
    )
    result = run_chaos(options, Console(width=120, force_terminal=False))
    verdict = result.verdict
    assert verdict.acknowledged >= 1000
    assert not result.load.refused
    assert verdict.lost == 0, verdict.stages
    assert verdict.duplicated == 0, verdict.duplicates
    assert verdict.flags_found == verdict.flags_expected == 0
    assert sorted(k.target for k in result.kills) == ["auditor", "broker", "intake", "recorder"]
    assert all(k.ready_s is not None and k.through_s is not None for k in result.kills), result.kills
    assert result.held
