"""The personal-data access log (DPA 2018 s.62): append-only, sealed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from services.runtime.access_log import create_access_log_tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_access_log_tables("intake")


def downgrade() -> None:
    raise NotImplementedError("the access log is never dropped")
