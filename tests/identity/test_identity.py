"""Identity as users and operators meet it: passwords, API tokens, sign-in, lockout, bootstrap, CLI."""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from modelyard.access.authorizer import Authorizer
from modelyard.core.errors import (
    ERRORS_BY_CODE,
    AlreadyExists,
    Conflict,
    InvalidArgument,
    ModelyardError,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
    error_from_dict,
)
from modelyard.core.settings import get_settings
from modelyard.core.store import Store
from modelyard.identity.cli import app as admin_cli
from modelyard.identity.ratelimit import LoginLimiter
from modelyard.identity.router import router as identity_router
from modelyard.identity.service import IdentityService
from modelyard.identity.tables import api_tokens, bootstrap, users
from modelyard.identity.tokens import new_token, parse_token

INVALID_TOKEN = "Invalid or expired token."
INVALID_LOGIN = "Invalid user name or password."
GOOD_PASSWORD = "correct horse battery 9"
TOKEN_RE = re.compile(r"myd_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}")
IDENTITY_TABLES = [users, api_tokens, bootstrap]
DAY_MS = 24 * 3600 * 1000


class FakeClock:
    """A clock the test moves by hand (milliseconds for the service, seconds for the limiter)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now


class CountingHasher(PasswordHasher):
    """argon2 as configured by default, counting verifications."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def identity(store: Store) -> IdentityService:
    """The identity service over the test's (migrated) store."""
    return IdentityService(store.db)


@pytest.fixture
def uname() -> str:
    """A user name no other test uses (PostgreSQL is shared within the session)."""
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def empty_store(store_uri: str, tmp_path: Path) -> Iterator[Store]:
    """A store with no users at all: a fresh SQLite file, or a fresh PostgreSQL database."""
    dbname = None
    uri = store_uri
    if not store_uri.startswith("sqlite"):
        dbname = f"modelyard_boot_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(store_uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        uri = f"{store_uri.rsplit('/', 1)[0]}/{dbname}"
    store = Store.open(uri, str(tmp_path / "artifacts-empty"))
    yield store
    store.close()
    if dbname:
        with psycopg.connect(store_uri, autocommit=True) as conn:
            kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
            conn.execute(kill, (dbname,))
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


def _all_identity_values(store: Store) -> list[str]:
    values: list[str] = []
    with store.db.read() as conn:
        for table in IDENTITY_TABLES:
            for row in conn.execute(select(table)).all():
                values.extend(str(v) for v in row)
    return values


# -- passwords and users ------------------------------------------------------------------


def test_password_is_stored_as_argon2id_hash(identity: IdentityService, store: Store, uname: str) -> None:
    user = identity.create_user(uname, password=GOOD_PASSWORD, display_name="Ada", email="ada@example.com")
    assert user.has_password and "password_hash" not in user.model_dump()
    with store.db.read() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert stored != GOOD_PASSWORD and GOOD_PASSWORD not in stored
    assert all(GOOD_PASSWORD not in v for v in _all_identity_values(store))


