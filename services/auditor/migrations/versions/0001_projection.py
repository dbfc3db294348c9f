"""The auditor's projection of contacts and crimes, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.runtime.messaging import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10)),
        sa.Column("category", sa.String(20)),
        sa.Column("received_at", TS),
        sa.Column("recording_deadline", TS),
        sa.Column("expected_crimes", sa.Integer),
        sa.Column("outcome", sa.String(20)),
        sa.Column("decided_at", TS),
        schema="auditor",
    )
    op.create_table(
        "crimes",
        sa.Column("crime_reference", sa.String(40), primary_key=True),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("ho_class", sa.String(10), nullable=False),
        sa.Column("audit_category", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recording_deadline", TS, nullable=False),
        schema="auditor",
    )
    op.create_index("ix_auditor_crimes_contact_id", "crimes", ["contact_id"], schema="auditor")
    create_messaging_tables("auditor")


def downgrade() -> None:
    raise NotImplementedError("the projection is rebuilt by replay, not dropped")
