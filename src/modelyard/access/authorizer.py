"""Authenticate a request and check one permission, in one place for every route."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from modelyard.access.roles import (
    ADMIN_ONLY,
    AUDITOR_READS,
    PUBLIC,
    ROLE_PERMISSIONS,
    SIGNED_IN,
    Role,
    roles_granting,
)
from modelyard.access.scope import Scope, resolve_scope
from modelyard.access.tables import project_members
from modelyard.core.auth import Caller
from modelyard.core.context import ClientContext, client_context
from modelyard.core.db import Database
from modelyard.core.errors import NotFound, PermissionDenied, Unauthenticated

_TOKEN_KEY = "(api token)"  # the limiter's name slot for token attempts (no user name is known)
# Routes whose project is named only in the JSON body (small bodies: safe to read twice).
_BODY_SCOPED = {("POST", "/api/v1/runs"), ("POST", "/api/v1/runs/search"), ("POST", "/api/v1/webhooks")}


class Authorizer:
    """Turns a request into a ``Caller`` or a 401/403/404."""

    def __init__(
        self, db: Database, *, auth_enabled: bool, identity: Any = None, local_user: str = "local"
    ) -> None:
        self.db = db
        self.auth_enabled = auth_enabled
        self.identity = identity
        self.local_user = local_user

    async def authorize(self, request: Request, permission: str, *, scoped: bool = True) -> Caller:
        """The caller, once allowed ``permission`` on whatever the request names.

        ``scoped=False`` checks the permission without a project (e.g. creating one).
        """
        host = request.client.host if request.client else ""
        agent = request.headers.get("user-agent", "")[:200]
        client_context.set(ClientContext(address=host, agent=agent, user="anonymous"))
        if permission in PUBLIC:
            return Caller(name="anonymous", client_host=host, client_agent=agent)
        if not self.auth_enabled:
            # Authentication off: the server only listens on loopback and acts for its local user.
            return Caller(name=self.local_user, is_admin=True, client_host=host, client_agent=agent)
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise Unauthenticated(
                "Sign in first: send 'Authorization: Bearer <token>' "
                "(set MODELYARD_TOKEN for the SDK and CLI)."
            )
        # Guessing tokens is throttled like guessing passwords: per address, by the login limiter.
        limiter = getattr(request.app.state, "login_limiter", None)
        if limiter is not None:
            limiter.check(host, _TOKEN_KEY)
        try:
            user = await run_in_threadpool(self.identity.authenticate_token, header[7:].strip())
        except Unauthenticated:
            if limiter is not None:
                limiter.record_failure(host, _TOKEN_KEY)
            raise
        caller = Caller(
            name=user.name,
            user_id=user.id,
            is_admin=user.is_admin,
            is_auditor=user.is_auditor,
            client_host=host,
            client_agent=agent,
        )
        request.state.caller = caller  # so a refusal below is audited under the caller's name
        if caller.is_admin:
            return caller
        body = None
        if (
            request.method,
            request.scope.get("route").path if request.scope.get("route") else "",
        ) in _BODY_SCOPED:
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                body = None
        scope = (
            await run_in_threadpool(
                resolve_scope, self.db, dict(request.path_params), body, dict(request.query_params)
            )
            if scoped
            else None
        )
        return await run_in_threadpool(self.check, caller, permission, scope)

    def check(self, caller: Caller, permission: str, scope: Scope | None) -> Caller:
        """Allow or refuse ``permission`` for a signed-in, non-admin caller."""
        if caller.is_auditor:
            if permission in AUDITOR_READS:
                return caller
            if scope is None or scope.project_id is not None:  # an auditor may know it exists
                raise PermissionDenied(
                    f"Permission '{permission}' is needed for this; "
                    "auditors read everything and change nothing."
                )
        if scope is None:
            if permission in SIGNED_IN:
                return caller
            who = "administrators" if permission in ADMIN_ONLY else "project members (name the project)"
            raise PermissionDenied(f"Permission '{permission}' is needed for this; only {who} have it.")
        role = self.role_of(caller.user_id, scope.project_id) if scope.project_id else None
        if role is None:
            raise NotFound(scope.not_found_message())
        if permission not in ROLE_PERMISSIONS[role]:
            granting = ", ".join(roles_granting(permission)) or "administrators"
            raise PermissionDenied(
                f"Permission '{permission}' is needed for this; your role in this project is {role.value} "
                f"(roles that have it: {granting})."
            )
        return Caller(**{**caller.__dict__, "project_id": scope.project_id, "role": role.value})

    def role_of(self, user_id: str | None, project_id: str) -> Role | None:
        """The caller's role in a project, if a member."""
        if user_id is None:
            return None
        with self.db.read() as conn:
            role = conn.execute(
                select(project_members.c.role).where(
                    project_members.c.project_id == project_id, project_members.c.user_id == user_id
                )
            ).scalar()
        return Role(role) if role else None
