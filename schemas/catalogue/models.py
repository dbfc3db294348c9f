"""Forces and Home Office offence classes, as the services exchange them."""

from __future__ import annotations

import functools
import math
import re
from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

LIFE: Final = math.inf
"""The maximum sentence of a class punishable by life ('life' in offences.csv): above every term."""

FRAUD_GROUP: Final = "Fraud offences"
"""The offence group that forces do not record: fraud is recorded nationally by Action Fraud."""

ForceCode = Annotated[
    str,
    Field(
        min_length=2,
        max_length=8,
        pattern=r"^[A-Z]{2,8}$",
        description="crimerec's short code for a police force, e.g. GMP (data/forces.csv).",
        examples=["GMP"],
    ),
]
"""The shape of a force code; whether the force exists is checked against FORCES where it matters."""

HoClass = Annotated[
    str,
    Field(
        min_length=1,
        max_length=10,
        pattern=r"^[0-9]{1,4}[A-Z]{0,2}(/[0-9]{1,3})?$",
        description="Home Office offence class, in the counting rules' form: 8N, 105A, 19C, 4/1, 37/2.",
        examples=["8N"],
    ),
]
"""The shape of a Home Office class code; whether a force may record under it is the catalogue's business."""


class AuditCategory(StrEnum):
    """The inspectorate's audit categories: rape, other sexual offences, violence, robbery (and other)."""

    RAPE = "rape"
    OTHER_SEXUAL = "other_sexual"
    VIOLENCE = "violence"
    ROBBERY = "robbery"
    OTHER = "other"


class Force(BaseModel):
    """A territorial police force of England and Wales, or British Transport Police."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ForceCode
    name: str = Field(min_length=1, max_length=100, description="The force's name.")


class Offence(BaseModel):
    """A Home Office notifiable offence class: its group, audit category and default seriousness."""

    # 'life' travels as the JSON string "Infinity" and parses back to LIFE.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")

    code: HoClass
    name: str = Field(min_length=1, max_length=200, description="Class name as published.")
    group: str = Field(min_length=1, max_length=100, description="ONS offence group, e.g. Robbery.")
    subgroup: str | None = Field(
        default=None, min_length=1, max_length=100, description="ONS offence subgroup, where there is one."
    )
    audit_category: AuditCategory = Field(description="The inspectorate's audit category.")
    victim_based: bool = Field(
        description="True: recorded on the victim's account; false: an offence against the state, recorded "
        "when the points to prove are made out (NCRS)."
    )
    max_sentence_years: float | None = Field(
        default=None,
        ge=0,
        description="Approximate statutory maximum in years; life is infinity (LIFE); None when not known.",
    )
    legacy_outcome_only: bool = Field(
        default=False,
        description="True: kept only for outcomes of old records; a new crime must not be recorded under it.",
    )

    @field_validator("max_sentence_years", mode="before")
    @classmethod
    def _life_is_infinite(cls, value: object) -> object:
        # offences.csv writes the highest maximum as 'life'.
        if isinstance(value, str) and value.strip().lower() == "life":
            return LIFE
        return value

    @field_validator("subgroup", mode="before")
    @classmethod
    def _blank_subgroup_is_none(cls, value: object) -> object:
        # offences.csv leaves the subgroup empty where the group has none (Robbery, Public order, ...).
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def seriousness(self) -> float:
        """Default seriousness for the principal crime rule: the maximum sentence, life highest, unknown 0."""
        # HOCR section F: the principal crime is ranked by maximum sentence (default, configurable).
        return 0.0 if self.max_sentence_years is None else self.max_sentence_years

    @property
    def fraud(self) -> bool:
        """Whether the class is fraud, which Action Fraud records nationally instead of the force."""
        return self.group.strip().casefold() == FRAUD_GROUP.casefold()

    @property
    def rank_key(self) -> tuple[float, tuple[tuple[int, int | str], ...]]:
        """A sort key putting the most serious class first; ties go to the lower Home Office class number."""
        # HOCR section F; the tie-break is the product's own, so that the principal crime is deterministic.
        return (-self.seriousness, natural_code_key(self.code))


@functools.lru_cache(maxsize=4096)  # ranked for every contact's offences: a few hundred codes, parsed once
def natural_code_key(code: str) -> tuple[tuple[int, int | str], ...]:
    """Orders Home Office class codes as people read them: 2 < 4/1 < 4/10 < 5D < 8N < 105A."""
    parts = tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", code))
    # The code itself last, so that two codes never tie ('4/1' and '4/01' read alike but differ).
    return (*parts, (2, code))