@pytest.mark.parametrize(
    "weak",
    ["Short1!", "alllowercaseletters", "ALLUPPERCASELETTERS", "123456789012345", "!!!!!!!!!!!!!!", ""],
)
def test_weak_password_is_refused_with_the_rule(identity: IdentityService, uname: str, weak: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        identity.create_user(uname, password=weak)
    assert "12" in err.value.message and "two kinds" in err.value.message
    assert weak == "" or weak not in err.value.message
    with pytest.raises(NotFound):
        identity.get_user(uname)


def test_set_password_applies_the_policy_and_replaces_the_hash(identity: IdentityService, uname: str) -> None:
    identity.create_user(uname)
    with pytest.raises(InvalidArgument, match="12"):
        identity.set_password(uname, "tooshort")
    with pytest.raises(Unauthenticated):
        identity.login(uname, GOOD_PASSWORD, client_address="10.0.0.1")
    identity.set_password(uname, GOOD_PASSWORD)
    user, _ = identity.login(uname, GOOD_PASSWORD, client_address="10.0.0.1")
    assert user.name == uname and user.has_password


@pytest.mark.parametrize(
    "bad", ["Alice", "-bob", ".x", "", "a" * 101, "a b", "bob/x", "bob@corp", "me", "anonymous", "zoë"]
)
def test_user_names_are_validated(identity: IdentityService, bad: str) -> None:
    with pytest.raises(InvalidArgument, match=r"not valid|reserved"):
        identity.create_user(bad)


def test_valid_names_duplicates_and_lookup(identity: IdentityService, uname: str) -> None:
    user = identity.create_user(f"{uname}.ci_bot-1", kind="service", created_by="alice")
    assert user.kind == "service" and not user.has_password and user.created_by == "alice"
    assert identity.get_user(user.id) == identity.get_user(user.name) == user
    assert user in identity.list_users()
    with pytest.raises(AlreadyExists, match="already exists"):
        identity.create_user(f"{uname}.ci_bot-1")
    with pytest.raises(InvalidArgument, match="Service accounts"):
        identity.create_user(f"{uname}-svc", kind="service", password=GOOD_PASSWORD)
    with pytest.raises(InvalidArgument, match="kind"):
        identity.create_user(f"{uname}-x", kind="robot")
    with pytest.raises(NotFound, match="No user"):
        identity.get_user(f"{uname}-missing")


# -- API tokens ---------------------------------------------------------------------------


def test_token_is_shown_once_stored_hashed_and_authenticates(
    identity: IdentityService, store: Store, uname: str
) -> None:
    identity.create_user(uname)
    meta, full = identity.issue_token(uname, name="laptop")
    token_id, secret = parse_token(full)
    assert full == f"myd_{token_id}_{secret}" and meta.id == token_id and len(secret) == 43
    with store.db.read() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().one()
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    values = _all_identity_values(store)
    assert not any(secret in v or full in v for v in values)
    listed = identity.list_tokens(uname)
    assert [t.id for t in listed] == [token_id]
    assert secret not in str([t.model_dump() for t in listed]) and "secret_hash" not in listed[0].model_dump()
    assert identity.authenticate_token(full).name == uname


def test_every_bad_token_gets_the_same_message(store: Store, uname: str) -> None:
    clock = FakeClock(1_700_000_000_000)
    identity = IdentityService(store.db, clock=clock)
    identity.create_user(uname)
    _, revoked = identity.issue_token(uname, name="revoked")
    identity.revoke_token(parse_token(revoked)[0])
    _, expiring = identity.issue_token(uname, name="short", expires_in_days=1)
    _, good = identity.issue_token(uname, name="good", expires_in_days=None)
    token_id = parse_token(good)[0]
    wrong_secret = f"myd_{token_id}_{'A' * 43}"
    unknown_id = new_token()[2]
    clock.now += DAY_MS  # the one-day token has just expired
    bad = [revoked, expiring, wrong_secret, unknown_id, "", "garbage", "myd_short_x", good + "x", good[:-1]]
    for token in bad:
        with pytest.raises(Unauthenticated) as err:
            identity.authenticate_token(token)
        assert err.value.message == INVALID_TOKEN, token
    assert identity.authenticate_token(good).name == uname


def test_tokens_of_deactivated_user_are_refused(identity: IdentityService, uname: str) -> None:
    identity.create_user(uname, password=GOOD_PASSWORD)
    _, full = identity.issue_token(uname, name="ci")
    assert identity.authenticate_token(full).name == uname
    assert identity.deactivate_user(uname).active is False
    with pytest.raises(Unauthenticated) as err:
        identity.authenticate_token(full)
    assert err.value.message == INVALID_TOKEN
    with pytest.raises(Unauthenticated, match=re.escape(INVALID_LOGIN)):
        identity.login(uname, GOOD_PASSWORD, client_address="10.0.0.1")
    with pytest.raises(InvalidArgument, match="deactivated"):
        identity.issue_token(uname, name="another")


def test_last_used_at_is_written_at_most_once_a_minute(store: Store, uname: str) -> None:
    clock = FakeClock(1_700_000_000_000)
    identity = IdentityService(store.db, clock=clock)
    identity.create_user(uname)
    meta, full = identity.issue_token(uname, name="ci")
    assert meta.last_used_at is None
    identity.authenticate_token(full)
    assert identity.list_tokens(uname)[0].last_used_at == clock.now
    first = clock.now
    clock.now += 30_000
    identity.authenticate_token(full)
    assert identity.list_tokens(uname)[0].last_used_at == first
    clock.now += 31_000
    identity.authenticate_token(full)
    assert identity.list_tokens(uname)[0].last_used_at == clock.now


def test_revoke_token_is_scoped_to_its_owner(identity: IdentityService, uname: str) -> None:
    identity.create_user(uname)
    identity.create_user(f"{uname}-other")
    meta, full = identity.issue_token(uname, name="ci", expires_in_days=7)
    assert meta.expires_at is not None and meta.expires_at - meta.created_at == 7 * DAY_MS
    with pytest.raises(NotFound):
        identity.revoke_token(meta.id, user_name=f"{uname}-other")
    assert identity.authenticate_token(full).name == uname
    revoked = identity.revoke_token(meta.id, user_name=uname)
    assert revoked.revoked_at is not None
    assert identity.revoke_token(meta.id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(InvalidArgument, match="lifetime"):
        identity.issue_token(uname, name="x", expires_in_days=0)
    with pytest.raises(InvalidArgument, match="name"):
        identity.issue_token(uname, name="")


# -- sign-in ------------------------------------------------------------------------------


def test_login_issues_a_12_hour_session_token(identity: IdentityService, uname: str) -> None:
    identity.create_user(uname, password=GOOD_PASSWORD)
    user, session = identity.login(uname, GOOD_PASSWORD, client_address="10.0.0.1")
    assert user.name == uname and TOKEN_RE.fullmatch(session)
    assert identity.authenticate_token(session).id == user.id
    (meta,) = identity.list_tokens(uname)
    assert meta.name == "session" and meta.expires_at is not None
    assert meta.expires_at - meta.created_at == 12 * 3600 * 1000


def test_login_failures_look_the_same_and_cost_the_same(store: Store, uname: str) -> None:
    hasher = CountingHasher()
    identity = IdentityService(store.db, hasher=hasher)
    identity.create_user(uname, password=GOOD_PASSWORD)
    identity.create_user(f"{uname}-svc", kind="service")
    attempts = [
        (uname, GOOD_PASSWORD + "x"),  # wrong password
        (f"{uname}-nobody", GOOD_PASSWORD),  # unknown user
        (f"{uname}-svc", GOOD_PASSWORD),  # service account: no password
        ("x" * 500, GOOD_PASSWORD),  # absurd name
    ]
    for name, password in attempts:
        before = hasher.verifications
        with pytest.raises(Unauthenticated) as err:
            identity.login(name, password, client_address="10.0.0.1")
        assert err.value.message == INVALID_LOGIN
        assert hasher.verifications == before + 1, f"{name}: argon2 must run even when the user is unknown"


# -- rate limiting ------------------------------------------------------------------------


def test_limiter_locks_a_name_from_an_address_after_5_failures() -> None:
    clock = FakeClock(1000.0)
    limiter = LoginLimiter(clock=clock)
    for _ in range(5):
        limiter.check("10.0.0.1", "alice")
        limiter.record_failure("10.0.0.1", "alice")
    with pytest.raises(TooManyRequests) as err:
        limiter.check("10.0.0.1", "alice")
    assert err.value.status_code == 429 and err.value.code == "TOO_MANY_REQUESTS"
    assert "300 seconds" in err.value.message
    limiter.check("10.0.0.1", "bob")  # other names from that address still work
    limiter.check("10.0.0.2", "alice")  # and alice from elsewhere is not locked out
    clock.now += 299
    with pytest.raises(TooManyRequests, match="1 seconds"):
        limiter.check("10.0.0.1", "alice")
    clock.now += 2
    limiter.check("10.0.0.1", "alice")


def test_limiter_locks_an_address_after_20_failures_over_any_names() -> None:
    clock = FakeClock(1000.0)
    limiter = LoginLimiter(clock=clock)
    for i in range(20):
        limiter.check("10.0.0.9", f"name-{i}")
        limiter.record_failure("10.0.0.9", f"name-{i}")
    with pytest.raises(TooManyRequests):
        limiter.check("10.0.0.9", "someone-new")
    limiter.check("10.0.0.8", "someone-new")
    clock.now += 301
    limiter.check("10.0.0.9", "someone-new")


def test_limiter_counts_only_failures_inside_the_window() -> None:
    clock = FakeClock(1000.0)
    limiter = LoginLimiter(clock=clock)
    for _ in range(4):
        limiter.record_failure("10.0.0.1", "alice")
    clock.now += 301
    limiter.record_failure("10.0.0.1", "alice")
    limiter.check("10.0.0.1", "alice")  # 5 failures, but not within 300 s


def test_limiter_success_clears_the_name_but_not_the_address() -> None:
    limiter = LoginLimiter(clock=FakeClock(1000.0))
    for i in range(4):
        limiter.record_failure("10.0.0.1", "alice")
        limiter.record_failure("10.0.0.1", f"guess-{i}")
    limiter.record_success("10.0.0.1", "alice")
    for _ in range(4):
        limiter.record_failure("10.0.0.1", "alice")
    limiter.check("10.0.0.1", "alice")  # the success reset alice's count...
    for i in range(8):
        limiter.record_failure("10.0.0.1", f"other-{i}")
    with pytest.raises(TooManyRequests):  # ...but not the address's (8 + 4 + 8 = 20)
        limiter.check("10.0.0.1", "carol")


def test_limiter_is_thread_safe() -> None:
    limiter = LoginLimiter(max_failures=10**9, max_failures_per_address=10**9)

    def hammer() -> None:
        for _ in range(500):
            limiter.record_failure("10.0.0.1", "alice")
            limiter.check("10.0.0.1", "alice")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limiter._counters[("pair", "10.0.0.1", "alice")].failures) == 4000


def test_too_many_requests_round_trips_through_the_error_body() -> None:
    assert ERRORS_BY_CODE["TOO_MANY_REQUESTS"] is TooManyRequests
    err = error_from_dict(TooManyRequests("wait").to_dict(), 429)
    assert type(err) is TooManyRequests and err.message == "wait"


# -- bootstrap of the first administrator -------------------------------------------------


def test_bootstrap_creates_the_first_admin_once(empty_store: Store) -> None:
    identity = IdentityService(empty_store.db)
    token = identity.ensure_bootstrap_token()
    assert token is not None
    assert identity.ensure_bootstrap_token() is None  # issued once; only its hash is kept
    assert not any(token in v for v in _all_identity_values(empty_store))
    with pytest.raises(PermissionDenied, match="wrong or was already used"):
        identity.redeem_bootstrap(token + "x", name="root")
    admin, api_token = identity.redeem_bootstrap(token, name="root", password=GOOD_PASSWORD)
    assert admin.is_admin and admin.created_by == "bootstrap"
    assert identity.authenticate_token(api_token).name == "root"
    assert identity.login("root", GOOD_PASSWORD, client_address="127.0.0.1")[0].id == admin.id
    with pytest.raises(PermissionDenied, match="administrator already exists"):
        identity.redeem_bootstrap(token, name="root2")
    assert identity.ensure_bootstrap_token() is None
    assert [u.name for u in identity.list_users()] == ["root"]


def test_bootstrap_is_not_offered_when_an_admin_exists(empty_store: Store) -> None:
    identity = IdentityService(empty_store.db)
    identity.create_user("boss", is_admin=True)
    assert identity.ensure_bootstrap_token() is None
    with pytest.raises(PermissionDenied):
        identity.redeem_bootstrap("mydboot_anything", name="intruder")


def test_used_bootstrap_token_cannot_be_replayed(empty_store: Store) -> None:
    identity = IdentityService(empty_store.db)
    token = identity.ensure_bootstrap_token()
    assert token is not None
    with empty_store.db.write() as conn:  # as if it had been redeemed, then the admin removed
        conn.execute(update(bootstrap).values(used_at=1))
    with pytest.raises(PermissionDenied, match="wrong or was already used"):
        identity.redeem_bootstrap(token, name="root")
    fresh = identity.ensure_bootstrap_token()  # still no admin: a new token, the old one dead
    assert fresh is not None and fresh != token
    with pytest.raises(PermissionDenied):
        identity.redeem_bootstrap(token, name="root")
    assert identity.redeem_bootstrap(fresh, name="root")[0].is_admin


def test_last_active_admin_cannot_be_deactivated(empty_store: Store) -> None:
    identity = IdentityService(empty_store.db)
    identity.create_user("boss", is_admin=True)
    with pytest.raises(Conflict, match="last active administrator"):
        identity.deactivate_user("boss")
    identity.create_user("deputy", is_admin=True)
    assert identity.deactivate_user("boss").active is False


# -- REST routes --------------------------------------------------------------------------


@pytest.fixture
def api(identity: IdentityService, store: Store) -> Iterator[tuple[TestClient, list[tuple[str, ...]]]]:
    """The identity router in an app with authentication on, and the audit entries it writes."""
    app = FastAPI()
    app.state.identity = identity
    app.state.authorizer = Authorizer(store.db, auth_enabled=True, identity=identity)
    app.state.login_limiter = LoginLimiter()
    audit: list[tuple[str, ...]] = []
    app.state.audit_hook = lambda *entry: audit.append(entry)

    @app.exception_handler(ModelyardError)
    async def _error(_: Request, exc: ModelyardError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code)

    app.include_router(identity_router)
    with TestClient(app) as client:
        yield client, audit


def test_every_identity_route_declares_a_permission() -> None:
    for route in identity_router.routes:
        perms = [getattr(d.call, "__modelyard_permission__", None) for d in route.dependant.dependencies]  # type: ignore[attr-defined]
        assert any(perms), route


def test_rest_login_audit_lockout_and_tokens(
    api: tuple[TestClient, list[tuple[str, ...]]], identity: IdentityService, uname: str
) -> None:
    client, audit = api
    identity.create_user(uname, password=GOOD_PASSWORD)
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"name": uname, "password": "wrong password 1"})
        assert r.status_code == 401 and r.json()["error"]["message"] == INVALID_LOGIN
    r = client.post("/api/v1/auth/login", json={"name": uname, "password": GOOD_PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert [e[2] for e in audit] == ["failure"] * 5 + ["locked"]
    assert all(e[0] == "auth.login" and e[1] == uname and e[3] == "testclient" for e in audit)
    assert not any("wrong password 1" in part or GOOD_PASSWORD in part for e in audit for part in e)

    client.app.state.login_limiter = LoginLimiter()  # type: ignore[attr-defined]
    r = client.post("/api/v1/auth/login", json={"name": uname, "password": GOOD_PASSWORD})
    assert r.status_code == 200 and r.json()["expires_in_s"] == 12 * 3600
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert "password_hash" not in r.json()["user"]
    assert client.get("/api/v1/users/me", headers=headers).json()["name"] == uname
    assert client.get("/api/v1/users/me").status_code == 401

    r = client.post("/api/v1/users/me/tokens", json={"name": "ci", "expires_in_days": 30}, headers=headers)
    assert r.status_code == 201 and TOKEN_RE.fullmatch(r.json()["token"])
    new_id = r.json()["id"]
    listed = client.get("/api/v1/users/me/tokens", headers=headers).json()
    assert {t["name"] for t in listed} == {"session", "ci"} and all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/users/me/tokens/{new_id}", headers=headers).json()["revoked_at"]
    revoked_headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/users/me", headers=revoked_headers).status_code == 401
    assert client.get("/api/v1/users", headers=headers).status_code == 403  # not an admin


def test_rest_admin_creates_and_deactivates_users(
    api: tuple[TestClient, list[tuple[str, ...]]], identity: IdentityService, uname: str
) -> None:
    client, audit = api
    identity.create_user(f"{uname}-admin", is_admin=True)
    headers = {"Authorization": f"Bearer {identity.issue_token(f'{uname}-admin', name='t')[1]}"}
    body = {"name": f"{uname}-svc", "kind": "service", "with_token": True}
    r = client.post("/api/v1/users", json=body, headers=headers)
    assert r.status_code == 201 and r.json()["created_by"] == f"{uname}-admin"
    svc_headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/users/me", headers=svc_headers).json()["kind"] == "service"
    r = client.post("/api/v1/users", json={"name": "Bad Name"}, headers=headers)
    assert r.status_code in (400, 422)
    assert f"{uname}-svc" in {u["name"] for u in client.get("/api/v1/users", headers=headers).json()}
    assert client.delete(f"/api/v1/users/{uname}-svc", headers=headers).json()["active"] is False
    assert client.get("/api/v1/users/me", headers=svc_headers).status_code == 401
    assert [e[0] for e in audit] == ["users.create", "users.deactivate"]


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the process settings: point them at a throwaway home and a wide terminal."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_create_user_prints_a_working_token_once(
    cli_env: None, store_uri: str, identity: IdentityService, uname: str
) -> None:
    runner = CliRunner()
    result = runner.invoke(admin_cli, ["create-user", uname, "--admin", "--store", store_uri])
    assert result.exit_code == 0, result.output
    tokens = TOKEN_RE.findall(result.output)
    assert tokens and set(tokens) == {tokens[0]}
    assert "will not be shown again" in result.output
    assert f"export MODELYARD_TOKEN={tokens[0]}" in result.output
    user = identity.authenticate_token(tokens[0])
    assert user.name == uname and user.is_admin and user.created_by == "admin-cli"

    args = ["issue-token", uname, "--name", "ci", "--days", "0", "--store", store_uri]
    result = runner.invoke(admin_cli, args)
    assert result.exit_code == 0, result.output
    assert "never expires" in result.output
    (ci_token,) = set(TOKEN_RE.findall(result.output))
    assert identity.authenticate_token(ci_token).name == uname
    result = runner.invoke(admin_cli, ["revoke-token", parse_token(ci_token)[0], "--store", store_uri])
    assert result.exit_code == 0, result.output
    with pytest.raises(Unauthenticated):
        identity.authenticate_token(ci_token)

    result = runner.invoke(admin_cli, ["list-users", "--store", store_uri])
    assert result.exit_code == 0 and uname in result.output and "admin" in result.output


def test_cli_password_prompt_and_errors(
    cli_env: None, store_uri: str, identity: IdentityService, uname: str
) -> None:
    runner = CliRunner()
    args = ["create-user", uname, "--password-prompt", "--store", store_uri]
    result = runner.invoke(admin_cli, args, input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert identity.login(uname, GOOD_PASSWORD, client_address="cli")[0].name == uname
    result = runner.invoke(admin_cli, args, input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(admin_cli, ["create-user", "Not Valid", "--store", store_uri])
    assert result.exit_code == 1 and "not valid" in result.output and "Traceback" not in result.output
    result = runner.invoke(admin_cli, ["revoke-token", "nope", "--store", store_uri])
    assert result.exit_code == 1 and "No token" in result.output


def test_rest_audit_withholds_a_name_that_looks_like_a_password(
    api: tuple[TestClient, list[tuple[str, ...]]],
) -> None:
    client, audit = api
    r = client.post("/api/v1/auth/login", json={"name": "Hunter2 Hunter2!", "password": "x"})
    assert r.status_code == 401 and r.json()["error"]["message"] == INVALID_LOGIN
    assert audit == [("auth.login", "(invalid name)", "failure", "testclient", "Sign-in failed.")]
