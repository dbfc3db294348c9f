"""The console's own tables (schema `console`): sign-in sessions, the alert workflow's history, drawn audits."""

from sqlalchemy import ARRAY, BigInteger, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text, Uuid

SCHEMA = "console"
metadata = MetaData(schema=SCHEMA)
TS = DateTime(timezone=True)

sessions = Table(
    "sessions",
    metadata,
    # Only a hash of the session id: the cookie's value cannot be read back from the database.
    Column("session_sha256", LargeBinary, primary_key=True),
    Column("key_id", String(32), nullable=False),
    Column("roles", ARRAY(String(20)), nullable=False),
    Column("force", String(10), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("ended_at", TS),
    Column("ended_why", String(40)),
)

alert_actions = Table(
    "alert_actions",
    metadata,
    Column("action_id", BigInteger, primary_key=True, autoincrement=True),
    Column("flag_id", BigInteger, nullable=False, index=True),
    Column("force", String(10), nullable=False),
    Column("action", String(20), nullable=False),  # acknowledged | resolved
    Column("resolution", String(20)),
    Column("note", Text, nullable=False),
    Column("by_key_id", String(32), nullable=False),
    Column("by_roles", ARRAY(String(20)), nullable=False),
    Column("at", TS, nullable=False),
    Column("outcome", String(20), nullable=False),  # done | refused
    Column("detail", Text),
)

sample_audits = Table(
    "sample_audits",
    metadata,
    Column("audit_id", Uuid, primary_key=True),
    Column("force", String(10), nullable=False, index=True),
    Column("created_by", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("period_from", TS, nullable=False),
    Column("period_to", TS, nullable=False),
    Column("size", Integer, nullable=False),
    Column("population", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
)
