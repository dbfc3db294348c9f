"""The auditor's own projection of contacts and crimes (pseudonymous: no names or contact details)."""

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

from services.runtime.access_log import access_log_tables
from services.runtime.messaging import inbox_table, outbox_table

SCHEMA = "auditor"
metadata = MetaData(schema=SCHEMA)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10)),
    Column("category", String(20)),
    Column("received_at", DateTime(timezone=True)),
    Column("recording_deadline", DateTime(timezone=True)),
    Column("expected_crimes", Integer),
    Column("outcome", String(20)),
    Column("decided_at", DateTime(timezone=True)),
)

crimes = Table(
    "crimes",
    metadata,
    Column("crime_reference", String(40), primary_key=True),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("force", String(10), nullable=False),
    Column("ho_class", String(10), nullable=False),
    Column("audit_category", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recording_deadline", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
access_log, access_log_seals = access_log_tables(metadata)
