"""Contacts, decisions, crime records, reference counters, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        schema="recorder",
    )
    op.create_table(
        "decisions",
        sa.Column("contact_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("problems", postgresql.JSONB, nullable=False),
        sa.Column("rules_version", sa.String(40), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("recording_deadline", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("transfer_to", sa.String(10)),
        sa.Column("n100", sa.Boolean, nullable=False),
        schema="recorder",
    )
    op.create_table(
        "crimes",
        sa.Column("crime_reference", sa.String(40), primary_key=True),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("victim_ref", sa.String(50)),
        sa.Column("ho_class", sa.String(10), nullable=False),
        sa.Column("offence_group", sa.String(100), nullable=False),
        sa.Column("audit_category", sa.String(20), nullable=False),
        sa.Column("offender_ref", sa.String(50)),
        sa.Column("incident_ref", sa.String(50)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recording_deadline", TS, nullable=False),
        sa.Column("transfer_to", sa.String(10)),
        sa.Column("rules_version", sa.String(40), nullable=False),
        schema="recorder",
    )
    op.create_index("ix_recorder_crimes_contact_id", "crimes", ["contact_id"], schema="recorder")
    op.create_index("crimes_force_status", "crimes", ["force", "status"], schema="recorder")
    op.create_table(
        "crime_reference_counters",
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("last_number", sa.Integer, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("force", "year"),
        schema="recorder",
    )
    create_messaging_tables("recorder")


def downgrade() -> None:
    raise NotImplementedError("crime records are never dropped")
