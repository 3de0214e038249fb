"""Small SQL helpers that differ between SQLite and PostgreSQL.

The two hot paths (metric ingest and metric history) use the driver's cursor directly:
SQLAlchemy's per-row result processing costs 3-4x the query itself at 100k rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(table)


def _native(conn: Connection, sql: str) -> str:
    """Write SQL with ``?`` placeholders; PostgreSQL's driver wants ``%s``."""
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def driver_fetchall(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run a query on the driver's cursor inside ``conn``'s transaction; rows as plain tuples."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_native(conn, sql), params)
        return list(cur.fetchall())
    finally:
        cur.close()


def driver_executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``executemany`` on the driver's cursor inside ``conn``'s transaction."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(_native(conn, sql), rows)
    finally:
        cur.close()
