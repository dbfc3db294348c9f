"""The shared words of crimerec's contracts: roles, outcomes, who acted, and the grounds for removing a crime."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.catalogue import ForceCode

CrimeReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.-]*$",
        description="A crime reference number, as the recorder issues it (e.g. GMP-2026-000123).",
    ),
]
"""A crime reference number."""

RulesVersion = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description="The version of the rules (and offence catalogue) that made the decision.",
    ),
]
"""Which rules made a decision: every decision stores it (domain.md, The recording decision)."""


class Role(StrEnum):
    """What a principal may do (design.md, Security and privacy)."""

    CALL_HANDLER = "call_handler"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DDM = "ddm"
    FCR = "fcr"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Outcome(StrEnum):
    """A recording decision (NCRS): recorded, pending, crime-related incident, N100 or non-crime incident."""

    RECORDED = "recorded"
    PENDING = "pending"
    CRI = "cri"
    N100 = "n100"
    NON_CRIME = "non_crime"


class Actor(BaseModel):
    """Who did something: a person or a calling system, with their roles and force."""

    model_config = ConfigDict(extra="ignore", frozen=True)  # additive evolution, as EventPayload

    principal: str = Field(min_length=1, max_length=200, description="The principal's id: an API key id or a user id.")
    roles: list[Role] = Field(default_factory=list, max_length=len(Role), description="The principal's roles.")
    force: ForceCode = Field(description="The force the principal belongs to.")


class CancellationCode(StrEnum):
    """Why a recorded crime may be removed (domain.md, Removing a recorded crime); nothing else is a reason."""

    C1 = "C1"  # transfer: committed outside the force's area
    C2 = "C2"  # additional verifiable information shows no notifiable crime occurred
    C3 = "C3"  # duplicate, or part of a crime already recorded
    C4 = "C4"  # recorded in error


class VerifiableInformation(BaseModel):
    """Additional verifiable information (AVI): what it is and where it is held. Opinion is not AVI."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    description: str = Field(min_length=1, max_length=2000, description="What the information shows.")
    held_at: str = Field(min_length=1, max_length=500, description="Where it is held: CCTV ref, statement, …")


class CancellationGrounds(BaseModel):
    """The reason for removing a crime, with what its code must carry. Events carry it as given, so the auditor
    can judge a malformed one; the recorder refuses structurally incomplete requests before they are stored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: CancellationCode
    explanation: str = Field(min_length=1, max_length=4000, description="Why, in the requester's words.")
    receiving_force: ForceCode | None = Field(default=None, description="C1: the force the crime goes to.")
    avi: VerifiableInformation | None = Field(default=None, description="C2: the additional verifiable information.")
    duplicate_of: CrimeReference | None = Field(default=None, description="C3: the crime this one duplicates.")
    error: str | None = Field(default=None, max_length=4000, description="C4: what was recorded in error.")


class AuthorityMode(StrEnum):
    """How the recorder applies the cancellation authority matrix (force policy)."""

    ENFORCE = "enforce"  # an authoriser below the matrix is refused
    AUDIT = "audit"  # accepted and recorded; the auditor flags it


class FlagStatus(StrEnum):
    """Where a flag is in its life: open → acknowledged → resolved; or cured by a later event."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CURED = "cured"
