"""Who is calling, and the permission each REST route declares.

Every route depends on ``require(permission)``; a test enumerates the routes and fails
on any without one. Until authentication is switched on, the caller is the local user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class Caller:
    """The identity a request acts as."""

    name: str
    client_host: str = ""


def require(permission: str) -> Callable[[Request], Caller]:
    """A FastAPI dependency that resolves the caller and checks ``permission``."""

    def dependency(request: Request) -> Caller:
        host = request.client.host if request.client else ""
        return Caller(name="anonymous", client_host=host)

    dependency.__modelyard_permission__ = permission  # type: ignore[attr-defined]
    return dependency
