"""Request and response shapes for users, tokens, sign-in and bootstrap.

Responses never carry a password hash or a token secret; the one exception is the full
token returned once, when it is created.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

USER_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
MAX_PASSWORD = 1024

UserKind = Literal["user", "service"]


class User(BaseModel):
    """A person or a service account (no password hash)."""

    id: str
    name: str
    display_name: str = ""
    email: str = ""
    kind: UserKind = "user"
    is_admin: bool = False
    is_auditor: bool = False
    active: bool = True
    has_password: bool = False
    created_at: int
    created_by: str = ""


class ApiToken(BaseModel):
    """An API token's metadata (never its secret)."""

    id: str
    user_id: str
    name: str
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    created_at: int


class CreateUser(BaseModel):
    """Body of ``POST /api/v1/users``."""

    name: str = Field(pattern=USER_NAME_PATTERN)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD)
    kind: UserKind = "user"
    is_admin: bool = False
    is_auditor: bool = False
    display_name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=320)
    with_token: bool = Field(default=False, description="Also issue a first API token (shown once).")


class CreatedUser(User):
    """A new user, with its first API token when one was asked for (shown only here)."""

    token: str | None = None


class Login(BaseModel):
    """Body of ``POST /api/v1/auth/login``."""

    name: str = Field(max_length=100)
    password: str = Field(max_length=MAX_PASSWORD)


class LoginResult(BaseModel):
    """A signed-in user and the session token to send as ``Authorization: Bearer``."""

    user: User
    token: str
    expires_in_s: int


class IssueToken(BaseModel):
    """Body of ``POST /api/v1/users/me/tokens``."""

    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class IssuedToken(ApiToken):
    """A new API token's metadata plus the full token, shown only this once."""

    token: str


class Redeem(BaseModel):
    """Body of ``POST /api/v1/auth/bootstrap``: the one-time token and the first admin."""

    token: str = Field(max_length=200)
    name: str = Field(pattern=USER_NAME_PATTERN)
    password: str | None = Field(default=None, max_length=MAX_PASSWORD)


class RedeemResult(BaseModel):
    """The first administrator and its API token (shown once)."""

    user: User
    token: str
