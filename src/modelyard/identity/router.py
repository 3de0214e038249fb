"""REST routes for sign-in, the first-admin bootstrap, users and the caller's API tokens.

Sign-in and bootstrap are public ("auth.login") but rate-limited per client address and
user name. Outcomes of sign-in, bootstrap and user/token changes go to the app's audit
hook (``app.state.audit_hook``) when one is installed; passwords and token secrets never
reach it.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from modelyard.core.auth import Caller, require
from modelyard.core.errors import NotFound, PermissionDenied, TooManyRequests, Unauthenticated
from modelyard.identity.ratelimit import LoginLimiter
from modelyard.identity.schemas import (
    USER_NAME_PATTERN,
    CreatedUser,
    CreateUser,
    IssuedToken,
    IssueToken,
    Login,
    LoginResult,
    Redeem,
    RedeemResult,
    User,
)
from modelyard.identity.service import SESSION_TTL_MS, IdentityService
from modelyard.server.deps import json_response

router = APIRouter(prefix="/api/v1", tags=["identity"])

_BOOTSTRAP_KEY = "@bootstrap"  # limiter key for bootstrap attempts (never a valid user name)


def identity_service(request: Request) -> IdentityService:
    """The identity service."""
    return request.app.state.identity  # type: ignore[no-any-return]


def login_limiter(request: Request) -> LoginLimiter:
    """The process's sign-in limiter (a default one is made if the app has none)."""
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = request.app.state.login_limiter = LoginLimiter()
    return limiter  # type: ignore[no-any-return]


def _address(request: Request, caller: Caller) -> str:
    return caller.client_host or (request.client.host if request.client else "")


def _audit(request: Request, action: str, actor: str, outcome: str, address: str, summary: str) -> None:
    hook = getattr(request.app.state, "audit_hook", None)
    if hook is not None:
        hook(action, actor, outcome, address, summary)


def _claimed(name: str) -> str:
    # The name a sign-in claimed, for the audit trail; anything not shaped like a user name
    # is withheld, since people sometimes type their password into the name field.
    return name if re.match(USER_NAME_PATTERN, name) else "(invalid name)"


def _me(svc: IdentityService, caller: Caller) -> User:
    try:
        return svc.get_user(caller.name)
    except NotFound:
        raise NotFound(
            f"You are acting as {caller.name!r}, which is not a Modelyard user; sign in with a user's "
            "token (Authorization: Bearer ...) to use /users/me."
        ) from None


