"""`CRIMEREC_RECORDER_SCREENING`: on by default; off (only to measure what screening costs) the recorder's policy
screens nothing."""

from __future__ import annotations

import pytest

from services.recorder.app import create_app
from services.recorder.settings import RecorderSettings


@pytest.mark.parametrize(("value", "screens"), [(None, True), ("true", True), ("false", False)])
def test_screening_is_on_unless_switched_off(monkeypatch: pytest.MonkeyPatch, value: str | None, screens: bool) -> None:
    if value is None:
        monkeypatch.delenv("CRIMEREC_RECORDER_SCREENING", raising=False)
    else:
        monkeypatch.setenv("CRIMEREC_RECORDER_SCREENING", value)
    app = create_app(RecorderSettings())
    assert (app.state.policy.screener is not None) is screens
