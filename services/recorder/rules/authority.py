"""A force's cancellation authority policy (domain.md, Authority: default, configurable as force policy). The
matrix itself and its check are shared with the auditor, in schemas/authority.py."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.authority import authority_problems, default_matrix, required_roles
from schemas.catalogue import AuditCategory
from schemas.events import Actor, AuthorityMode, Role


class AuthorityPolicy(BaseModel):
    """A force's cancellation authority: the matrix, and whether the recorder enforces it or only records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: AuthorityMode = AuthorityMode.ENFORCE
    matrix: dict[AuditCategory, list[Role]] = Field(default_factory=default_matrix)
    n100_roles: list[Role] = Field(default_factory=lambda: [Role.FCR])

    def required(self, audit_category: AuditCategory) -> list[Role]:
        """The roles that may authorise removing a crime of this audit category."""
        return required_roles(self.matrix, audit_category)


def authority_problem(
    policy: AuthorityPolicy, *, audit_category: AuditCategory, requester: Actor, authoriser: Actor
) -> str | None:
    """Why this authoriser may not approve this removal under the policy, or None when they may."""
    problems = authority_problems(
        policy.matrix, audit_category, requester=requester.principal, authoriser=authoriser.principal,
        authoriser_roles=[role.value for role in authoriser.roles],
    )  # fmt: skip
    return "; ".join(problems) or None
