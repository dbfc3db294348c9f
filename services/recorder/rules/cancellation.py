"""What a cancellation or transfer request must carry (domain.md, Removing a recorded crime)."""

from __future__ import annotations

from schemas.catalogue import is_force
from schemas.events import CancellationCode, CancellationGrounds

OPINION_WORDS = ("victim does not wish", "victim doesn't want", "withdraw", "does not support", "not supporting")


def grounds_problems(
    grounds: CancellationGrounds, *, own_force: str, crime_reference: str, duplicate_is_live: bool | None
) -> list[tuple[str, str]]:
    """Each missing or malformed part of a request's grounds, as (field, why). Empty when they are complete.

    `duplicate_is_live` says whether the crime a C3 request names is a live crime of the same force (None: not
    looked up because none was named).
    """
    problems: list[tuple[str, str]] = []
    match grounds.code:
        case CancellationCode.C1:
            if grounds.receiving_force is None:
                problems.append(("receiving_force", "C1 (transfer) must name the receiving force"))
            elif not is_force(grounds.receiving_force):
                problems.append(("receiving_force", f"{grounds.receiving_force} is not a force of England and Wales"))
            elif grounds.receiving_force == own_force:
                problems.append(("receiving_force", "a crime cannot be transferred to the force that holds it"))
        case CancellationCode.C2:
            if grounds.avi is None:
                problems.append(("avi", "C2 needs the additional verifiable information: what it is and where held"))
        case CancellationCode.C3:
            if grounds.duplicate_of is None:
                problems.append(("duplicate_of", "C3 (duplicate) must name the crime it duplicates"))
            elif grounds.duplicate_of == crime_reference:
                problems.append(("duplicate_of", "a crime cannot duplicate itself"))
            elif not duplicate_is_live:
                problems.append(("duplicate_of", f"{grounds.duplicate_of} is not a live crime of this force"))
        case CancellationCode.C4:
            if not (grounds.error or "").strip():
                problems.append(("error", "C4 (recorded in error) must say what the error was"))
    # A victim not wishing to proceed is an outcome, never a reason to cancel a crime.
    said = " ".join([grounds.explanation, grounds.avi.description if grounds.avi else "", grounds.error or ""]).lower()
    if any(word in said for word in OPINION_WORDS) and grounds.code is not CancellationCode.C1:
        problems.append(
            (
                "explanation",
                "a victim not wishing to proceed is an outcome, not a reason to cancel; the crime stays recorded",
            )
        )
    return problems
