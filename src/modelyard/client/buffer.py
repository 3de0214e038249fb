"""Batch metric points in the background so ``log_metric`` never waits for the store.

Points queue in memory and a daemon thread sends them as ``log_batch`` requests every
``flush_interval_s`` or as soon as ``max_batch_points`` are waiting. Each batch gets an
id once; a retry after a timeout or a dropped connection sends the same id, and the
server applies a batch id at most once, so delivery is at-least-once on the wire and
exactly-once in the store. When the server stays unreachable for ``retry_timeout_s``
the points are kept and the error is raised by the next ``flush()``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from modelyard.core.errors import ModelyardError, Unavailable

SendBatch = Callable[[str, Sequence[dict[str, Any]], str], None]
MAX_QUEUED_POINTS = 2_000_000  # past this, log_metric waits for the sender (backpressure)


class MetricBuffer:
    """A queue of metric points per run, drained by one background thread."""

    def __init__(
        self,
        send: SendBatch,
        *,
        flush_interval_s: float,
        max_batch_points: int,
        retry_timeout_s: float,
        heartbeat: Callable[[str], None] | None = None,
        heartbeat_interval_s: float = 30.0,
    ) -> None:
        self._send = send
        self._heartbeat = heartbeat
        self._interval = flush_interval_s
        self._heartbeat_interval = heartbeat_interval_s
        self._max_batch = max_batch_points
        self._retry_timeout = retry_timeout_s
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._error: ModelyardError | None = None
        self._watched: dict[str, float] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- API
    def add(self, run_id: str, point: dict[str, Any]) -> None:
        """Queue one point (already validated)."""
        with self._cond:
            if len(self._queue) >= MAX_QUEUED_POINTS:
                self._cond.wait_for(lambda: len(self._queue) < MAX_QUEUED_POINTS or self._error is not None)
            self._queue.append((run_id, point))
            if len(self._queue) >= self._max_batch:
                self._cond.notify_all()
        if self._thread is None:
            self._start()

    def watch(self, run_id: str) -> None:
        """Send heartbeats for a run while it is active."""
        with self._cond:
            self._watched[run_id] = time.monotonic()
        if self._thread is None:
            self._start()

    def unwatch(self, run_id: str) -> None:
        """Stop heartbeats for a run."""
        with self._cond:
            self._watched.pop(run_id, None)

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every queued point is stored; raise the delivery error if there was one."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            self._cond.notify_all()
            while (self._queue or self._in_flight) and self._error is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Unavailable(f"Timed out flushing {len(self._queue)} metric points.")
                self._cond.wait(remaining if remaining is not None else 0.5)
            err, self._error = self._error, None
        if err is not None:
            raise err

    def pending(self) -> int:
        """Points not yet stored."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush, then stop the thread."""
        try:
            self.flush(timeout_s)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=5)

    # ------------------------------------------------------------- worker
    def _start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="modelyard-metrics", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closed:
                    self._cond.wait(self._interval)
                if self._closed:
                    return  # close() flushed first and raised if points could not be delivered
                batch = self._take_batch()
                due = self._due_heartbeats()
            if batch:
                self._deliver(batch)
            for run_id in due:
                self._beat(run_id)

    def _take_batch(self) -> dict[str, list[dict[str, Any]]]:
        """Pop up to max_batch points, grouped by run (caller holds the lock)."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        n = min(len(self._queue), self._max_batch)
        for _ in range(n):
            run_id, point = self._queue.popleft()
            grouped.setdefault(run_id, []).append(point)
        self._in_flight += n
        return grouped

    def _due_heartbeats(self) -> list[str]:
        now = time.monotonic()
        due = [r for r, last in self._watched.items() if now - last >= self._heartbeat_interval]
        for r in due:
            self._watched[r] = now
        return due

    def _deliver(self, grouped: dict[str, list[dict[str, Any]]]) -> None:
        groups = list(grouped.items())
        for i, (run_id, points) in enumerate(groups):
            err = self._send_with_retry(run_id, points)
            with self._cond:
                if isinstance(err, Unavailable):
                    # Keep every undelivered point, in order, at the front of the queue.
                    for rid, pts in reversed(groups[i:]):
                        self._queue.extendleft((rid, p) for p in reversed(pts))
                        self._in_flight -= len(pts)
                    self._error = err
                    self._cond.notify_all()
                    self._cond.wait(self._interval)  # do not spin while the server is away
                    return
                self._in_flight -= len(points)
                if err is not None:
                    self._error = err  # the store refused these points: retrying cannot help
                self._cond.notify_all()

    def _send_with_retry(self, run_id: str, points: list[dict[str, Any]]) -> ModelyardError | None:
        batch_id = uuid.uuid4().hex
        deadline = time.monotonic() + self._retry_timeout
        delay = 0.1
        while True:
            try:
                self._send(run_id, points, batch_id)
                return None
            except Unavailable as exc:
                if time.monotonic() + delay > deadline:
                    return Unavailable(
                        f"{len(points)} metric points for run {run_id} could not be delivered within "
                        f"{self._retry_timeout:.0f}s ({exc.message}). They are still queued and will be "
                        "sent when the server is reachable; flush() again to wait for them."
                    )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except ModelyardError as exc:
                return exc
            except Exception as exc:  # a bug or a closed transport must not kill the sender silently
                return ModelyardError(f"Sending metrics failed: {exc!r}")

    def _beat(self, run_id: str) -> None:
        if self._heartbeat is None:
            return
        # A missed heartbeat only matters if they stay missing; the reaper waits minutes.
        with contextlib.suppress(ModelyardError):
            self._heartbeat(run_id)
