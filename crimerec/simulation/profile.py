"""A simulated force's profile: its volume, mix and people, as a small data file the simulation is planned from."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.catalogue import OffenceCatalogue


class Unrecorded(BaseModel):
    """How the profile's unrecorded crimes come about (shares summing to 1)."""

    model_config = ConfigDict(extra="forbid")

    hidden_in_narrative: float = Field(ge=0, le=1, description="Call handler logs a crime as ASB or public safety.")
    left_pending: float = Field(ge=0, le=1, description="A third party's report waits for a decision nobody takes.")
    closed_without_grounds: float = Field(ge=0, le=1, description="An officer closes it as a non-crime.")

    @model_validator(mode="after")
    def _sums_to_one(self) -> Unrecorded:
        if abs(self.hidden_in_narrative + self.left_pending + self.closed_without_grounds - 1) > 1e-6:
            raise ValueError("the unrecorded shares must sum to 1")
        return self


class Profile(BaseModel):
    """A force's volume, mix and people, as a small data file (crimerec/simulation/profiles/*.json)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    contacts_per_day: float = Field(gt=0, le=100_000)
    hourly_shape: list[float] = Field(min_length=24, max_length=24)
    weekly_shape: list[float] = Field(min_length=7, max_length=7, description="Monday first.")
    channels: dict[str, float]
    crime_share: float = Field(ge=0, le=1, description="Share of contacts reporting a crime.")
    non_crime_categories: dict[str, float]
    classes: dict[str, float] = Field(description="Home Office class mix of reported crimes.")
    multi_victim_share: float = Field(ge=0, le=1)
    multi_offence_share: float = Field(ge=0, le=1)
    third_party_share: float = Field(ge=0, le=1)
    other_force_area_share: float = Field(ge=0, le=1)
    recording_rate: dict[str, float] = Field(description="overall and violence: the share of crimes recorded.")
    unrecorded: Unrecorded
    third_party_not_a_crime_share: float = Field(ge=0, le=1)
    late_decision_share: float = Field(ge=0, le=1)
    cancellation_rate: dict[str, float]
    cancellations_correct: dict[str, float]
    victim_told_at_request: float = Field(ge=0, le=1)
    victim_told_later: float = Field(ge=0, le=1)
    reclassification_rate: float = Field(ge=0, le=1)
    downgrade_without_information: float = Field(ge=0, le=1)
    downgrades: dict[str, str]

    @field_validator("classes", "downgrades")
    @classmethod
    def _known_classes(cls, value: dict[str, Any]) -> dict[str, Any]:
        catalogue = OffenceCatalogue.default()
        for code in [*value, *(v for v in value.values() if isinstance(v, str))]:
            if catalogue.recordable(code) is not None:
                raise ValueError(f"{code}: {catalogue.recordable(code)}")
        return value

    @classmethod
    def load(cls, name_or_path: str) -> Profile:
        """A shipped profile by name (default, gmp-2016) or a profile file."""
        path = Path(name_or_path)
        if path.suffix == ".json" and path.exists():
            text = path.read_text()
        else:
            shipped = resources.files("crimerec.simulation").joinpath("profiles", f"{name_or_path}.json")
            if not shipped.is_file():
                raise ValueError(f"no profile {name_or_path!r}; shipped: {', '.join(shipped_profiles())}")
            text = shipped.read_text()
        return cls.model_validate(json.loads(text))


def shipped_profiles() -> list[str]:
    """The names of the profiles crimerec ships."""
    folder = resources.files("crimerec.simulation").joinpath("profiles")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
