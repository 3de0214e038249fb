"""Tables for registered models, their versions, aliases and model cards."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from modelyard.core.metadata import metadata

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("owner", String(200), nullable=False, default=""),
    Column("risk_tier", String(16), nullable=False, default="medium"),
    Column("status", String(16), nullable=False, default="active"),  # active | archived | deleted
    Column("next_version", Integer, nullable=False, default=1),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | ready | failed
    Column("status_message", Text, nullable=False, default=""),
    Column("provenance", String(16), nullable=False),  # run | external
    Column("source", String(1000), nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    Column("storage_uri", String(1000), nullable=False),
    Column("flavor", String(50), nullable=False, default=""),
    Column("digest", String(64), nullable=False, default=""),
    Column("size_bytes", BigInteger, nullable=False, default=0),
    Column("unsafe", Boolean, nullable=False, default=False),
    Column("trusted", Boolean, nullable=False, default=False),
    Column("manifest", JSON, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("model_id", "version"),
    Index("ix_model_versions_run", "run_id"),
)

version_tags = Table(
    "version_tags",
    metadata,
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(100), primary_key=True),
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("updated_by", String(200), nullable=False, default=""),
    Column("updated_at", BigInteger, nullable=False),
)

alias_history = Table(
    "alias_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(32), ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(100), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),  # NULL: the alias was removed
    Column("actor", String(200), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("at", BigInteger, nullable=False),
    Index("ix_alias_history_model_alias", "model_id", "alias", "id"),
)

model_cards = Table(
    "model_cards",
    metadata,
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("sections", JSON, nullable=False),  # intended_use, limitations, ethical_considerations, ...
    Column("updated_by", String(200), nullable=False, default=""),
    Column("updated_at", BigInteger, nullable=False),
)
