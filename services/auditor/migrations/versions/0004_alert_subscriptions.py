"""Webhook subscriptions to alerts, every delivery attempt, and the alert stream read by force.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
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
S = "auditor"


def upgrade() -> None:
    op.create_table(
        "alert_subscriptions",
        sa.Column("subscription_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("callback_url", sa.String(2000), nullable=False),
        sa.Column("rules", postgresql.JSONB),
        sa.Column("min_severity", sa.String(10), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        # Kept as issued, unlike API keys (stored hashed): the auditor must sign every delivery with it.
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("delivered_seq", sa.BigInteger, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("failing_since", TS),
        sa.Column("next_attempt_at", TS),
        sa.Column("last_success_at", TS),
        sa.Column("suspended_at", TS),
        sa.Column("suspended_reason", sa.String(200)),
        sa.Column("deactivated_at", TS),
        sa.Column("lease_token", sa.Uuid),
        sa.Column("leased_until", TS),
        schema=S,
    )
    op.create_index("auditor_alert_subscriptions_force", "alert_subscriptions", ["force", "created_at"], schema=S)
    op.create_index(
        "auditor_alert_subscriptions_active",
        "alert_subscriptions",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.Uuid, nullable=False),
        sa.Column("delivery_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("flag_id", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.String(500)),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index(
        "auditor_alert_deliveries_subscription", "alert_deliveries", ["subscription_id", "seq", "attempt"], schema=S
    )
    # Streams and subscriptions read one force's alerts after a position.
    op.create_index("auditor_alert_stream_force_seq", "alert_stream", ["force", "seq"], schema=S)


def downgrade() -> None:
    raise NotImplementedError("subscriptions and their delivery record are never dropped")
