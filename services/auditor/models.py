"""The auditor's own projection (pseudonymous: no names or contact details), its flags, subscriptions and audits."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.runtime.access_log import access_log_tables
from services.runtime.messaging import inbox_table, outbox_table

SCHEMA = "auditor"
metadata = MetaData(schema=SCHEMA)

TS = DateTime(timezone=True)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10)),
    Column("category", String(20)),
    Column("channel", String(20)),
    Column("received_at", TS),
    Column("recording_deadline", TS),
    Column("expected_crimes", Integer),
    Column("outcome", String(20)),
    Column("decided_at", TS),
    # What the contact reported, without names: enough for the detectors to judge it.
    Column("facts", JSONB),
    Column("decision", JSONB),
    Column("deadline_checked", Boolean, nullable=False, server_default=text("false")),
    # The audit categories of the crimes the facts require (rules/counting.required_categories): at first contact,
    # and as if every identified victim had confirmed (what a person who let the report lapse owed).
    Column("required_categories", ARRAY(Text)),
    Column("required_categories_unconfirmed", ARRAY(Text)),
    Index("auditor_contacts_due", "recording_deadline", postgresql_where=text("deadline_checked = false")),
    Index("auditor_contacts_received", "force", "received_at"),
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
    Column("victim_ref", String(50)),
    Column("incident_ref", String(50)),
    Column("recorded_at", TS, nullable=False),
    Column("recording_deadline", TS, nullable=False),
    Column("received_at", TS),
    Index("auditor_crimes_received", "force", "received_at"),  # a period's crimes, by their contacts' receipt
    Index("auditor_crimes_recorded", "force", "recorded_at"),  # R: crimes recorded in the year to a date
)

# Each contact's share of the recording rate, per audit category (stats_repository.refresh_units keeps it as the
# contact's decision, crimes, removals and deadline change): a period's rate is then a sum over these rows.
recording_units = Table(
    "recording_units",
    metadata,
    Column("contact_id", Uuid, nullable=False),
    Column("category", String(20), nullable=False),
    Column("force", String(10), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("should", Integer, nullable=False),  # crimes the standard required (less those rightly removed)
    Column("correct", Integer, nullable=False),  # of those, recorded and live
    Column("recorded", Integer, nullable=False),  # live crimes recorded
    Column("on_time", Integer, nullable=False),  # of those, within their deadline
    PrimaryKeyConstraint("contact_id", "category"),
    Index("auditor_recording_units_received", "force", "received_at"),
)

n100s = Table(
    "n100s",
    metadata,
    Column("n100_id", Uuid, primary_key=True),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("force", String(10), nullable=False),
    Column("recorded_at", TS, nullable=False),
)

removals = Table(
    "removals",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("crime_reference", String(40), nullable=False, index=True),
    Column("contact_id", Uuid, nullable=False),
    Column("force", String(10), nullable=False),
    Column("kind", String(20), nullable=False),  # cancelled | transferred
    Column("code", String(2), nullable=False),
    Column("audit_category", String(20), nullable=False),
    Column("ho_class", String(10), nullable=False),
    Column("removed_at", TS, nullable=False),
    Column("notify_by", TS, nullable=False),
    Column("victim_told", Boolean, nullable=False),
    Column("judged_correct", Boolean, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("notice_checked", Boolean, nullable=False, server_default=text("false")),
    Index("auditor_removals_due", "notify_by", postgresql_where=text("notice_checked = false")),
)

# Narrative screens (issue 18): the screener's verdict on a contact not recorded at first contact, and its review.
screenings = Table(
    "screenings",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("outcome", String(20), nullable=False),  # the first-contact decision the screen read behind
    Column("screened", Boolean, nullable=False),
    Column("positive", Boolean, nullable=False),
    Column("score", Float),
    Column("families", JSONB, nullable=False),
    Column("screener_version", String(100)),
    Column("received_at", TS, nullable=False),
    Column("screened_at", TS, nullable=False),
    Column("review_deadline", TS, nullable=False),
    Column("reviewed_at", TS),
    Column("review_action", String(20)),
    Column("crime_references", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("deadline_checked", Boolean, nullable=False, server_default=text("false")),
    Index("auditor_screenings_due", "review_deadline", postgresql_where=text("positive AND deadline_checked = false")),
    Index("auditor_screenings_received", "force", "received_at"),
)

notifications = Table(
    "victim_notifications",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("crime_reference", String(40), nullable=False, index=True),
    Column("notified_at", TS, nullable=False),
)

CLASS_KEYS = ("ho_class", "previous_class", "new_class", "reported_classes", "offences")
"""Where a flag's evidence names Home Office classes (a class, or a list of them)."""
EVIDENCE_CLASSES = (
    "jsonb_path_query_array(evidence, '$.keyvalue() ? ("
    + " || ".join(f'@.key == "{name}"' for name in CLASS_KEYS)
    + ').value[*] ? (@.type() == "string")\')'
)

