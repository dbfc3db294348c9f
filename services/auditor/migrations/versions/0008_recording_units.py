"""Each contact's share of the recording rate, per audit category, kept as it changes, so a period's rate is a sum
of stored rows instead of a judgement of every contact in it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from services.auditor.stats_repository import UNITS_INSERT

revision = "0008"
down_revision = "0007"

S = "auditor"
BATCH = 5_000


def upgrade() -> None:
    op.create_table(
        "recording_units",
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("should", sa.Integer, nullable=False),
        sa.Column("correct", sa.Integer, nullable=False),
        sa.Column("recorded", sa.Integer, nullable=False),
        sa.Column("on_time", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "category"),
        schema=S,
    )
    op.create_index("auditor_recording_units_received", "recording_units", ["force", "received_at"], schema=S)
    # The contacts projected before this revision, a batch at a time, by the statement the auditor keeps them with.
    connection = op.get_bind()
    after = None
    while True:
        ids = connection.scalars(
            sa.text(
                "SELECT contact_id FROM auditor.contacts"
                " WHERE CAST(:after AS uuid) IS NULL OR contact_id > CAST(:after AS uuid)"
                " ORDER BY contact_id LIMIT :batch"
            ),
            {"after": after, "batch": BATCH},
        ).all()
        if not ids:
            return
        connection.execute(UNITS_INSERT, {"ids": ids})
        after = ids[-1]


def downgrade() -> None:
    op.drop_table("recording_units", schema=S)
