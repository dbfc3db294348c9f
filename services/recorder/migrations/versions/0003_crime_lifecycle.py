"""The crime record's life: history, pending decisions, cancellation requests, N100s, victim notifications.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
S = "recorder"


def upgrade() -> None:
    op.add_column("crimes", sa.Column("recorded_by", sa.String(32)), schema=S)
    op.add_column("crimes", sa.Column("updated_at", TS), schema=S)
    op.create_index(
        "decisions_pending",
        "decisions",
        ["force", "recording_deadline"],
        schema=S,
        postgresql_where=sa.text("outcome = 'pending'"),
    )
    op.create_table(
        "crime_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("crime_reference", sa.String(40), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("by_principal", sa.String(32)),
        sa.Column("detail", postgresql.JSONB, nullable=False),
        schema=S,
    )
    op.create_index("ix_recorder_crime_history_crime_reference", "crime_history", ["crime_reference"], schema=S)
    op.create_table(
        "decision_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("by_principal", sa.String(32)),
        sa.Column("rationale", sa.Text, nullable=False),
        schema=S,
    )
    op.create_index("ix_recorder_decision_history_contact_id", "decision_history", ["contact_id"], schema=S)
    op.create_table(
        "cancellation_requests",
        sa.Column("request_id", sa.Uuid, primary_key=True),
        sa.Column("crime_reference", sa.String(40), nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("code", sa.String(2), nullable=False),
        sa.Column("grounds", postgresql.JSONB, nullable=False),
        sa.Column("requested_by", postgresql.JSONB, nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("victim_informed", sa.Boolean, nullable=False),
        sa.Column("victim_informed_at", TS),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", postgresql.JSONB),
        sa.Column("decided_at", TS),
        sa.Column("decision_note", sa.Text),
        schema=S,
    )
    op.create_index(
        "ix_recorder_cancellation_requests_crime_reference", "cancellation_requests", ["crime_reference"], schema=S
    )
    # One open request per crime at a time.
    op.create_index(
        "cancellation_requests_one_open",
        "cancellation_requests",
        ["crime_reference"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "n100s",
        sa.Column("n100_id", sa.Uuid, primary_key=True),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("reported_class", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("crime_reference", sa.String(40)),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("recorded_by", sa.String(32)),
        schema=S,
    )
    op.create_index("ix_recorder_n100s_contact_id", "n100s", ["contact_id"], schema=S)
    op.create_table(
        "victim_notifications",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("crime_reference", sa.String(40), nullable=False),
        sa.Column("about", sa.String(2)),
        sa.Column("notified_at", TS, nullable=False),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("notified_by", sa.String(32), nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_recorder_victim_notifications_crime_reference", "victim_notifications", ["crime_reference"], schema=S
    )


def downgrade() -> None:
    raise NotImplementedError("crime records and their history are never dropped")
