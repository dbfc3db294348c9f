"""Topic names, in one place. A deployment may put a prefix in front of every name (runtime setting)."""

from typing import Final

CONTACTS: Final = "contacts"
"""Every contact received by intake (`contact.received`)."""

RECORDS: Final = "records"
"""Every recorder decision and crime lifecycle event."""

ALERTS: Final = "alerts"
"""Every flag the auditor raises or changes."""

ALL: Final = (CONTACTS, RECORDS, ALERTS)

DLQ_SUFFIX: Final = ".dlq"


def dead_letter(topic: str) -> str:
    """Names the dead-letter topic beside a topic."""
    return topic + DLQ_SUFFIX
