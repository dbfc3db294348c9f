"""The Home Office classes each flag's evidence names, kept by PostgreSQL in a generated column (with a GIN index),
so the offence-group filter tests a short array instead of walking every flag's evidence with a JSON path.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"

S = "auditor"
# As the classes stood named in evidence at this revision (services/auditor/models.py EVIDENCE_CLASSES).
EVIDENCE_CLASSES = (
    'jsonb_path_query_array(evidence, \'$.keyvalue() ? (@.key == "ho_class" || @.key == "previous_class"'
    ' || @.key == "new_class" || @.key == "reported_classes" || @.key == "offences").value[*]'
    ' ? (@.type() == "string")\')'
)


def upgrade() -> None:
    op.add_column(
        "flags", sa.Column("evidence_classes", JSONB, sa.Computed(EVIDENCE_CLASSES, persisted=True)), schema=S
    )
    op.create_index("auditor_flags_evidence_classes", "flags", ["evidence_classes"], schema=S, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("auditor_flags_evidence_classes", table_name="flags", schema=S)
    op.drop_column("flags", "evidence_classes", schema=S)
