"""Narrative screening (issue 18): the screener's verdict on every contact not recorded at first contact, and its
review.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
S = "recorder"


def upgrade() -> None:
    op.create_table(
        "screenings",
        sa.Column("contact_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("positive", sa.Boolean, nullable=False),
        sa.Column("families", postgresql.JSONB, nullable=False),
        sa.Column("evidence", postgresql.JSONB, nullable=False),
        sa.Column("screener_version", sa.String(100)),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("screened_at", TS, nullable=False),
        sa.Column("review_deadline", TS, nullable=False),
        sa.Column("reviewed_at", TS),
        sa.Column("reviewed_by", sa.String(32)),
        sa.Column("review_outcome", sa.String(20)),
        sa.Column("review_rationale", sa.Text),
        schema=S,
    )
    op.create_index(
        "screenings_to_review",
        "screenings",
        ["force", "review_deadline", "contact_id"],
        schema=S,
        postgresql_where=sa.text("positive AND reviewed_at IS NULL"),
    )


def downgrade() -> None:
    raise NotImplementedError("screenings and their reviews are never dropped")
