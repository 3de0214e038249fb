"""Tables for projects and their experiments."""

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table, Text, UniqueConstraint

from modelyard.core.metadata import metadata

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name"),
)
