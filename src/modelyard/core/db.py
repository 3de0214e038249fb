"""Database engines and transactions for SQLite and PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer. Write transactions start
with ``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write lock
fails at once with "database is locked" (SQLite cannot wait there without risking a
deadlock), while an immediate one waits its turn under ``busy_timeout``. Read
transactions stay deferred so searches never queue behind ingest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from modelyard.core.errors import InvalidArgument, Unavailable

SQLITE_BUSY_TIMEOUT_MS = 60_000
_WRITE = "modelyard_write"


def normalize_db_uri(uri: str) -> str:
    """Accept the short forms users type and pick the drivers Modelyard ships with."""
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith(("sqlite:", "postgresql+psycopg://")):
        return uri
    raise InvalidArgument(
        f"Unsupported store URI {uri!r}: use sqlite:///path/to/file.db or postgresql://user@host/db."
    )


def create_db_engine(uri: str) -> Engine:
    """An engine for ``uri`` with the connection settings Modelyard relies on."""
    url = make_url(normalize_db_uri(uri))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=NullPool if url.database in (None, "", ":memory:") else None,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL in WAL mode: a crashed process never loses a committed transaction.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # LIKE is case-sensitive, as on PostgreSQL; ILIKE is the case-insensitive form.
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite store."""
    return engine.dialect.name == "sqlite"


class Database:
    """Opens read and write transactions, retrying the rare lock timeout."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; commits on success, rolls back on error.

        Lock contention that outlasts ``busy_timeout`` can only happen at BEGIN, before
        the caller's body runs, so that is the one place it is safe to retry.
        """
        for attempt in range(3):
            raw = self.engine.connect()
            try:
                conn = raw.execution_options(**{_WRITE: True})
                trans = conn.begin()
                break
            except OperationalError as exc:
                raw.close()
                if not _is_lock_error(exc):
                    raise
                if attempt == 2:
                    raise Unavailable("The store is busy; try again shortly.") from exc
                time.sleep(0.2 * (attempt + 1))
        try:
            yield conn
            trans.commit()
        except BaseException:
            trans.rollback()
            raise
        finally:
            raw.close()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "database is locked" in text or "database table is locked" in text
