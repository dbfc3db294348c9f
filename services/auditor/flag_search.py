"""The SQL of the flag filters that look inside a flag's evidence (offence group, officer or team), and the count
of a filtered listing: the console's flag page filters by them and pages with the total."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, Text, and_, cast, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH, array
from sqlalchemy.ext.asyncio import AsyncSession

from schemas.catalogue import OffenceCatalogue
from services.auditor.models import flags
from services.runtime.problems import FieldError, ProblemError

PEOPLE_KEYS = ("requested_by", "authorised_by", "decided_by", "recorded_by")
"""Where a flag's evidence names the people who acted (a principal id, or an actor with one)."""


def _keys(names: Sequence[str]) -> str:
    return " || ".join(f'@.key == "{name}"' for name in names)


# Lax jsonpath: a comparison with `$p[*]` holds when any of the given values matches.
_PERSON_PATH = f"$.keyvalue() ? ({_keys(PEOPLE_KEYS)}).value ? (@ == $p[*] || @.principal == $p[*])"


def _evidence_has(path: str, variable: str, values: Collection[str]) -> ColumnElement[bool]:
    variables = cast(literal(json.dumps({variable: sorted(values)})), JSONB)
    return func.jsonb_path_exists(flags.c.evidence, cast(literal(path), JSONPATH), variables)


def in_offence_group(
    *, group_classes: Collection[str], all_classes: Collection[str], group_categories: Collection[str]
) -> ColumnElement[bool]:
    """Flags about an offence group: their evidence names one of its classes; or it names no class the catalogue
    knows and the flag's audit category belongs to the group (a cancellation flag names its category only)."""
    named = _names_any(group_classes) if group_classes else literal(False)
    if not group_categories:
        return named
    by_category = and_(flags.c.audit_category.in_(sorted(group_categories)), not_(_names_any(all_classes)))
    return or_(named, by_category)


def _names_any(classes: Collection[str]) -> ColumnElement[bool]:
    """The flag's evidence names one of these classes (the classes it names are kept in `evidence_classes`)."""
    named: ColumnElement[bool] = flags.c.evidence_classes.has_any(array(sorted(classes), type_=Text))
    return named


def naming_people(principals: Collection[str]) -> ColumnElement[bool]:
    """Flags whose evidence names one of these principals (an officer, or a team given as its officers) as the one
    who asked, authorised, decided or recorded."""
    return _evidence_has(_PERSON_PATH, "p", principals)


async def count_flags(session: AsyncSession, *, force: str, where: Sequence[ColumnElement[bool]]) -> int:
    """How many of a force's flags pass the filters (every page of the listing together)."""
    query = select(func.count()).select_from(flags).where(flags.c.force == force, *where)
    return int(await session.scalar(query) or 0)


OFFENCE_GROUP = (
    "An ONS offence group (e.g. Robbery): flags whose evidence names one of its classes, or, naming none, whose "
    "audit category is the group's alone."
)
OFFICER = (
    "A principal (key id) who asked, authorised, decided or recorded what the flag is about; repeat it for a team."
)


def _refused(field: str, detail: str, message: str) -> ProblemError:
    return ProblemError(
        422, "Request is not valid", detail, errors=[FieldError(field=f"query.{field}", message=message)]
    )


def evidence_filters(
    catalogue: OffenceCatalogue, offence_group: str | None, officers: Sequence[str] | None
) -> list[ColumnElement[bool]]:
    """The conditions on a flag's evidence for the offence-group and officer filters (422 for an unknown group)."""
    where = []
    if offence_group:
        group = [o for o in catalogue if o.group == offence_group]
        if not group:
            known = ", ".join(sorted({o.group for o in catalogue}))
            raise _refused("offence_group", f"offence_group must be one of: {known}.", "not an offence group")
        # The audit categories that are this group's alone (rape and other sexual: sexual offences; not "other").
        others = {o.audit_category.value for o in catalogue if o.group != offence_group}
        where.append(
            in_offence_group(
                group_classes={o.code for o in group}, all_classes={o.code for o in catalogue},
                group_categories={o.audit_category.value for o in group} - others,
            )
        )  # fmt: skip
    people = [p.strip() for p in officers or [] if p.strip()]
    if any(len(p) > 40 or not p.isprintable() for p in people):
        raise _refused("officer", "officer must be a principal id of at most 40 printable characters.", "not an id")
    if people:
        where.append(naming_people(people))
    return where
