"""Who may authorise removing a recorded crime (domain.md, Authority): one matrix and one check, which the recorder
enforces (or only records, by force policy) and the auditor holds the force to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from schemas.catalogue import AuditCategory
from schemas.vocabulary import Role

# The Force Crime Registrar is the final arbiter and sits outside operational command. Default matrix:
# rape (and N100 decisions) → FCR; other sexual offences, violence, robbery → a DDM or the FCR;
# anything else → a supervisor or above. Admin is a technical role and authorises nothing.
DEFAULT_AUTHORITY: Mapping[AuditCategory, Sequence[Role]] = {
    AuditCategory.RAPE: (Role.FCR,),
    AuditCategory.OTHER_SEXUAL: (Role.DDM, Role.FCR),
    AuditCategory.VIOLENCE: (Role.DDM, Role.FCR),
    AuditCategory.ROBBERY: (Role.DDM, Role.FCR),
    AuditCategory.OTHER: (Role.SUPERVISOR, Role.DDM, Role.FCR),
}

# The audit categories whose every removal the inspectorate reviews.
HIGH_RISK = frozenset({AuditCategory.RAPE, AuditCategory.OTHER_SEXUAL, AuditCategory.VIOLENCE, AuditCategory.ROBBERY})


def default_matrix() -> dict[AuditCategory, list[Role]]:
    """A fresh, editable copy of the default matrix (for a force's settings)."""
    return {category: list(roles) for category, roles in DEFAULT_AUTHORITY.items()}


def required_roles(matrix: Mapping[AuditCategory, Sequence[Role]], audit_category: AuditCategory) -> list[Role]:
    """The roles that may authorise removing a crime of this audit category under a force's matrix."""
    return list(matrix.get(audit_category, DEFAULT_AUTHORITY[audit_category]))


def authority_problems(
    matrix: Mapping[AuditCategory, Sequence[Role]],
    audit_category: AuditCategory,
    *,
    requester: str | None,
    authoriser: str | None,
    authoriser_roles: Iterable[str],
) -> list[str]:
    """Why this authoriser may not approve this removal, in words for a flag or a refusal; empty when they may."""
    if authoriser is None:
        return ["no authoriser was recorded"]
    problems = []
    if authoriser == requester:
        problems.append("the authoriser is the person who asked")
    required = sorted(role.value for role in required_roles(matrix, audit_category))
    held = sorted(set(authoriser_roles))
    if not set(required) & set(held):
        problems.append(
            f"a {audit_category.value} crime needs {' or '.join(required)}; the authoriser held "
            f"{', '.join(held) or 'no role'}"
        )
    return problems
