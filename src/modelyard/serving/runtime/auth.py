"""Who may call ``predict`` and ``actuals``: API tokens checked against the store, then cached.

With authentication on, a caller sends ``Authorization: Bearer <token>``; the token is
verified by the ``IdentityService`` and the caller must hold ``deployments.predict`` in the
deployment's project (administrators hold everything). A verified answer, allowed or not,
is kept for ``ttl_s`` seconds under the token's SHA-256, so the hot path does not touch the
database; a revoked token therefore keeps working here for at most that long. Wrong tokens
are never cached and are throttled per client address like failed sign-ins.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

from modelyard.access.authorizer import Authorizer
from modelyard.access.scope import Scope, resolve_scope
from modelyard.core.auth import Caller
from modelyard.core.errors import ModelyardError, NotFound, Unauthenticated
from modelyard.core.store import Store
from modelyard.identity.ratelimit import LoginLimiter
from modelyard.identity.service import IdentityService
from modelyard.serving.schemas import Deployment

PERMISSION = "deployments.predict"
_TOKEN_KEY = "(api token)"
_MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class _Entry:
    expires: float
    caller: Caller | None
    refusal: ModelyardError | None


class TokenGate:
    """Checks bearer tokens for the serving routes."""

    def __init__(self, store: Store, *, ttl_s: float = 30.0) -> None:
        self.store = store
        self.identity = IdentityService(store.db)
        self.authorizer = Authorizer(store.db, auth_enabled=True, identity=self.identity)
        self.limiter = LoginLimiter()
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], _Entry] = {}

    async def authenticate(self, authorization: str | None, client_host: str) -> Caller:
        """Any signed-in caller (for listing what is served).

        Raises:
            Unauthenticated: no token, or a wrong one (401).
            TooManyRequests: too many wrong tokens from this address (429).
        """
        return await self.check(authorization, client_host, None)

    async def check(
        self, authorization: str | None, client_host: str, deployment: Deployment | None
    ) -> Caller:
        """The caller, once allowed to call ``deployment``.

        Raises:
            Unauthenticated: no token, or a wrong one (401).
            PermissionDenied: the caller lacks ``deployments.predict`` (403).
            NotFound: the caller is not in the deployment's project (404, as for a missing one).
            TooManyRequests: too many wrong tokens from this address (429).
        """
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise Unauthenticated(
                "Sign in first: send 'Authorization: Bearer <token>' (an API token of a user allowed to call "
                f"this deployment: permission '{PERMISSION}')."
            )
        token = authorization[7:].strip()
        scope = "" if deployment is None else f"{deployment.project_id}/{deployment.project}"
        key = (hashlib.sha256(token.encode()).hexdigest(), scope)
        now = time.monotonic()
        entry = self._cache.get(key)
        if entry is None or entry.expires < now:
            entry = await asyncio.to_thread(self._verify, token, client_host, deployment, now)
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = entry
        if entry.refusal is not None:
            raise entry.refusal
        assert entry.caller is not None
        return entry.caller

    def _verify(self, token: str, client_host: str, deployment: Deployment | None, now: float) -> _Entry:
        self.limiter.check(client_host, _TOKEN_KEY)
        try:
            user = self.identity.authenticate_token(token)
        except Unauthenticated:
            self.limiter.record_failure(client_host, _TOKEN_KEY)
            raise
        caller = Caller(
            name=user.name,
            user_id=user.id,
            is_admin=user.is_admin,
            is_auditor=user.is_auditor,
            client_host=client_host,
        )
        expires = now + self.ttl_s
        if caller.is_admin or deployment is None:
            return _Entry(expires, caller, None)
        project_id = deployment.project_id or None
        if project_id is None:  # a deployment pinned in memory: find its project by name
            scope = resolve_scope(self.store.db, {"project": deployment.project})
        else:
            scope = Scope("project", deployment.project, project_id)
        try:
            return _Entry(expires, self.authorizer.check(caller, PERMISSION, scope), None)
        except NotFound:  # not a member: answer as for a deployment that is not there
            return _Entry(expires, None, NotFound(f"No deployment named {deployment.name!r} is served here."))
        except ModelyardError as exc:
            return _Entry(expires, None, exc)
