"""Tables for the tamper-evident audit trail.

``audit_log`` is a hash chain: every record stores the hash of the record before it
(``prev_hash``) and its own ``hash`` over its contents, so editing, removing or slipping in
a record breaks the chain. ``audit_head`` holds one row, the last ``seq`` and ``hash``,
updated in the same transaction as each append; it catches what a chain alone cannot: a
deleted tail or an extra record forged at the end.

No foreign keys: the audit trail outlives the projects, users and models it describes.
"""

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, String, Table

from modelyard.core.metadata import metadata

# BIGINT on PostgreSQL; SQLite only treats a column spelled INTEGER as the rowid alias.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

audit_log = Table(
    "audit_log",
    metadata,
    # Allocated by ``append_audit`` (last seq + 1 under the append lock), never by a sequence:
    # a rolled-back transaction would leave a gap that looks like a deleted record.
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),  # ms since the epoch
    Column("actor", String(200), nullable=False),
    Column("action", String(500), nullable=False),  # e.g. "model_alias.moved", "auth.login_failed"
    Column("object_type", String(100), nullable=False),
    Column("object_id", String(500), nullable=False),
    Column("project_id", String(32), nullable=True),
    Column("client_address", String(100), nullable=False),
    Column("client_agent", String(500), nullable=False),
    Column("outcome", String(16), nullable=False),  # ok | denied | failed
    Column("summary", JSON, nullable=True),  # before/after summary, secrets redacted
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_project_id", "project_id", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: a single row
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
