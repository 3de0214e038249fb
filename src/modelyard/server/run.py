"""Start the API server process."""

from __future__ import annotations

import ipaddress
import socket

import uvicorn

from modelyard.core.errors import InvalidArgument
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.server.app import create_app


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


def check_bind_address(host: str, *, auth: bool) -> None:
    """Refuse to expose an unauthenticated server beyond this machine."""
    if not auth and not is_loopback(host):
        raise InvalidArgument(
            f"Refusing to listen on {host} with authentication off: anyone who can reach it could read and "
            "change everything. Turn authentication on with --auth (or MODELYARD_AUTH=true), or listen on "
            "127.0.0.1."
        )


def serve(settings: Settings, *, host: str, port: int, store_uri: str, artifacts_uri: str) -> None:
    """Open (and migrate) the store, then serve until interrupted."""
    check_bind_address(host, auth=settings.auth)
    store = Store.open(store_uri, artifacts_uri)
    if settings.auth:
        from modelyard.identity.service import IdentityService

        token = IdentityService(store.db).ensure_bootstrap_token()
        if token:  # no administrator yet: a one-time way to create the first one
            print(
                "No administrator exists yet. Create one within this server's lifetime with:\n"
                f"  curl -X POST http://{host}:{port}/api/v1/auth/bootstrap "
                "-H 'Content-Type: application/json' "
                f'-d \'{{"token": "{token}", "name": "admin"}}\'\n'
                "(or, on this machine: modelyard admin create-user NAME --admin). The token works once.",
                flush=True,
            )
    app = create_app(store, settings)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
