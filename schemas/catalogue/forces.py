"""The 43 territorial forces of England and Wales and British Transport Police (data/forces.csv)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Final

from schemas.catalogue.models import Force


def _load_forces() -> Mapping[str, Force]:
    text = resources.files("schemas.catalogue.data").joinpath("forces.csv").read_text(encoding="utf-8")
    forces: dict[str, Force] = {}
    for row in csv.DictReader(io.StringIO(text)):
        force = Force(code=row["code"].strip(), name=row["name"].strip())
        if force.code in forces:
            raise ValueError(f"forces.csv lists force {force.code} twice")
        forces[force.code] = force
    return MappingProxyType(forces)


FORCES: Final[Mapping[str, Force]] = _load_forces()
"""Every force crimerec knows, by code (GMP, CUM, BTP, ...); read-only."""


def is_force(code: str) -> bool:
    """Whether a code names a force crimerec knows."""
    return code in FORCES
