"""Alembic environment: runs on the connection ``modelyard.core.migrate`` hands it."""

from alembic import context

from modelyard.core.tables_registry import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the autogenerate helper takes this path
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
