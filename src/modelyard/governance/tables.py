"""Tables for policies, promotion requests, reviews and named check results."""

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from modelyard.core.metadata import metadata

governance_policies = Table(
    "governance_policies",
    metadata,
    Column("tier", String(16), primary_key=True),
    Column("document", Text, nullable=False),  # the YAML an admin wrote
    Column("updated_by", String(200), nullable=False, default=""),
    Column("updated_at", BigInteger, nullable=False),
)

promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("policy", JSON, nullable=False),  # the policy in force when the request was made
    Column("status", String(16), nullable=False),  # pending | applied | rejected | expired
    Column("requested_by", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("evidence", JSON, nullable=False),
    Column("outcome", Text, nullable=False, default=""),  # why it ended the way it did
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Index("ix_promotion_requests_project_status", "project_id", "status"),
)

promotion_reviews = Table(
    "promotion_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(32), ForeignKey("promotion_requests.id", ondelete="CASCADE"), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("decision", String(8), nullable=False),  # approve | reject
    Column("comment", Text, nullable=False, default=""),
    Column("at", BigInteger, nullable=False),
    Index("ix_promotion_reviews_request", "request_id"),
)

check_results = Table(
    "check_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),  # e.g. fairness, data_quality
    Column("passed", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    Column("recorded_by", String(200), nullable=False, default=""),
    Column("at", BigInteger, nullable=False),
    Index("ix_check_results_version_name", "version_id", "name", "id"),
)
