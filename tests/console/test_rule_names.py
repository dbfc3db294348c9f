"""The console cannot import the auditor (services never import each other), so it names the auditor's rules
itself: they must be the same list, or a rule's flags could not be filtered in the console."""

from __future__ import annotations

from services.auditor.rules.flags import Rule
from services.console.web import RULES


def test_the_console_offers_every_auditor_rule() -> None:
    assert set(RULES) == {rule.value for rule in Rule}
    assert len(RULES) == len(set(RULES))
