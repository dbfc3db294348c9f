"""The narrative screener's verdict on a contact not recorded at first contact: does its text disclose a crime?"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_EVIDENCE: Final = 20
MAX_EVIDENCE_CHARS: Final = 120


class OffenceFamily(StrEnum):
    """A broad family of offence a narrative may disclose; the screener suggests families, a person classifies."""

    VIOLENCE = "violence"
    SEXUAL = "sexual"
    THREATS_HARASSMENT = "threats_harassment"
    DOMESTIC_ABUSE = "domestic_abuse"
    THEFT_ROBBERY = "theft_robbery"
    CRIMINAL_DAMAGE = "criminal_damage"
    MODERN_SLAVERY = "modern_slavery"
    FRAUD = "fraud"


class ScreeningMode(StrEnum):
    """Which layers screened the text: phrase rules and the trained classifier, or the rules alone."""

    RULES_AND_MODEL = "rules+model"
    RULES_ONLY = "rules-only"


Evidence = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_EVIDENCE_CHARS,
        description="One short reason: a matched phrase (rule family/id: 'phrase') or a model feature, never the "
        "whole narrative.",
    ),
]


class ScreeningResult(BaseModel):
    """What the screener found in a contact's narrative and free text: a score, the suggested offence families,
    the phrases and features that drove it, and which screener said so."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float = Field(ge=0, le=1, description="How strongly the text discloses a crime, 0 to 1.")
    positive: bool = Field(description="Whether the score reaches the screener's threshold: a person should review.")
    families: list[OffenceFamily] = Field(
        default_factory=list,
        max_length=len(OffenceFamily),
        description="Offence families the text suggests, each at most once, strongest first.",
    )
    evidence: list[Evidence] = Field(
        default_factory=list,
        max_length=MAX_EVIDENCE,
        description="The matched phrases and model features that drove the score, strongest first.",
    )
    rules_score: float = Field(ge=0, le=1, description="The phrase rules' score alone.")
    model_score: float | None = Field(
        default=None, ge=0, le=1, description="The classifier's probability alone; null when it did not run."
    )
    screener_version: str = Field(
        min_length=1,
        max_length=100,
        description="The rules' version and the model's version, e.g. rules-1+model-2026.12.07-ab12cd34.",
    )
    mode: ScreeningMode = Field(description="rules+model, or rules-only when no model file could be loaded.")
    truncated: bool = Field(description="Whether the text was longer than the screener reads and was cut.")

    @field_validator("families")
    @classmethod
    def _families_once(cls, families: list[OffenceFamily]) -> list[OffenceFamily]:
        if len(set(families)) != len(families):
            raise ValueError("each offence family may be given once")
        return families
