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


def check_bind_address(host: str) -> None:
    """Refuse to expose an unauthenticated server beyond this machine."""
    if not is_loopback(host):
        raise InvalidArgument(
            f"Refusing to listen on {host}: this server has no authentication switched on, so anyone who "
            "can reach it could read and change everything. Listen on 127.0.0.1 (the default) and put an "
            "authenticating proxy in front, or turn authentication on when it is available (--auth)."
        )


def serve(settings: Settings, *, host: str, port: int, store_uri: str, artifacts_uri: str) -> None:
    """Open (and migrate) the store, then serve until interrupted."""
    check_bind_address(host)
    store = Store.open(store_uri, artifacts_uri)
    app = create_app(store, settings)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
