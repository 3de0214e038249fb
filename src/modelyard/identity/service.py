"""Business rules for users, API tokens, sign-in and the first-admin bootstrap.

Secrets never leave this module except once, as the return value of the call that made
them: passwords are stored as argon2id hashes, token secrets as SHA-256 (see ``tables``),
and nothing here logs a password, a token secret or a hash.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from modelyard.core.db import Database
from modelyard.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from modelyard.core.ids import new_id, now_ms
from modelyard.identity.schemas import MAX_PASSWORD, USER_NAME_PATTERN, ApiToken, User
from modelyard.identity.tables import api_tokens, bootstrap, users
from modelyard.identity.tokens import INVALID_TOKEN, hash_secret, new_token, parse_token, secret_matches

log = logging.getLogger("modelyard.identity")

MIN_PASSWORD = 12
SESSION_TOKEN_NAME = "session"
SESSION_TTL_MS = 12 * 3600 * 1000
MAX_TOKEN_DAYS = 3650
LAST_USED_RESOLUTION_MS = 60_000  # write last_used_at at most once a minute per token
BOOTSTRAP_PREFIX = "mydboot_"
INVALID_LOGIN = "Invalid user name or password."
RESERVED_NAMES = frozenset({"me", "anonymous"})  # "me" is a route segment; "anonymous" the public caller

_NAME = re.compile(USER_NAME_PATTERN)
_DAY_MS = 24 * 3600 * 1000
# Compared against when a token id is unknown, so that path costs the same as a wrong secret.
_DUMMY_SECRET_HASH = "0" * 64
_NO_SERVICE_PASSWORD = "they cannot have a password"
PASSWORD_RULE = (
    f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters mixing at least two kinds: "
    "lower-case letters, upper-case letters, digits, and symbols or spaces"
)


def check_user_name(name: str) -> str:
    """Return ``name`` if it is a valid, unreserved user name.

    Raises:
        InvalidArgument: the name breaks the pattern or is reserved.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"User name {name!r} is not valid: 1-100 characters of lower-case letters, digits and . _ -, "
            "starting with a letter or digit."
        )
    if name in RESERVED_NAMES:
        raise InvalidArgument(f"User name {name!r} is reserved; choose another.")
    return name


def check_password(password: str) -> str:
    """Return ``password`` if it meets the policy.

    Raises:
        InvalidArgument: with the rule, never echoing the password.
    """
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidArgument(f"Password refused: {PASSWORD_RULE}.")
    kinds = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit() else "other"
        for c in password
    }
    if len(kinds) < 2:
        raise InvalidArgument(f"Password refused: {PASSWORD_RULE}.")
    return password


def _user(row: Mapping[Any, Any]) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        display_name=row["display_name"],
        email=row["email"],
        kind=row["kind"],
        is_admin=bool(row["is_admin"]),
        is_auditor=bool(row["is_auditor"]),
        active=bool(row["active"]),
        has_password=row["password_hash"] is not None,
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _token(row: Mapping[Any, Any]) -> ApiToken:
    return ApiToken(**{k: row[k] for k in ApiToken.model_fields})


def _admin_exists(conn: Connection) -> bool:
    query = select(users.c.id).where(users.c.is_admin.is_(True), users.c.active.is_(True)).limit(1)
    return conn.execute(query).first() is not None


