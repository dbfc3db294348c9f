"""The one authority matrix: the recorder enforces it and the auditor checks it, so both must read the same one."""

from __future__ import annotations

from schemas.authority import DEFAULT_AUTHORITY, authority_problems, default_matrix
from schemas.catalogue import AuditCategory
from schemas.vocabulary import Role
from services.auditor.rules.policy import AuditPolicy
from services.recorder.rules.authority import AuthorityPolicy


def test_recorder_and_auditor_default_to_the_same_matrix() -> None:
    assert AuthorityPolicy().matrix == AuditPolicy().authority == default_matrix()
    assert set(DEFAULT_AUTHORITY) == set(AuditCategory)


def test_default_matrix_copies_are_independent() -> None:
    first = default_matrix()
    first[AuditCategory.RAPE].append(Role.SUPERVISOR)
    assert default_matrix()[AuditCategory.RAPE] == [Role.FCR]


def test_a_rape_needs_the_fcr_and_a_second_person() -> None:
    matrix = default_matrix()
    assert authority_problems(matrix, AuditCategory.RAPE, requester="a", authoriser="b", authoriser_roles=["fcr"]) == []
    assert authority_problems(matrix, AuditCategory.RAPE, requester="a", authoriser="a", authoriser_roles=["ddm"]) == [
        "the authoriser is the person who asked",
        "a rape crime needs fcr; the authoriser held ddm",
    ]


def test_no_authoriser_and_no_role_are_named() -> None:
    matrix = default_matrix()
    assert authority_problems(matrix, AuditCategory.OTHER, requester="a", authoriser=None, authoriser_roles=[]) == [
        "no authoriser was recorded"
    ]
    assert authority_problems(matrix, AuditCategory.VIOLENCE, requester="a", authoriser="b", authoriser_roles=[]) == [
        "a violence crime needs ddm or fcr; the authoriser held no role"
    ]


def test_a_force_matrix_overrides_the_default_only_where_it_says() -> None:
    strict = {AuditCategory.VIOLENCE: [Role.FCR]}
    ddm = {"requester": "a", "authoriser": "b", "authoriser_roles": ["ddm"]}
    assert authority_problems(strict, AuditCategory.VIOLENCE, **ddm)
    assert not authority_problems(strict, AuditCategory.ROBBERY, **ddm)
