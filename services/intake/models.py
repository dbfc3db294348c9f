"""Intake's tables: contacts as received, idempotency records, outbox and inbox."""

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.runtime.access_log import access_log_tables
from services.runtime.messaging import inbox_table, outbox_table

SCHEMA = "intake"
metadata = MetaData(schema=SCHEMA)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("source_system", String(100), nullable=False),
    Column("source_reference", String(100), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", JSONB, nullable=False),
    Column("submitted_by", String(32), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("outcome", String(20)),
    Column("crime_references", ARRAY(String(40)), nullable=False, server_default="{}"),
    Column("decided_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # One contact per call-handling incident: the caller's own reference is unique within a force.
    UniqueConstraint("force", "source_system", "source_reference", name="contacts_source_unique"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_sha256", LargeBinary, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("contact_id", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("client_id", "key"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
access_log, access_log_seals = access_log_tables(metadata)
