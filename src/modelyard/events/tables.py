"""Tables for the event log, webhooks and their delivery queue."""

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from modelyard.core.metadata import metadata

# The audit trail outlives what it describes: no foreign key to projects, so deleting a
# project keeps its events.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(100), nullable=False),  # e.g. "model_version.created"
    Column("project_id", String(32), nullable=True),
    Column("subject_type", String(50), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Column("actor", String(200), nullable=False, default=""),
    Column("payload", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_project_id", "project_id", "id"),
    Index("ix_events_type", "type"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    # NULL: every project (an admin-level webhook).
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),  # HMAC key: never returned after creation, never logged
    Column("event_types", JSON, nullable=False),  # empty list: all types
    Column("active", Boolean, nullable=False, default=True),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)
