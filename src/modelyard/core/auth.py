"""Who is calling, and the permission each REST route declares.

Every route depends on ``require(permission)``; a test enumerates the routes and fails
on any without one. The check itself lives in ``modelyard.access.authorizer``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Caller:
    """The identity a request acts as."""

    name: str
    user_id: str | None = None
    is_admin: bool = False
    is_auditor: bool = False
    client_host: str = ""
    client_agent: str = ""
    project_id: str | None = None
    role: str | None = None


def require(permission: str) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency: authenticate the request and check ``permission``."""

    async def dependency(request: Request) -> Caller:
        caller: Caller = await request.app.state.authorizer.authorize(request, permission)
        request.state.caller = caller
        return caller

    dependency.__modelyard_permission__ = permission  # type: ignore[attr-defined]
    return dependency