@router.post("/auth/login")
def login(
    request: Request,
    body: Login,
    caller: Caller = Depends(require("auth.login")),
    svc: IdentityService = Depends(identity_service),
    limiter: LoginLimiter = Depends(login_limiter),
) -> Response:
    """Sign in with a user name and password; answers a 12-hour session token."""
    address, claimed = _address(request, caller), _claimed(body.name)
    try:
        limiter.check(address, body.name)
    except TooManyRequests:
        _audit(request, "auth.login", claimed, "locked", address, "Sign-in refused: too many failures.")
        raise
    try:
        user, token = svc.login(body.name, body.password, client_address=address)
    except Unauthenticated:
        limiter.record_failure(address, body.name)
        _audit(request, "auth.login", claimed, "failure", address, "Sign-in failed.")
        raise
    limiter.record_success(address, body.name)
    _audit(request, "auth.login", user.name, "success", address, "Signed in; session token issued.")
    result = LoginResult(user=user, token=token, expires_in_s=SESSION_TTL_MS // 1000)
    return json_response(result.model_dump())


@router.post("/auth/bootstrap", status_code=201)
def redeem_bootstrap(
    request: Request,
    body: Redeem,
    caller: Caller = Depends(require("auth.login")),
    svc: IdentityService = Depends(identity_service),
    limiter: LoginLimiter = Depends(login_limiter),
) -> Response:
    """Create the first administrator with the one-time token printed at server start."""
    address = _address(request, caller)
    limiter.check(address, _BOOTSTRAP_KEY)
    try:
        user, token = svc.redeem_bootstrap(body.token, name=body.name, password=body.password)
    except PermissionDenied:
        limiter.record_failure(address, _BOOTSTRAP_KEY)
        _audit(request, "auth.bootstrap", _claimed(body.name), "failure", address, "Bootstrap refused.")
        raise
    _audit(request, "auth.bootstrap", user.name, "success", address, "First administrator created.")
    return json_response(RedeemResult(user=user, token=token).model_dump(), 201)


@router.post("/users", status_code=201)
def create_user(
    request: Request,
    body: CreateUser,
    caller: Caller = Depends(require("users.admin")),
    svc: IdentityService = Depends(identity_service),
) -> Response:
    """Create a user or service account; with ``with_token`` the answer holds its first token, once."""
    user = svc.create_user(
        body.name,
        password=body.password,
        kind=body.kind,
        is_admin=body.is_admin,
        is_auditor=body.is_auditor,
        display_name=body.display_name,
        email=body.email,
        created_by=caller.name,
    )
    token = svc.issue_token(user.name, name="first token")[1] if body.with_token else None
    roles = ", ".join(r for r, on in (("admin", user.is_admin), ("auditor", user.is_auditor)) if on)
    _audit(
        request,
        "users.create",
        caller.name,
        "success",
        _address(request, caller),
        f"Created {user.kind} {user.name!r}" + (f" ({roles})" if roles else "") + ".",
    )
    return json_response(CreatedUser(**user.model_dump(), token=token).model_dump(), 201)


@router.get("/users", dependencies=[Depends(require("users.admin"))])
def list_users(svc: IdentityService = Depends(identity_service)) -> Response:
    """All users and service accounts."""
    return json_response([u.model_dump() for u in svc.list_users()])


@router.get("/users/me")
def get_me(
    caller: Caller = Depends(require("users.self")), svc: IdentityService = Depends(identity_service)
) -> Response:
    """The signed-in user."""
    return json_response(_me(svc, caller).model_dump())


@router.post("/users/me/tokens", status_code=201)
def issue_my_token(
    request: Request,
    body: IssueToken,
    caller: Caller = Depends(require("tokens.self")),
    svc: IdentityService = Depends(identity_service),
) -> Response:
    """Issue an API token for the caller; the answer holds the full token, shown only this once."""
    meta, token = svc.issue_token(_me(svc, caller).name, name=body.name, expires_in_days=body.expires_in_days)
    _audit(
        request,
        "tokens.issue",
        caller.name,
        "success",
        _address(request, caller),
        f"Issued API token {meta.id!r} ({meta.name!r}).",
    )
    return json_response(IssuedToken(**meta.model_dump(), token=token).model_dump(), 201)


@router.get("/users/me/tokens")
def list_my_tokens(
    caller: Caller = Depends(require("tokens.self")), svc: IdentityService = Depends(identity_service)
) -> Response:
    """The caller's API tokens (never their secrets)."""
    return json_response([t.model_dump() for t in svc.list_tokens(_me(svc, caller).name)])


@router.delete("/users/me/tokens/{token_id}")
def revoke_my_token(
    request: Request,
    token_id: str,
    caller: Caller = Depends(require("tokens.self")),
    svc: IdentityService = Depends(identity_service),
) -> Response:
    """Revoke one of the caller's API tokens at once."""
    meta = svc.revoke_token(token_id, user_name=_me(svc, caller).name)
    _audit(
        request,
        "tokens.revoke",
        caller.name,
        "success",
        _address(request, caller),
        f"Revoked API token {meta.id!r} ({meta.name!r}).",
    )
    return json_response(meta.model_dump())


@router.delete("/users/{name}")
def deactivate_user(
    request: Request,
    name: str,
    caller: Caller = Depends(require("users.admin")),
    svc: IdentityService = Depends(identity_service),
) -> Response:
    """Deactivate a user: its password and tokens stop working at once."""
    user = svc.deactivate_user(name)
    _audit(
        request,
        "users.deactivate",
        caller.name,
        "success",
        _address(request, caller),
        f"Deactivated {user.kind} {user.name!r}.",
    )
    return json_response(user.model_dump())
