"""Who may authorise removing a recorded crime (domain.md, Authority: default, configurable as force policy)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.catalogue import AuditCategory
from schemas.events import Actor, AuthorityMode, Role

# The Force Crime Registrar is the final arbiter and sits outside operational command. Default matrix:
# rape (and N100 decisions) → FCR; other sexual offences, violence, robbery → a DDM or the FCR;
# anything else → a supervisor or above. Admin is a technical role and authorises nothing.
DEFAULT_MATRIX: dict[AuditCategory, list[Role]] = {
    AuditCategory.RAPE: [Role.FCR],
    AuditCategory.OTHER_SEXUAL: [Role.DDM, Role.FCR],
    AuditCategory.VIOLENCE: [Role.DDM, Role.FCR],
    AuditCategory.ROBBERY: [Role.DDM, Role.FCR],
    AuditCategory.OTHER: [Role.SUPERVISOR, Role.DDM, Role.FCR],
}


class AuthorityPolicy(BaseModel):
    """A force's cancellation authority: the matrix, and whether the recorder enforces it or only records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: AuthorityMode = AuthorityMode.ENFORCE
    matrix: dict[AuditCategory, list[Role]] = Field(default_factory=lambda: dict(DEFAULT_MATRIX))
    n100_roles: list[Role] = Field(default_factory=lambda: [Role.FCR])

    def required(self, audit_category: AuditCategory) -> list[Role]:
        """The roles that may authorise removing a crime of this audit category."""
        return list(self.matrix.get(audit_category, DEFAULT_MATRIX[audit_category]))


def authority_problem(
    policy: AuthorityPolicy, *, audit_category: AuditCategory, requester: Actor, authoriser: Actor
) -> str | None:
    """Why this authoriser may not approve this removal under the policy, or None when they may."""
    if authoriser.principal == requester.principal:
        return "the authoriser is the person who asked; a different person must authorise"
    required = policy.required(audit_category)
    if not set(required) & set(authoriser.roles):
        needed = " or ".join(role.value for role in required)
        held = ", ".join(role.value for role in authoriser.roles) or "no role"
        return f"removing a {audit_category.value} crime needs {needed}; the authoriser holds {held}"
    return None
