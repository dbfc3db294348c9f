"""The offence and force catalogue: Home Office classes, audit categories, seriousness and the forces."""

from schemas.catalogue.forces import FORCES, is_force
from schemas.catalogue.models import (
    FRAUD_GROUP,
    LIFE,
    AuditCategory,
    Force,
    ForceCode,
    HoClass,
    Offence,
    natural_code_key,
)
from schemas.catalogue.offences import OffenceCatalogue

__all__ = [
    "FORCES",
    "FRAUD_GROUP",
    "LIFE",
    "AuditCategory",
    "Force",
    "ForceCode",
    "HoClass",
    "Offence",
    "OffenceCatalogue",
    "is_force",
    "natural_code_key",
]
