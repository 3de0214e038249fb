"""Test helpers: a real HTTP receiver for webhooks, and the event tables for a store."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import delete

from modelyard.core.store import Store
from modelyard.events import tables as event_tables


def prepare_event_tables(store: Store) -> None:
    """Remove every webhook (and delivery) from the store.

    PostgreSQL is shared by the whole test session, so webhooks left by an earlier test
    would otherwise receive this test's events. (The tables come from the migration.)
    """
    with store.db.write() as conn:
        conn.execute(delete(event_tables.webhook_deliveries))
        conn.execute(delete(event_tables.webhooks))


@dataclass
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records requests.

    It answers ``fail_status`` to the first ``fail_first`` requests (``fail_first=-1``:
    always), or redirects every request to ``redirect_to``, and 200 otherwise.
    """

    def __init__(
        self,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        redirect_to: str | None = None,
        delay_s: float = 0,
    ) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.redirect_to = redirect_to
        self.delay_s = delay_s
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    n = len(receiver.requests)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                elif receiver.fail_first < 0 or n <= receiver.fail_first:
                    self.send_response(receiver.fail_status)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = _handle
            do_GET = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least ``n`` requests arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)
