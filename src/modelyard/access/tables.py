"""Project memberships."""

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table

from modelyard.core.metadata import metadata

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("added_by", String(200), nullable=False, default=""),
    Column("added_at", BigInteger, nullable=False),
)
