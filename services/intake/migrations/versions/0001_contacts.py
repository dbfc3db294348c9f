"""Contacts, idempotency keys, outbox and inbox.

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


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.Uuid, primary_key=True),
        sa.Column("force", sa.String(10), nullable=False),
        sa.Column("source_system", sa.String(100), nullable=False),
        sa.Column("source_reference", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
        sa.Column("submitted_by", sa.String(32), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("crime_references", postgresql.ARRAY(sa.String(40)), nullable=False, server_default="{}"),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("force", "source_system", "source_reference", name="contacts_source_unique"),
        schema="intake",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_sha256", sa.LargeBinary, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", postgresql.JSONB, nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("client_id", "key"),
        schema="intake",
    )
    create_messaging_tables("intake")


def downgrade() -> None:
    raise NotImplementedError("contacts are never dropped")
