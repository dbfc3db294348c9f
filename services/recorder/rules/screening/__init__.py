"""The narrative screener (issue 18): phrase rules and a trained classifier read a contact's free text for a crime
the decision did not record. Pure: the rules' data and the model are passed in (services.recorder.screening_model
loads them)."""

from services.recorder.rules.screening.model import LinearTextModel, ModelScore, features
from services.recorder.rules.screening.phrases import PhraseRules, RuleFindings
from services.recorder.rules.screening.screen import THRESHOLD, combine, contact_text, screen_contact, screen_text
from services.recorder.rules.screening.text import SCREEN_CHARS, prepare_text

__all__ = [
    "SCREEN_CHARS",
    "THRESHOLD",
    "LinearTextModel",
    "ModelScore",
    "PhraseRules",
    "RuleFindings",
    "combine",
    "contact_text",
    "features",
    "prepare_text",
    "screen_contact",
    "screen_text",
]
