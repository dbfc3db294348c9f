"""How many crimes the counting rules require for a contact, judged independently of the recorder."""

from __future__ import annotations

from schemas.contacts import ContactCreate


def expected_crimes(contact: ContactCreate) -> int:
    """HOCR section D (one crime per victim) and E (one per incident per victim): distinct victim-incident pairs."""
    victimless = sum(1 for offence in contact.offences if offence.victim_ref is None)
    pairs = {(o.victim_ref, o.incident_ref) for o in contact.offences if o.victim_ref is not None}
    return len(pairs) + victimless