flags = Table(
    "flags",
    metadata,
    Column("flag_id", BigInteger, primary_key=True, autoincrement=True),
    Column("rule", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("force", String(10), nullable=False),
    Column("contact_id", Uuid, nullable=False, index=True),
    Column("crime_reference", String(40)),
    Column("subject", String(100), nullable=False),
    Column("audit_category", String(20)),
    Column("explanation", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    # The Home Office classes the evidence names (CLASS_KEYS above), kept by PostgreSQL: the offence-group
    # filter reads them here, not by a JSON path walk of every flag's evidence.
    Column("evidence_classes", JSONB, Computed(EVIDENCE_CLASSES, persisted=True)),
    Column("raised_at", TS, nullable=False),
    Column("status", String(20), nullable=False),
    Column("resolution", String(20)),
    Column("cured_by", JSONB),
    Column("updated_at", TS, nullable=False),
    # Raised once: a replay of the same events finds the flag already there.
    UniqueConstraint("rule", "subject", name="flags_raised_once"),
    Index("auditor_flags_force_raised", "force", "raised_at"),
    Index("auditor_flags_evidence_classes", "evidence_classes", postgresql_using="gin"),
)

flag_history = Table(
    "flag_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("flag_id", BigInteger, nullable=False, index=True),
    Column("at", TS, nullable=False),
    Column("status", String(20), nullable=False),
    Column("by_principal", String(32)),
    Column("note", Text),
)

alert_stream = Table(
    "alert_stream",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("flag_id", BigInteger, nullable=False),
    Column("force", String(10), nullable=False),
    Column("rule", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("at", TS, nullable=False),
    Column("body", JSONB, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
access_log, access_log_seals = access_log_tables(metadata)

# Streams and subscriptions read one force's alerts after a position.
Index("auditor_alert_stream_force_seq", alert_stream.c.force, alert_stream.c.seq)

alert_subscriptions = Table(
    "alert_subscriptions",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("callback_url", String(2000), nullable=False),
    Column("rules", JSONB),  # the rules it wants; null: every rule
    Column("min_severity", String(10), nullable=False),
    Column("description", String(500), nullable=False),
    # Kept as issued, unlike API keys (stored hashed): the auditor must sign every delivery with it.
    Column("secret", String(100), nullable=False),
    Column("status", String(20), nullable=False),  # active | suspended | deactivated
    Column("created_by", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    # Every matching alert up to this alert-stream position has been delivered; the next one is retried until it is.
    Column("delivered_seq", BigInteger, nullable=False),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("failing_since", TS),
    Column("next_attempt_at", TS),
    Column("last_success_at", TS),
    Column("suspended_at", TS),
    Column("suspended_reason", String(200)),
    Column("deactivated_at", TS),
    # One deliverer at a time per subscription, across processes, so deliveries stay in order.
    Column("lease_token", Uuid),
    Column("leased_until", TS),
    Index("auditor_alert_subscriptions_force", "force", "created_at"),
    Index("auditor_alert_subscriptions_active", "next_attempt_at", postgresql_where=text("status = 'active'")),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("subscription_id", Uuid, nullable=False),
    Column("delivery_id", Uuid, nullable=False),  # the same for every attempt at one alert: receivers dedupe on it
    Column("seq", BigInteger, nullable=False),
    Column("flag_id", BigInteger, nullable=False),
    Column("event", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", TS, nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
    Index("auditor_alert_deliveries_subscription", "subscription_id", "seq", "attempt"),
)

audits = Table(
    "audits",
    metadata,
    Column("audit_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("period_from", TS, nullable=False),
    Column("period_to", TS, nullable=False),
    Column("size", Integer, nullable=False),
    Column("stratified", Boolean, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("population", Integer, nullable=False),
)

audit_items = Table(
    "audit_items",
    metadata,
    Column("audit_id", Uuid, nullable=False),
    Column("item_no", Integer, nullable=False),
    Column("contact_id", Uuid, nullable=False),
    Column("stratum", String(20), nullable=False),
    Column("crimes_required", Integer),
    Column("crimes_correctly_recorded", Integer),
    Column("judged_by", String(32)),
    Column("judged_at", TS),
    Column("note", Text),
    PrimaryKeyConstraint("audit_id", "item_no"),
)
