"""Tables for deployments and the revisions of their specs."""

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from modelyard.core.metadata import metadata

# Names are global (they appear in serving URLs: /v1/deployments/{name}/predict); a deleted
# deployment frees its name.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("status", String(16), nullable=False),  # active | deleted
    Column("revision", Integer, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_deployments_project", "project_id"),
    # One active deployment per name; deleted ones keep their history under their id.
    Index(
        "ux_deployments_active_name",
        "name",
        unique=True,
        sqlite_where=Column("status") == "active",
        postgresql_where=Column("status") == "active",
    ),
)

deployment_revisions = Table(
    "deployment_revisions",
    metadata,
    Column("deployment_id", String(32), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("actor", String(200), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("at", BigInteger, nullable=False),
)
