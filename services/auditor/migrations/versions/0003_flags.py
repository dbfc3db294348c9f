"""Facts for the detectors, N100s, removals, victim notifications, flags, clock and the alert stream.

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
S = "auditor"


def upgrade() -> None:
    op.add_column("contacts", sa.Column("channel", sa.String(20)), schema=S)
    op.add_column("contacts", sa.Column("facts", postgresql.JSONB), schema=S)
    op.add_column("contacts", sa.Column("decision", postgresql.JSONB), schema=S)
    op.add_column(
        "contacts", sa.Column("deadline_checked", sa.Boolean, nullable=False, server_default=sa.false()), schema=S
    )
    op.create_index(
        "auditor_contacts_due",
        "contacts",
        ["recording_deadline"],
        schema=S,
        postgresql_where=sa.text("deadline_checked = false"),
    )
    op.add_column("crimes", sa.Column("victim_ref", sa.String(50)), schema=S)
    op.add_column("crimes", sa.Column("incident_ref", sa.String(50)), schema=S)
    op.add_column("crimes", sa.Column("received_at", TS), schema=S)
    op.create_table(
        "n100s",
        sa.Column("n100_id", sa.Uuid, primary_key=True),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        schema=S,
    )
    op.create_index("ix_auditor_n100s_contact_id", "n100s", ["contact_id"], schema=S)
    op.create_table(
        "removals",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("crime_reference", sa.String(40), nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("code", sa.String(2), nullable=False),
        sa.Column("audit_category", sa.String(20), nullable=False),
        sa.Column("ho_class", sa.String(10), nullable=False),
        sa.Column("removed_at", TS, nullable=False),
        sa.Column("notify_by", TS, nullable=False),
        sa.Column("victim_told", sa.Boolean, nullable=False),
        sa.Column("judged_correct", sa.Boolean, nullable=False),
        sa.Column("detail", postgresql.JSONB, nullable=False),
        sa.Column("notice_checked", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=S,
    )
    op.create_index("ix_auditor_removals_crime_reference", "removals", ["crime_reference"], schema=S)
    op.create_index(
        "auditor_removals_due", "removals", ["notify_by"], schema=S, postgresql_where=sa.text("notice_checked = false")
    )
    op.create_table(
        "victim_notifications",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("crime_reference", sa.String(40), nullable=False),
        sa.Column("notified_at", TS, nullable=False),
        schema=S,
    )
    op.create_index(
        "ix_auditor_victim_notifications_crime_reference", "victim_notifications", ["crime_reference"], schema=S
    )
    op.create_table(
        "flags",
        sa.Column("flag_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("crime_reference", sa.String(40)),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("audit_category", sa.String(20)),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("evidence", postgresql.JSONB, nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("resolution", sa.String(20)),
        sa.Column("cured_by", postgresql.JSONB),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("rule", "subject", name="flags_raised_once"),
        schema=S,
    )
    op.create_index("ix_auditor_flags_contact_id", "flags", ["contact_id"], schema=S)
    op.create_index("auditor_flags_force_raised", "flags", ["force", "raised_at"], schema=S)
    op.create_table(
        "flag_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.BigInteger, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("by_principal", sa.String(32)),
        sa.Column("note", sa.Text),
        schema=S,
    )
    op.create_index("ix_auditor_flag_history_flag_id", "flag_history", ["flag_id"], schema=S)
    op.create_table(
        "clock",
        sa.Column("source", sa.String(50), primary_key=True),
        sa.Column("event_time", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "alert_stream",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.BigInteger, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
        schema=S,
    )
    # The SSE stream wakes on new alerts.
    op.execute(
        """CREATE OR REPLACE FUNCTION auditor.notify_alert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('auditor_alerts', ''); RETURN NULL; END $$"""
    )
    op.execute(
        """CREATE TRIGGER alert_stream_notify AFTER INSERT ON auditor.alert_stream
        FOR EACH STATEMENT EXECUTE FUNCTION auditor.notify_alert()"""
    )


def downgrade() -> None:
    raise NotImplementedError("flags and their history are never dropped")
