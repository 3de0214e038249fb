"""Who is acting and from where, for code far from the HTTP request (the audit trail).

The authorizer sets it for each request; Starlette copies context variables into the
thread pool that runs sync routes, so services see the request's values. Outside a
request (embedded SDK, CLI) the defaults name the local process.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientContext:
    """Where a change came from."""

    address: str = "local"
    agent: str = "modelyard-embedded"


_LOCAL = ClientContext()
client_context: ContextVar[ClientContext] = ContextVar("modelyard_client", default=_LOCAL)
