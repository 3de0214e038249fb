"""Run the API server in a background thread of this process (demo tours, tests)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.server.app import create_app


class BackgroundServer:
    """The real app (the API over ``store``, or any ASGI ``app``) under uvicorn on a free
    loopback port, in a daemon thread."""

    def __init__(
        self, store: Store | None = None, settings: Settings | None = None, *, app: Any = None
    ) -> None:
        if app is None:
            if store is None or settings is None:
                raise ValueError("BackgroundServer needs a store and settings, or an app.")
            app = create_app(store, settings)
        self.app = app
        # IPPROTO_TCP: asyncio turns Nagle off only on sockets that say they are TCP; with Nagle
        # on, each small answer waits for the client's delayed ACK (~40 ms).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        """Start serving; returns once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("The background server did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
