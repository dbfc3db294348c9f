"""The recording standard as pure functions: no I/O, tested with plain data."""

from services.recorder.rules.counting import CrimeToRecord, count_crimes
from services.recorder.rules.decision import (
    RULES_VERSION,
    Decision,
    PendingItem,
    PendingKind,
    decide,
    recording_deadline,
    rules_version,
)
from services.recorder.rules.policy import DEFAULT_POLICY, RecordingPolicy

__all__ = [
    "DEFAULT_POLICY",
    "RULES_VERSION",
    "CrimeToRecord",
    "Decision",
    "PendingItem",
    "PendingKind",
    "RecordingPolicy",
    "count_crimes",
    "decide",
    "recording_deadline",
    "rules_version",
]
