"""Recorder's tables: contacts as received, decisions, crime records, screenings, reference counters, outbox, inbox."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
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
    Index("decisions_pending", "force", "recording_deadline", postgresql_where=text("outcome = 'pending'")),
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
    Column("recorded_by", String(32)),
    Column("updated_at", DateTime(timezone=True)),
    Index("crimes_force_status", "force", "status"),
)

crime_history = Table(
    "crime_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("crime_reference", String(40), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(60), nullable=False),
    Column("by_principal", String(32)),
    Column("detail", JSONB, nullable=False),
)

decision_history = Table(
    "decision_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("by_principal", String(32)),
    Column("rationale", Text, nullable=False),
)

cancellation_requests = Table(
    "cancellation_requests",
    metadata,
    Column("request_id", Uuid, primary_key=True),
    Column("crime_reference", String(40), nullable=False, index=True),
    Column("contact_id", Uuid, nullable=False),
    Column("force", String(10), nullable=False),
    Column("code", String(2), nullable=False),
    Column("grounds", JSONB, nullable=False),
    Column("requested_by", JSONB, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("victim_informed", Boolean, nullable=False),
    Column("victim_informed_at", DateTime(timezone=True)),
    Column("status", String(20), nullable=False),
    Column("decided_by", JSONB),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_note", Text),
    Index(
        "cancellation_requests_one_open",
        "crime_reference",
        unique=True,
        postgresql_where=text("status = 'pending'"),
    ),
)

n100s = Table(
    "n100s",
    metadata,
    Column("n100_id", Uuid, primary_key=True),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("force", String(10), nullable=False),
    Column("reported_class", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("crime_reference", String(40)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(32)),
)

victim_notifications = Table(
    "victim_notifications",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("crime_reference", String(40), nullable=False, index=True),
    Column("about", String(2)),
    Column("notified_at", DateTime(timezone=True), nullable=False),
    Column("method", String(200), nullable=False),
    Column("notified_by", String(32), nullable=False),
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

screenings = Table(
    "screenings",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("score", Float),
    Column("positive", Boolean, nullable=False),
    Column("families", JSONB, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("screener_version", String(100)),
    Column("mode", String(20), nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("screened_at", DateTime(timezone=True), nullable=False),
    Column("review_deadline", DateTime(timezone=True), nullable=False),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("reviewed_by", String(32)),
    Column("review_outcome", String(20)),
    Column("review_rationale", Text),
    # The review queue: a force's positive screens not yet reviewed, the nearest deadline first.
    Index(
        "screenings_to_review",
        "force",
        "review_deadline",
        "contact_id",
        postgresql_where=text("positive AND reviewed_at IS NULL"),
    ),
)
