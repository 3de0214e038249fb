"""Shared fixtures: real SQLite files, a real PostgreSQL database, a real HTTP server.

The ``client`` fixture runs each test four ways: embedded and remote, each on SQLite and
on PostgreSQL. PostgreSQL is the local server at 127.0.0.1:5432 (user postgres); it is
required, not optional: when it cannot be reached the PostgreSQL cases fail loudly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.server.background import BackgroundServer

PG_ADMIN_DSN = os.environ.get("MODELYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _test_settings(home: Path) -> Settings:
    return Settings(home=home, flush_interval_s=0.05, retry_timeout_s=3.0, heartbeat_interval_s=0.5)


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"modelyard_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is required for these tests and is not reachable: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a throwaway home folder, with quick flushes."""
    return _test_settings(tmp_path / "home")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URI: a fresh SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'modelyard.db'}"
    return str(request.getfixturevalue("pg_uri"))


@pytest.fixture
def store(store_uri: str, tmp_path: Path) -> Iterator[Store]:
    """An opened, migrated store."""
    s = Store.open(store_uri, str(tmp_path / "artifacts"))
    yield s
    s.close()


@pytest.fixture
def live_server(store: Store, settings: Settings) -> Iterator[BackgroundServer]:
    """A running server over ``store``."""
    server = BackgroundServer(store, settings).start()
    yield server
    server.stop()


@pytest.fixture
def start_server(settings: Settings) -> Iterator[Callable[[Store], BackgroundServer]]:
    """Start live servers over stores of the test's choosing; all stop at teardown."""
    started: list[BackgroundServer] = []

    def start(store: Store) -> BackgroundServer:
        server = BackgroundServer(store, settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=["embedded", "remote"])
def client(
    request: pytest.FixtureRequest, store_uri: str, tmp_path: Path, settings: Settings
) -> Iterator[Client]:
    """A Client, embedded on the store or remote through a live server over it."""
    if request.param == "embedded":
        c = Client(store_uri, artifacts_uri=str(tmp_path / "artifacts"), settings=settings)
    else:
        server = request.getfixturevalue("live_server")
        c = Client(server.url, settings=settings)
    yield c
    c.close()


@pytest.fixture
def project() -> str:
    """A project name no other test uses (PostgreSQL is shared within the session)."""
    return f"proj-{uuid.uuid4().hex[:8]}"
