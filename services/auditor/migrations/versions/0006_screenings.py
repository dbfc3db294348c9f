"""Narrative screens and their reviews (issue 18), for HIDDEN_CRIME_UNREVIEWED and the recording rate's undecided.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
S = "auditor"


def upgrade() -> None:
    op.create_table(
        "screenings",
        sa.Column("contact_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("screened", sa.Boolean, nullable=False),
        sa.Column("positive", sa.Boolean, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("families", JSONB, nullable=False),
        sa.Column("screener_version", sa.String(100)),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("screened_at", TS, nullable=False),
        sa.Column("review_deadline", TS, nullable=False),
        sa.Column("reviewed_at", TS),
        sa.Column("review_action", sa.String(20)),
        sa.Column("crime_references", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("deadline_checked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        schema=S,
    )
    op.create_index(
        "auditor_screenings_due", "screenings", ["review_deadline"], schema=S,
        postgresql_where=sa.text("positive AND deadline_checked = false"),
    )  # fmt: skip
    op.create_index("auditor_screenings_received", "screenings", ["force", "received_at"], schema=S)


def downgrade() -> None:
    op.drop_table("screenings", schema=S)