class IdentityService:
    """Users, API tokens, sign-in and the bootstrap of the first administrator."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], int] = now_ms,
        hasher: PasswordHasher | None = None,
    ) -> None:
        """Build the service.

        Args:
            db: The store's database.
            clock: Milliseconds since the epoch (tests inject a fake one).
            hasher: The argon2 hasher; default argon2-cffi's argon2id parameters.
        """
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()

    @cached_property
    def _dummy_password_hash(self) -> str:
        # Verified against when the user is unknown or cannot sign in, so the answer takes
        # as long as for a real user with a wrong password: timing does not reveal names.
        return self.hasher.hash(secrets.token_urlsafe(16))

    # -- users ---------------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        *,
        password: str | None = None,
        kind: str = "user",
        is_admin: bool = False,
        is_auditor: bool = False,
        display_name: str = "",
        email: str = "",
        created_by: str = "",
    ) -> User:
        """Create a user or service account.

        Raises:
            InvalidArgument: bad name, weak password, unknown kind, or a password for a service account.
            AlreadyExists: the name is taken.
        """
        row = self._new_user_row(
            name,
            password=password,
            kind=kind,
            is_admin=is_admin,
            is_auditor=is_auditor,
            display_name=display_name,
            email=email,
            created_by=created_by,
        )
        try:
            with self.db.write() as conn:
                conn.execute(users.insert().values(**row))
        except IntegrityError as exc:
            raise AlreadyExists(f"A user named {name!r} already exists.") from exc
        return _user(row)

    def _new_user_row(
        self,
        name: str,
        *,
        password: str | None,
        kind: str,
        is_admin: bool,
        is_auditor: bool,
        display_name: str,
        email: str,
        created_by: str,
    ) -> dict[str, Any]:
        check_user_name(name)
        if kind not in ("user", "service"):
            raise InvalidArgument(f"User kind {kind!r} is not valid: use 'user' or 'service'.")
        if kind == "service" and password is not None:
            raise InvalidArgument(f"Service accounts sign in with API tokens only: {_NO_SERVICE_PASSWORD}.")
        if len(display_name) > 200 or len(email) > 320:
            raise InvalidArgument("Display name is limited to 200 characters and email to 320.")
        return {
            "id": new_id(),
            "name": name,
            "display_name": display_name,
            "email": email,
            "password_hash": None if password is None else self.hasher.hash(check_password(password)),
            "kind": kind,
            "is_admin": is_admin,
            "is_auditor": is_auditor,
            "active": True,
            "created_at": self.clock(),
            "created_by": created_by,
        }

    def get_user(self, name_or_id: str) -> User:
        """A user by name or id.

        Raises:
            NotFound: no such user.
        """
        with self.db.read() as conn:
            row = self._user_row(conn, name_or_id)
        return _user(row)

    def _user_row(self, conn: Connection, ref: str) -> Mapping[Any, Any]:
        # By name first: a 32-hex-digit name could otherwise match another user's id.
        row = conn.execute(select(users).where(users.c.name == ref)).mappings().first()
        if row is None:
            row = conn.execute(select(users).where(users.c.id == ref)).mappings().first()
        if row is None:
            raise NotFound(f"No user named {ref!r}.")
        return row

    def list_users(self) -> list[User]:
        """All users and service accounts, by name."""
        with self.db.read() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).mappings().all()
        return [_user(r) for r in rows]

    def set_password(self, user: str, password: str) -> None:
        """Set (or replace) a person's password; ``user`` is a name or id.

        Raises:
            InvalidArgument: weak password, or ``user`` is a service account.
            NotFound: no such user.
        """
        check_password(password)
        target = self.get_user(user)
        if target.kind == "service":
            raise InvalidArgument(f"Service accounts sign in with API tokens only: {_NO_SERVICE_PASSWORD}.")
        hashed = self.hasher.hash(password)
        with self.db.write() as conn:
            conn.execute(update(users).where(users.c.id == target.id).values(password_hash=hashed))

    def deactivate_user(self, name: str) -> User:
        """Deactivate a user: its password and tokens stop working at once.

        Raises:
            NotFound: no such user.
            Conflict: it is the last active administrator (nobody could manage users any more).
        """
        with self.db.write() as conn:
            row = self._user_row(conn, name)
            if row["is_admin"] and row["active"]:
                others = select(users.c.id).where(
                    users.c.is_admin.is_(True), users.c.active.is_(True), users.c.id != row["id"]
                )
                if conn.execute(others.limit(1)).first() is None:
                    raise Conflict(
                        f"{row['name']!r} is the last active administrator; make another admin first."
                    )
            conn.execute(update(users).where(users.c.id == row["id"]).values(active=False))
        return _user({**row, "active": False})

    # -- API tokens ----------------------------------------------------------------------

    def issue_token(
        self, user_name: str, *, name: str, expires_in_days: int | None = 90
    ) -> tuple[ApiToken, str]:
        """Issue an API token; returns its metadata and the full token, shown only this once.

        ``expires_in_days=None`` makes a token that never expires (for service accounts).

        Raises:
            InvalidArgument: bad token name or lifetime, or the user is deactivated.
            NotFound: no such user.
        """
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidArgument("Token name must be 1-100 characters.")
        if expires_in_days is not None and not (
            isinstance(expires_in_days, int) and 1 <= expires_in_days <= MAX_TOKEN_DAYS
        ):
            raise InvalidArgument(
                f"Token lifetime must be 1-{MAX_TOKEN_DAYS} days (or none, for a token that never expires)."
            )
        now = self.clock()
        expires_at = None if expires_in_days is None else now + expires_in_days * _DAY_MS
        with self.db.write() as conn:
            user = self._user_row(conn, user_name)
            if not user["active"]:
                raise InvalidArgument(f"User {user['name']!r} is deactivated; it cannot get new tokens.")
            return self._insert_token(conn, user["id"], name, expires_at, now)

    def _insert_token(
        self, conn: Connection, user_id: str, name: str, expires_at: int | None, now: int
    ) -> tuple[ApiToken, str]:
        token_id, secret, full = new_token()
        row = {
            "id": token_id,
            "user_id": user_id,
            "name": name,
            "secret_hash": hash_secret(secret),
            "expires_at": expires_at,
            "revoked_at": None,
            "last_used_at": None,
            "created_at": now,
        }
        conn.execute(api_tokens.insert().values(**row))
        return _token(row), full

    def list_tokens(self, user_name: str) -> list[ApiToken]:
        """A user's tokens, newest first (metadata only, never secrets).

        Raises:
            NotFound: no such user.
        """
        with self.db.read() as conn:
            user = self._user_row(conn, user_name)
            query = (
                select(api_tokens)
                .where(api_tokens.c.user_id == user["id"])
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
            )
            rows = conn.execute(query).mappings().all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, *, user_name: str | None = None) -> ApiToken:
        """Revoke a token at once (idempotent). With ``user_name``, only that user's token.

        Raises:
            NotFound: no such token (or it belongs to someone else).
        """
        with self.db.write() as conn:
            query = select(api_tokens).where(api_tokens.c.id == token_id)
            if user_name is not None:
                query = query.join(users, users.c.id == api_tokens.c.user_id).where(users.c.name == user_name)
            found = conn.execute(query).mappings().first()
            if found is None:
                raise NotFound(f"No token with id {token_id!r}.")
            row = dict(found)
            if row["revoked_at"] is None:
                row["revoked_at"] = self.clock()
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=row["revoked_at"])
                )
        return _token(row)

    def authenticate_token(self, full: str) -> User:
        """The active user a token belongs to.

        Raises:
            Unauthenticated: "Invalid or expired token." whatever the reason (malformed,
                unknown, wrong secret, revoked, expired, user deactivated), so a caller
                cannot probe which tokens exist.
        """
        token_id, secret = parse_token(full)
        query = (
            select(
                users,
                api_tokens.c.secret_hash,
                api_tokens.c.expires_at,
                api_tokens.c.revoked_at,
                api_tokens.c.last_used_at,
            )
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.id == token_id)
        )
        with self.db.read() as conn:
            row = conn.execute(query).mappings().first()
        ok = secret_matches(secret, row["secret_hash"] if row else _DUMMY_SECRET_HASH)
        now = self.clock()
        if (
            row is None
            or not ok
            or row["revoked_at"] is not None
            or (row["expires_at"] is not None and now >= row["expires_at"])
            or not row["active"]
        ):
            raise Unauthenticated(INVALID_TOKEN)
        if row["last_used_at"] is None or now - row["last_used_at"] >= LAST_USED_RESOLUTION_MS:
            with self.db.write() as conn:
                conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
        return _user(row)

    # -- sign-in -------------------------------------------------------------------------

    def login(self, name: str, password: str, *, client_address: str) -> tuple[User, str]:
        """Check a password and issue a 12-hour session token (named "session").

        Raises:
            Unauthenticated: "Invalid user name or password." for every failure (unknown
                user, wrong password, deactivated user, service account), after the same
                argon2 work, so neither the message nor the timing reveals which names exist.
        """
        row = None
        if isinstance(name, str) and len(name) <= 100:
            with self.db.read() as conn:
                row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        usable = row is not None and row["active"] and row["kind"] == "user" and row["password_hash"]
        stored = row["password_hash"] if usable and row is not None else self._dummy_password_hash
        verified: bool
        try:
            verified = isinstance(password, str) and self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            verified = False
        if not (usable and verified) or row is None:
            # Only a known name is logged: people sometimes type their password as the name.
            shown = row["name"] if row is not None else "(unknown user)"
            log.info("Sign-in failed for %r from %s", shown, client_address)
            raise Unauthenticated(INVALID_LOGIN)
        # argon2 parameters were raised since this hash was made: store a stronger one
        # (hashed before the write transaction, which should stay short).
        rehashed = self.hasher.hash(password) if self.hasher.check_needs_rehash(stored) else None
        now = self.clock()
        with self.db.write() as conn:
            if rehashed is not None:
                conn.execute(update(users).where(users.c.id == row["id"]).values(password_hash=rehashed))
            # Old session tokens would otherwise pile up: drop this user's expired ones.
            conn.execute(
                delete(api_tokens).where(
                    api_tokens.c.user_id == row["id"],
                    api_tokens.c.name == SESSION_TOKEN_NAME,
                    api_tokens.c.expires_at < now,
                )
            )
            _, full = self._insert_token(conn, row["id"], SESSION_TOKEN_NAME, now + SESSION_TTL_MS, now)
        log.info("User %r signed in from %s", row["name"], client_address)
        return _user(row), full

    # -- bootstrap of the first administrator ----------------------------------------------

    def ensure_bootstrap_token(self) -> str | None:
        """A one-time token for creating the first admin, or None when not needed.

        When no active administrator exists and no unused bootstrap token is stored, make one,
        store only its hash and return it for the caller to print once. Otherwise None (an
        unused token from an earlier start stays valid; if it was lost, create the admin with
        ``modelyard admin create-user NAME --admin`` on the server host instead).
        """
        token = BOOTSTRAP_PREFIX + secrets.token_urlsafe(32)
        values = {"token_hash": hash_secret(token), "created_at": self.clock(), "used_at": None}
        try:
            with self.db.write() as conn:
                if _admin_exists(conn):
                    return None
                row = conn.execute(select(bootstrap).where(bootstrap.c.id == 1)).mappings().first()
                if row is None:
                    conn.execute(bootstrap.insert().values(id=1, **values))
                elif row["used_at"] is None:
                    return None
                else:  # used, yet no admin remains (deactivated): open bootstrap again
                    conn.execute(update(bootstrap).where(bootstrap.c.id == 1).values(**values))
        except IntegrityError:  # another process inserted it first and prints its own
            return None
        return token

    def redeem_bootstrap(self, token: str, *, name: str, password: str | None = None) -> tuple[User, str]:
        """Create the first administrator with the one-time token; returns it and an API token.

        Raises:
            PermissionDenied: an active administrator exists, or the token is wrong or used.
            InvalidArgument: bad name or weak password.
        """
        row = self._new_user_row(
            name,
            password=password,
            kind="user",
            is_admin=True,
            is_auditor=False,
            display_name="",
            email="",
            created_by="bootstrap",
        )
        refused = "The bootstrap token is wrong or was already used; ask an administrator for an account."
        now = self.clock()
        try:
            with self.db.write() as conn:
                if _admin_exists(conn):
                    raise PermissionDenied(
                        "An administrator already exists, so bootstrap is closed; ask an administrator "
                        "for an account."
                    )
                stored = conn.execute(select(bootstrap).where(bootstrap.c.id == 1)).mappings().first()
                if (
                    stored is None
                    or stored["used_at"] is not None
                    or not isinstance(token, str)
                    or not secret_matches(token, stored["token_hash"])
                ):
                    raise PermissionDenied(refused)
                # Claim the token atomically: a concurrent redeem finds used_at set and updates nothing.
                claimed = conn.execute(
                    update(bootstrap)
                    .where(bootstrap.c.id == 1, bootstrap.c.used_at.is_(None))
                    .values(used_at=now)
                )
                if claimed.rowcount != 1:
                    raise PermissionDenied(refused)
                conn.execute(users.insert().values(**row))
                _, full = self._insert_token(conn, row["id"], "bootstrap", now + 90 * _DAY_MS, now)
        except IntegrityError as exc:
            raise AlreadyExists(f"A user named {name!r} already exists.") from exc
        log.info("First administrator %r created with the bootstrap token", name)
        return _user(row), full
