"""Sample audits: a reproducible random sample of contacts, and an auditor's judgement on each.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
S = "auditor"


def upgrade() -> None:
    op.create_table(
        "audits",
        sa.Column("audit_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("period_from", TS, nullable=False),
        sa.Column("period_to", TS, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("stratified", sa.Boolean, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_table(
        "audit_items",
        sa.Column("audit_id", sa.Uuid, nullable=False),
        sa.Column("item_no", sa.Integer, nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("stratum", sa.String(20), nullable=False),
        sa.Column("crimes_required", sa.Integer),
        sa.Column("crimes_correctly_recorded", sa.Integer),
        sa.Column("judged_by", sa.String(32)),
        sa.Column("judged_at", TS),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("audit_id", "item_no"),
        schema=S,
    )


def downgrade() -> None:
    raise NotImplementedError("audits are never dropped")
