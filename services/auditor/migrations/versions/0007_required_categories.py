"""The crimes each contact's facts require, by audit category, stored with them (and contacts and crimes indexed by
force and time), so the recording rate of a period is summed in the database instead of judged contact by contact.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from schemas.catalogue import OffenceCatalogue
from services.auditor.rules.counting import required_categories
from services.auditor.rules.facts import ReportedFacts
from services.runtime.database import array_literal

revision = "0007"
down_revision = "0006"

S = "auditor"
BATCH = 5_000


def upgrade() -> None:
    op.add_column("contacts", sa.Column("required_categories", ARRAY(sa.Text)), schema=S)
    op.add_column("contacts", sa.Column("required_categories_unconfirmed", ARRAY(sa.Text)), schema=S)
    op.create_index("auditor_contacts_received", "contacts", ["force", "received_at"], schema=S)
    op.create_index("auditor_crimes_received", "crimes", ["force", "received_at"], schema=S)
    op.create_index("auditor_crimes_recorded", "crimes", ["force", "recorded_at"], schema=S)
    _backfill()


def _backfill() -> None:
    """The contacts projected before this revision: their categories from their stored facts, by the catalogue the
    auditor judges with."""
    catalogue = OffenceCatalogue.default()
    connection = op.get_bind()
    update = sa.text(
        "UPDATE auditor.contacts AS c"
        " SET required_categories = CAST(raw.r AS text[]), required_categories_unconfirmed = CAST(raw.o AS text[])"
        " FROM (SELECT unnest(CAST(:ids AS uuid[])) AS id, unnest(CAST(:required AS text[])) AS r,"
        " unnest(CAST(:owed AS text[])) AS o) AS raw"
        " WHERE c.contact_id = raw.id"
    )
    after = None
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT contact_id, facts FROM auditor.contacts WHERE facts IS NOT NULL"
                " AND (CAST(:after AS uuid) IS NULL OR contact_id > CAST(:after AS uuid))"
                " ORDER BY contact_id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not rows:
            return
        ids: list[object] = []
        required: list[str | None] = []
        owed: list[str | None] = []
        for contact_id, facts in rows:
            reported = ReportedFacts.from_json(facts)
            ids.append(contact_id)
            required.append(array_literal(required_categories(reported, catalogue, confirmation_needed=True)))
            owed.append(array_literal(required_categories(reported, catalogue, confirmation_needed=False)))
        connection.execute(update, {"ids": ids, "required": required, "owed": owed})
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index("auditor_crimes_recorded", table_name="crimes", schema=S)
    op.drop_index("auditor_crimes_received", table_name="crimes", schema=S)
    op.drop_index("auditor_contacts_received", table_name="contacts", schema=S)
    op.drop_column("contacts", "required_categories_unconfirmed", schema=S)
    op.drop_column("contacts", "required_categories", schema=S)
