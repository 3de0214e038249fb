"""Who is acting and from where, for code far from the HTTP request (the audit trail).

The authorizer sets it for each request; Starlette copies context variables into the
thread pool that runs sync routes, so services see the request's values. Outside a
request (embedded SDK, CLI) the defaults name the local process.
"""

from __future__ import annotations

import getpass
from contextvars import ContextVar
from dataclasses import dataclass, field


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "local"


@dataclass(frozen=True)
class ClientContext:
    """Where a change came from, and who to name when a caller did not say."""

    address: str = "local"
    agent: str = "modelyard-embedded"
    user: str = field(default_factory=_os_user)  # embedded mode: the OS user is the local admin


_LOCAL = ClientContext()
client_context: ContextVar[ClientContext] = ContextVar("modelyard_client", default=_LOCAL)
