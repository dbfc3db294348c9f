"""API keys expire: every key has an end, 90 days after it was issued unless issued for longer or shorter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys issued before this migration get 90 days from now: none is left without an end.
    op.add_column(
        "api_keys",
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now() + interval '90 days'"),
        ),
        schema="auth",
    )


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at", schema="auth")
