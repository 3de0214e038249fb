"""The prediction-log writer in a child process, so building segments never holds up requests.

``CaptureWriter`` assembles Parquet segments on a thread. In the serving process that thread
shares the interpreter lock with the event loop, and while it builds a segment (tens of
thousands of rows, a few hundred milliseconds of Python every ``flush_s``) requests wait
for the lock: at a few thousand requests per second that was most of the p99 latency and a
sixth of the throughput. ``ProcessWriter`` offers the same ``submit`` / ``stats`` / ``start``
/ ``stop`` and hands the rows to a ``CaptureWriter`` running in a child process instead.

The hot path only appends to a bounded in-memory queue (rows beyond ``queue_size`` are
dropped and counted, never waited for); a pump thread pickles what is queued and writes it
to a pipe every ``PUMP_S``. The child ignores SIGINT and SIGTERM (Ctrl-C reaches the whole
process group): it stops when told, or when the pipe closes because the server died, and
always writes what it holds before it exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections import deque
from typing import Any

log = logging.getLogger("modelyard.serving")

PUMP_S = 0.1
_WRITTEN, _DROPPED, _QUEUED = 0, 1, 2


class ProcessWriter:
    """A ``CaptureWriter`` in a child process, behind the same interface.

    Feature columns may be NumPy arrays: they cross the pipe as raw bytes and become lists
    in the child, so the serving process never converts floats one by one.
    """

    takes_arrays = True

    def __init__(
        self, root: str, *, queue_size: int = 100_000, flush_rows: int = 50_000, flush_s: float = 5.0
    ) -> None:
        self.root = root
        self.queue_size = queue_size
        ctx = multiprocessing.get_context("spawn")
        receiver, self._conn = ctx.Pipe(duplex=False)
        self._shared = ctx.Array("q", 3, lock=False)  # the child's written, dropped, queued
        self._proc = ctx.Process(
            target=serve_writer,
            args=(receiver, self._shared, root, queue_size, flush_rows, flush_s),
            name="modelyard-capture",
            daemon=True,
        )
        self._receiver = receiver
        self._lock = threading.Lock()
        self._queue: deque[dict[str, Any]] = deque()
        self._queued = 0
        self._dropped = 0
        self._closed = False
        self._broken = False
        self._wake = threading.Event()
        self._pump_thread = threading.Thread(target=self._pump, name="modelyard-capture-pump", daemon=True)

    def start(self) -> ProcessWriter:
        """Start the child process and the pump (once)."""
        if not self._proc.is_alive() and self._proc.exitcode is None:
            self._proc.start()
            self._receiver.close()  # the child holds the reading end
            self._pump_thread.start()
        return self

    def submit(self, **item: Any) -> bool:
        """Queue one submit (the ``CaptureWriter.submit`` keywords); False when dropped."""
        n = len(item["prediction_ids"])
        with self._lock:
            if self._closed or self._broken or self._queued + n > self.queue_size:
                self._dropped += n
                return False
            self._queue.append(item)
            self._queued += n
        return True

    def stats(self) -> dict[str, int]:
        """Rows written (by the child), dropped (here or there) and queued (here and there)."""
        shared = self._shared
        with self._lock:
            return {
                "written": int(shared[_WRITTEN]),
                "dropped": self._dropped + int(shared[_DROPPED]),
                "queued": self._queued + int(shared[_QUEUED]),
            }

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Hand over what is queued, let the child write it, and wait for it to exit."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._pump_thread.is_alive():
            self._pump_thread.join(timeout_s)
        if self._proc.pid is None:
            return True
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            log.warning("The capture process did not finish within %.0fs; stopping it.", timeout_s)
            self._proc.terminate()
            return False
        return self._proc.exitcode == 0

    def _pump(self) -> None:
        while True:
            self._wake.wait(PUMP_S)
            self._wake.clear()
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
                rows = self._queued
                self._queued = 0
                closing = self._closed
            if batch and not self._send(batch, rows):
                return
            if closing:
                self._send(None, 0)
                self._conn.close()
                return

    def _send(self, batch: list[dict[str, Any]] | None, rows: int) -> bool:
        try:
            self._conn.send(batch)
            return True
        except (OSError, ValueError) as exc:  # the child is gone
            with self._lock:
                self._broken = True
                self._dropped += rows + self._queued
                self._queued = 0
                self._queue.clear()
            log.error("The capture process is gone (%s): predictions are no longer captured.", exc)
            return False


def serve_writer(conn: Any, shared: Any, root: str, queue_size: int, flush_rows: int, flush_s: float) -> None:
    """The child process: feed a ``CaptureWriter`` until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from modelyard.serving.predlog import CaptureWriter

    writer = CaptureWriter(root, queue_size=queue_size, flush_rows=flush_rows, flush_s=flush_s).start()
    done = threading.Event()

    def publish() -> None:
        stats = writer.stats()
        shared[_WRITTEN] = stats["written"]
        shared[_DROPPED] = stats["dropped"]
        shared[_QUEUED] = stats["queued"]

    def report() -> None:
        while True:
            publish()
            if done.wait(0.2):
                return

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                break
            if batch is None:
                break
            for item in batch:
                features = item["features"]
                if any(hasattr(v, "tolist") for v in features.values()):
                    item["features"] = {
                        k: v.tolist() if hasattr(v, "tolist") else v for k, v in features.items()
                    }
                writer.submit(**item)
    finally:
        writer.stop(timeout_s=60.0)
        publish()
        done.set()
