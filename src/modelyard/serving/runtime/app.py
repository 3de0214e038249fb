"""The serving process's HTTP app: a plain ASGI callable.

Prediction is the hot path, so requests do not go through FastAPI's dependency and pydantic
machinery (nor Starlette's middleware stack): routing is a split of the path, bodies are read
straight from the ASGI channel with a size cap, and answers are orjson bytes. Every answer,
refusal or fault is JSON in the repo's ``{"error": {"code", "message"}}`` shape.

Routes::

    POST /v1/deployments/{name}/predict   rows in, one prediction id per row out
    POST /v1/deployments/{name}/actuals   ground truth for earlier predictions (202)
    GET  /v1/deployments                  what is served, versions per variant
    GET  /health                          the process answers
    GET  /ready                           200 when every hosted deployment has its model
    GET  /metrics                         Prometheus text format
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from modelyard import __version__
from modelyard.core.errors import InvalidArgument, ModelyardError, NotFound, PayloadTooLarge, Unavailable
from modelyard.serving.runtime.auth import TokenGate
from modelyard.serving.runtime.capture import CaptureBuffer
from modelyard.serving.runtime.errors import MethodNotAllowed, error_body
from modelyard.serving.runtime.hosting import Hosted, Hosting
from modelyard.serving.runtime.inputs import decode
from modelyard.serving.runtime.metrics import CONTENT_TYPE, Metrics
from modelyard.serving.runtime.predict import Predictor
from modelyard.serving.runtime.sources import Source

log = logging.getLogger("modelyard.serving")

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_ACTUALS = 100_000
_JSON = [(b"content-type", b"application/json")]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class _Gone(Exception):
    """The client disconnected before sending its whole body."""


class RuntimeApp:
    """The ASGI app hosting deployments from a source."""

    def __init__(
        self,
        source: Source,
        *,
        poll_s: float,
        capture: Any = None,
        gate: TokenGate | None = None,
        expected: set[str] | None = None,
        metrics: Metrics | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        startup_wait_s: float = 120.0,
        freeze_gc: bool = True,
        switch_interval_s: float | None = None,
    ) -> None:
        """Build the app.

        Args:
            source: where deployments and models come from.
            poll_s: how often deployments and aliases are re-read.
            capture: a started-on-startup ``CaptureWriter`` (None: nothing is captured).
            gate: the token check when authentication is on (None: off).
            expected: deployment names ``/ready`` waits for.
            metrics: the metrics (a fresh set by default).
            max_body_bytes: larger bodies get a 413.
            startup_wait_s: how long startup waits for the first models before accepting traffic.
            freeze_gc: move what is loaded (models, libraries) out of the garbage collector's
                sight once loaded. A full collection walks every object in the process; with
                scikit-learn, pandas and a model loaded that stalls the event loop for a large
                fraction of a second, a few times a minute under load. Frozen objects are still
                freed when nothing refers to them (an old model after a swap is).
            switch_interval_s: the interpreter's thread switch interval for this process. The
                capture writer builds segments on a thread; at the default 5 ms a request
                arriving meanwhile can wait that long for the interpreter lock, several times.
        """
        self.metrics = metrics or Metrics()
        self.hosting = Hosting(source, self.metrics, poll_s=poll_s, expected=expected)
        self.capture = CaptureBuffer(capture) if capture is not None else None
        self.gate = gate
        self.predictor = Predictor(self.metrics, self.capture)
        self.max_body = max_body_bytes
        self.startup_wait_s = startup_wait_s
        self.freeze_gc = freeze_gc
        self.switch_interval_s = switch_interval_s
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("The serving process could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Start capture, load the first models (waiting up to ``startup_wait_s``), start polling."""
        if self.switch_interval_s is not None:
            sys.setswitchinterval(self.switch_interval_s)
        if self.capture is not None:
            self.capture.start()
        first = asyncio.ensure_future(self.hosting.refresh())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(first), self.startup_wait_s)
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
            self.hosting.loaded_since_freeze = False

        async def poll() -> None:
            await first
            while True:
                await asyncio.sleep(self.hosting.poll_s)
                await self.hosting.refresh()
                self._freeze()

        self._tasks = [
            asyncio.create_task(poll()),
            asyncio.create_task(self.hosting.watch_canaries()),
        ]

    def _freeze(self) -> None:
        if self.freeze_gc and self.hosting.loaded_since_freeze:
            self.hosting.loaded_since_freeze = False
            gc.freeze()

    async def shutdown(self) -> None:
        """Stop polling, let shadows finish, flush capture, close the source."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.predictor.drain()
        if self.capture is not None:
            self.capture.flush()
            await asyncio.to_thread(self.capture.writer.stop, timeout_s=30.0)
        await asyncio.to_thread(self.hosting.source.close)
        if self.freeze_gc:
            gc.unfreeze()  # let the interpreter's exit free everything as usual

    # ------------------------------------------------------------------ HTTP
    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            if path.startswith("/v1/deployments/"):
                name, _, action = path[16:].partition("/")
                if action == "predict" and method == "POST":
                    await self._predict(scope, receive, send, name)
                elif action == "actuals" and method == "POST":
                    await self._actuals(scope, receive, send, name)
                elif action in ("predict", "actuals"):
                    raise _no_route(method, path, 405)
                else:
                    raise _no_route(method, path, 404)
                return
            route = _GET_ROUTES.get(path)
            if route is None:
                raise _no_route(method, path, 404)
            if method not in ("GET", "HEAD"):
                raise _no_route(method, path, 405)
            await route(self, scope, send)
        except ModelyardError as exc:
            await _send(send, exc.status_code, error_body(exc.code, exc.message))
        except _Gone:
            return
        except Exception:
            log.exception("Unexpected error on %s %s", method, path)
            await _send(
                send,
                500,
                error_body("INTERNAL_ERROR", "The serving process hit an unexpected error; see its log."),
            )

    async def _predict(self, scope: dict[str, Any], receive: Receive, send: Send, name: str) -> None:
        started = time.perf_counter()
        content_type, authorization, key, length = _headers(scope)
        try:
            hosted = await self._allowed(scope, name, authorization)
            plan = hosted.plan
            if plan is None:
                raise Unavailable(
                    f"Deployment {name!r} has no model loaded yet ({hosted.error or 'loading'}); "
                    "retry shortly."
                )
            payload = decode(await self._body(receive, length), content_type, key)
        except ModelyardError as exc:
            self.metrics.unrouted.labels(exc.code).inc()
            raise
        arm = plan.route(payload.key, hosted.controller)
        try:
            answer = await self.predictor.answer(hosted, plan, arm, payload, started)
        except ModelyardError as exc:
            arm.metrics.error(exc.code)
            arm.metrics.request(exc.status_code, time.perf_counter() - started, 0)
            raise
        await _send(send, 200, answer.body)
        elapsed = time.perf_counter() - started
        answer.arm.metrics.request(200, elapsed, answer.batch.n)
        self.predictor.after(plan, answer, payload, elapsed * 1000)

    async def _actuals(self, scope: dict[str, Any], receive: Receive, send: Send, name: str) -> None:
        from modelyard.serving.predlog import write_actuals

        _, authorization, _, length = _headers(scope)
        await self._allowed(scope, name, authorization)
        raw = await self._body(receive, length)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"The body is not valid JSON ({exc}): send {{'actuals': [...]}}.") from None
        records = body.get("actuals") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise InvalidArgument(
                "Send {'actuals': [{'prediction_id': '...', 'actual': 1}, "
                "{'association_id': '...', 'actual': 0}]}."
            )
        if len(records) > MAX_ACTUALS:
            raise InvalidArgument(
                f"Send at most {MAX_ACTUALS:,} actuals per request; this one has {len(records):,}."
            )
        if self.capture is None:
            raise Unavailable("This serving process keeps no prediction log, so it cannot take actuals.")
        accepted = await asyncio.to_thread(write_actuals, self.capture.root, name, records)
        await _send(send, 202, orjson.dumps({"deployment": name, "accepted": accepted}))

    async def _allowed(self, scope: dict[str, Any], name: str, authorization: str | None) -> Hosted:
        """The deployment, once the caller may use it (with sign-in on: token first, then existence)."""
        hosted = self.hosting.get(name)
        if self.gate is None:
            if hosted is None:
                served = ", ".join(sorted(self.hosting.hosted)) or "none"
                raise NotFound(f"No deployment named {name!r} is served here (served: {served}).")
            return hosted
        if hosted is None:
            await self.gate.authenticate(authorization, _client(scope))
            raise NotFound(f"No deployment named {name!r} is served here.")
        await self.gate.check(authorization, _client(scope), hosted.deployment)
        return hosted

    async def _body(self, receive: Receive, length: int | None) -> bytes:
        limit = self.max_body
        if length is not None and length > limit:
            raise PayloadTooLarge(f"The body is {length:,} bytes; the limit is {limit:,}. Split the batch.")
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            if message["type"] == "http.disconnect":
                raise _Gone
            return body
        parts, size = [body], len(body)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The body is over the {limit:,}-byte limit. Split the batch.")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    # ------------------------------------------------------------------ GET routes
    async def health(self, scope: dict[str, Any], send: Send) -> None:
        """Liveness."""
        await _send(send, 200, orjson.dumps({"status": "ok", "version": __version__}))

    async def ready(self, scope: dict[str, Any], send: Send) -> None:
        """200 when every hosted deployment can answer, else 503 with what is missing."""
        missing = self.hosting.missing()
        if missing:
            what = "; ".join(f"{k}: {v}" for k, v in sorted(missing.items()))
            body = error_body("UNAVAILABLE", f"Not ready: {what}.", missing=missing)
            await _send(send, 503, body)
            return
        served = {
            name: {"model": h.plan.primary.model.ref.name, "version": h.plan.primary.model.ref.version}
            for name, h in self.hosting.hosted.items()
            if h.plan is not None
        }
        await _send(send, 200, orjson.dumps({"status": "ready", "deployments": served}))

    async def deployments(self, scope: dict[str, Any], send: Send) -> None:
        """What is served (to any signed-in caller when authentication is on)."""
        if self.gate is not None:
            await self.gate.authenticate(_headers(scope)[1], _client(scope))
        await _send(send, 200, orjson.dumps({"deployments": self.hosting.describe()}))

    async def prometheus(self, scope: dict[str, Any], send: Send) -> None:
        """Prometheus metrics."""
        if self.capture is not None:
            self.metrics.set_capture(self.capture.stats())
        for hosted in self.hosting.hosted.values():
            self.hosting.publish_canary(hosted)
        body = await asyncio.to_thread(self.metrics.expose)
        await _send(send, 200, body, [(b"content-type", CONTENT_TYPE)])


_GET_ROUTES: dict[str, Callable[[RuntimeApp, dict[str, Any], Send], Awaitable[None]]] = {
    "/health": RuntimeApp.health,
    "/ready": RuntimeApp.ready,
    "/metrics": RuntimeApp.prometheus,
    "/v1/deployments": RuntimeApp.deployments,
}


def _no_route(method: str, path: str, status: int) -> ModelyardError:
    if status == 405:
        return MethodNotAllowed(f"{path} does not take {method}.")
    return NotFound(f"No such endpoint: {method} {path}.")


def _headers(scope: dict[str, Any]) -> tuple[str, str | None, str | None, int | None]:
    content_type, authorization, key, length = "", None, None, None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
        elif name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-modelyard-key":
            key = value.decode("latin-1")
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise InvalidArgument("The Content-Length header is not a number.") from None
    return content_type, authorization, key, length


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or _JSON), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
