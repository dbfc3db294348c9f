"""A force's recording policy: the choices domain.md leaves to the force, with the defaults it gives."""

from __future__ import annotations

import functools
import hashlib
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.contacts import ReporterRelationship


class RecordingPolicy(BaseModel):
    """What a force has decided where the recording standard leaves it a choice (default, configurable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    victim_account_relationships: frozenset[ReporterRelationship] = Field(
        default=frozenset({ReporterRelationship.VICTIM, ReporterRelationship.ACTING_FOR_VICTIM}),
        description="Reporters whose report is the victim's own account (NCRS): the victim, or someone acting "
        "for them. Anyone else is a third party, and the victim must confirm before the crime is recorded.",
    )
    state_offence_reporters: frozenset[ReporterRelationship] = Field(
        default=frozenset({ReporterRelationship.POLICE, ReporterRelationship.PROFESSIONAL}),
        description="Reporters whose report makes out the points to prove of an offence against the state "
        "(drugs, weapons possession, public order): recorded at once; from anyone else it waits for a person.",
    )
    offenders_in_one_incident_act_together: bool = Field(
        default=True,
        description="HOCR section E, 'the same offender(s)': true counts every offence against one victim in one "
        "incident once, whoever of the named offenders did it (they are taken to act together); false counts "
        "each offender separately (an unknown offender is then one more offender).",
    )
    state_offences_per_offender: bool = Field(
        default=False,
        description="Offences against the state: false counts one crime per class per incident; true counts one "
        "per class per incident per offender.",
    )
    record_what_can_be_recorded: bool = Field(
        default=True,
        description="A contact where some crimes can be recorded now and others wait for a person: true records "
        "the ones that can be at first contact; false holds all of them for the person's decision.",
    )

    def digest(self) -> str:
        """A short hash of the policy's content, stable across processes: same choices, same digest."""
        return _digest(self)


@functools.lru_cache(maxsize=64)
def _digest(policy: RecordingPolicy) -> str:
    # Sets are written sorted: the iteration order of a frozenset of strings changes between processes.
    lines = (
        "victim_account=" + ",".join(sorted(r.value for r in policy.victim_account_relationships)),
        "state_reporters=" + ",".join(sorted(r.value for r in policy.state_offence_reporters)),
        f"act_together={policy.offenders_in_one_incident_act_together}",
        f"state_per_offender={policy.state_offences_per_offender}",
        f"record_partial={policy.record_what_can_be_recorded}",
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:8]


DEFAULT_POLICY: Final = RecordingPolicy()
"""The defaults of domain.md; a force that changes none of them decides exactly as the shared examples say."""
