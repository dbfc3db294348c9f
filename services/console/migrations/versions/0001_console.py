"""console: sign-in sessions, the alert workflow's append-only history, the sample audits drawn here

Revision ID: console_0001
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "console"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_sha256", sa.LargeBinary, primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("roles", sa.ARRAY(sa.String(20)), nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("ended_why", sa.String(40)),
        schema=S,
    )
    op.create_table(
        "alert_actions",
        sa.Column("action_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("flag_id", sa.BigInteger, nullable=False),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("resolution", sa.String(20)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("by_key_id", sa.String(32), nullable=False),
        sa.Column("by_roles", sa.ARRAY(sa.String(20)), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text),
        schema=S,
    )
    op.create_index("ix_alert_actions_flag_id", "alert_actions", ["flag_id"], schema=S)
    # Who did what to an alert, and why, is evidence: the history can be added to, never changed or removed.
    op.execute(
        f"CREATE FUNCTION {S}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{S}.alert_actions is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER alert_actions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {S}.alert_actions "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.refuse_change()"
    )
    op.create_table(
        "sample_audits",
        sa.Column("audit_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("period_from", TS, nullable=False),
        sa.Column("period_to", TS, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        schema=S,
    )
    op.create_index("ix_sample_audits_force", "sample_audits", ["force", "created_at"], schema=S)


def downgrade() -> None:
    op.drop_table("sample_audits", schema=S)
    op.execute(f"DROP TRIGGER alert_actions_append_only ON {S}.alert_actions")
    op.execute(f"DROP FUNCTION {S}.refuse_change()")
    op.drop_table("alert_actions", schema=S)
    op.drop_table("sessions", schema=S)
