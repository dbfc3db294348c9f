"""Recorder's tables: contacts as received, decisions, crime records, reference counters, outbox, inbox."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.runtime.access_log import access_log_tables
from services.runtime.messaging import inbox_table, outbox_table

SCHEMA = "recorder"
metadata = MetaData(schema=SCHEMA)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", JSONB, nullable=False),
    Column("event_id", Uuid, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("rationale", Text, nullable=False),
    Column("problems", JSONB, nullable=False),
    Column("rules_version", String(40), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("recording_deadline", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(32)),
    Column("transfer_to", String(10)),
    Column("n100", Boolean, nullable=False),
)

crimes = Table(
    "crimes",
    metadata,
    Column("crime_reference", String(40), primary_key=True),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("force", String(10), nullable=False),
    Column("victim_ref", String(50)),
    Column("ho_class", String(10), nullable=False),
    Column("offence_group", String(100), nullable=False),
    Column("audit_category", String(20), nullable=False),
    Column("offender_ref", String(50)),
    Column("incident_ref", String(50)),
    Column("status", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recording_deadline", DateTime(timezone=True), nullable=False),
    Column("transfer_to", String(10)),
    Column("rules_version", String(40), nullable=False),
    Index("crimes_force_status", "force", "status"),
)

crime_reference_counters = Table(
    "crime_reference_counters",
    metadata,
    Column("force", String(10), nullable=False),
    Column("year", Integer, nullable=False),
    Column("last_number", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("force", "year"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
access_log, access_log_seals = access_log_tables(metadata)
