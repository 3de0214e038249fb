"""``CaptureWriter``: takes predictions off the request path and writes them as Parquet segments.

``submit`` runs on the hot path: a sampling decision, a row count check and a deque append,
nothing else; it never blocks and never raises on a full queue (it counts a drop instead).
A single writer thread takes what is queued four times a second (sooner once a segment's worth
is waiting), groups it per deployment, builds each column in one go and closes a segment every
``flush_rows`` rows or ``flush_s`` seconds, whichever comes first, and on ``stop``.

Create the writer in the process that serves (after uvicorn forks its workers): a thread does
not survive ``fork``. Each worker's writer names its segments apart from the others'.

The bound is in rows, not requests: ``queue_size`` rows may wait to be taken by the writer
thread, plus at most ``flush_rows`` rows being assembled, so memory stays bounded whatever the
batch size of the requests.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from operator import is_, itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.serving.predlog import convert
from modelyard.serving.predlog.layout import (
    INPUT_PREFIX,
    PREDICTION_SCHEMA,
    PREDICTIONS,
    TS_TYPE,
    ts_ms_of,
    write_partitioned,
)

log = logging.getLogger(__name__)

# One submit: (deployment, model, version, variant, prediction_ids, features, predictions,
# scores, latency_ms, ts_ms, association_ids, flags)
Item = tuple[
    str, str, int, str, Sequence[str], dict[str, Sequence[Any]], Sequence[Any], Sequence[float] | None,
    float, int, Sequence[str | None] | None, Sequence[str | None] | None,
]  # fmt: skip


class CaptureWriter:
    """Background writer of captured predictions into ``<root>/<deployment>/predictions/...``.

    Args:
        root: the prediction log root folder.
        queue_size: rows that may wait for the writer thread; beyond that ``submit`` drops.
        flush_rows: rows per segment (at most).
        flush_s: longest a captured row waits before its segment is written.
    """

    def __init__(
        self, root: str, *, queue_size: int = 100_000, flush_rows: int = 50_000, flush_s: float = 5.0
    ) -> None:
        if queue_size < 1 or flush_rows < 1 or flush_s <= 0:
            raise ValueError("queue_size and flush_rows must be >= 1 and flush_s > 0")
        self.root = root
        self.queue_size = queue_size
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self._poll_s = min(flush_s, 0.25)
        self._wake_at = max(1, min(flush_rows, queue_size // 2))
        self._queue: deque[Item] = deque()
        self._lock = threading.Lock()  # guards the counters below, held for a few bytecodes
        self._queued = 0
        self._dropped = 0
        self._sampled_out = 0
        self._written = 0
        self._failed = 0
        self._segments = 0
        self._closed = False
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Writer-thread state: rows taken off the queue, not yet in a segment.
        self._pending: dict[str, list[Item]] = {}
        self._pending_rows = 0
        self._pending_since = 0.0
        self._last_warning = 0.0

    # -- hot path -------------------------------------------------------------------------------
    def submit(
        self,
        *,
        deployment: str,
        model: str,
        version: int,
        variant: str,
        prediction_ids: Sequence[str],
        features: dict[str, Sequence[Any]],
        predictions: Sequence[Any],
        scores: Sequence[float] | None,
        latency_ms: float,
        ts_ms: int,
        association_ids: Sequence[str | None] | None = None,
        flags: Sequence[str | None] | None = None,
        sample_rate: float = 1.0,
    ) -> bool:
        """Queue one request's rows for capture; O(1), never blocks.

        ``features`` maps each input name to its column (one value per row). ``flags`` is one
        entry per row (a comma-separated string or None); a list of another length is taken as
        flags of the whole request and applied to every row. The lists are kept, not copied:
        do not change them after submitting.

        Returns:
            False when the rows were dropped (queue full or writer stopped); True when queued or
            left out by sampling (``sample_rate`` < 1 keeps that share of requests).
        """
        n = len(prediction_ids)
        if sample_rate < 1.0 and random.random() >= sample_rate:
            with self._lock:
                self._sampled_out += n
            return True
        with self._lock:
            if self._closed or self._queued + n > self.queue_size:
                self._dropped += n
                return False
            self._queued += n
            wake = self._queued >= self._wake_at
            # Appended under the lock so that stop() never misses a row it accepted.
            self._queue.append(
                (deployment, model, version, variant, prediction_ids, features, predictions, scores,
                 latency_ms, ts_ms, association_ids, flags)
            )  # fmt: skip
        if wake and not self._wake.is_set():
            self._wake.set()
        return True

    def stats(self) -> dict[str, int]:
        """Row counts: ``written``; ``dropped`` (queue full, writer stopped, or ``failed``: malformed or
        not writable); ``queued`` (accepted, not yet on disk); ``sampled_out``; and ``segments``."""
        with self._lock:
            return {
                "written": self._written,
                "dropped": self._dropped + self._failed,
                "queued": self._queued + self._pending_rows,
                "sampled_out": self._sampled_out,
                "failed": self._failed,
                "segments": self._segments,
            }

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> CaptureWriter:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="modelyard-capture", daemon=True)
            self._thread.start()
            atexit.register(self.stop)
        return self

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write everything queued, then stop taking rows. Returns True when nothing was left behind."""
        with self._lock:
            self._closed = True
        thread = self._thread
        if thread is None:
            self._drain()
            self._flush()
            return not self._queue and not self._pending_rows
        self._stopping.set()
        self._wake.set()
        thread.join(timeout_s)
        atexit.unregister(self.stop)
        if thread.is_alive():
            log.warning("The capture writer did not finish within %.1fs: %s", timeout_s, self.stats())
            return False
        return True

    def __enter__(self) -> CaptureWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            try:
                self._drain()
                if self._pending_rows and (
                    self._pending_rows >= self.flush_rows
                    or time.monotonic() - self._pending_since >= self.flush_s
                ):
                    self._flush()
            except Exception:  # keep capturing whatever one bad batch did
                log.exception("The capture writer failed; continuing")
        self._drain()
        self._flush()

    def _drain(self) -> None:
        """Move queued items into the per-deployment buffers, flushing each full segment."""
        q = self._queue
        while q:
            item = q.popleft()
            n = len(item[4])
            if self._pending_rows and self._pending_rows + n > self.flush_rows:
                self._flush()  # keep segments at most flush_rows rows
            with self._lock:
                self._queued -= n
                if not self._pending_rows:
                    self._pending_since = time.monotonic()
                self._pending_rows += n
            self._pending.setdefault(item[0], []).append(item)
            if self._pending_rows >= self.flush_rows:
                self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for deployment, items in pending.items():
            rows = sum(len(i[4]) for i in items)
            try:
                table, bad = build_table(items)
                files = []
                for start in range(0, table.num_rows, self.flush_rows):  # one submit may exceed it
                    part = table.slice(start, self.flush_rows)
                    files += write_partitioned(self.root, deployment, PREDICTIONS, part, ts_ms_of(part))
                with self._lock:
                    self._written += table.num_rows
                    self._failed += bad
                    self._segments += len(files)
                if bad:
                    self._warn(
                        f"Left out {bad} malformed captured rows of {deployment!r} (lists of different "
                        "lengths, or a version, ts_ms or latency_ms that is not a number)."
                    )
            except Exception as exc:
                with self._lock:
                    self._failed += rows
                self._warn(f"Could not write {rows} captured predictions of {deployment!r}: {exc}")
        with self._lock:
            self._pending_rows = 0

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:  # one line a minute, not one per request
            self._last_warning = now
            log.warning(message)


def build_table(items: list[Item]) -> tuple[pa.Table, int]:
    """One Arrow table for the submits of one deployment, and the count of rows left out.

    A submit whose lists disagree in length cannot be lined up and is left out whole. Columns
    are gathered with C-level ``map``/``chain`` where every submit has the value (the usual
    case), so the cost per row stays a few microseconds even for one-row requests.
    """
    good = [it for it in items if _consistent(it)]
    bad = sum(map(len, map(_PIDS, items))) - sum(map(len, map(_PIDS, good)))
    counts = np.fromiter(map(len, map(_PIDS, good)), dtype=np.int64, count=len(good))
    n = int(counts.sum())
    chain = itertools.chain.from_iterable

    def per_row(idx: int) -> list[Any]:
        """Column ``idx`` of every submit, one value per row (None where a submit gave none)."""
        cols = list(map(itemgetter(idx), good))
        if not any(map(is_, cols, itertools.repeat(None))):  # not `None in cols`: arrays compare per item
            return list(chain(cols))
        filled = (
            c if c is not None else itertools.repeat(None, k) for c, k in zip(cols, counts, strict=True)
        )
        return list(chain(filled))

    def per_submit(idx: int, dtype: Any) -> np.ndarray:
        """Column ``idx`` (one value per submit) repeated for each of the submit's rows."""
        return np.repeat(np.fromiter(map(itemgetter(idx), good), dtype, len(good)), counts)

    columns: dict[str, pa.Array] = {
        "prediction_id": convert.strings(per_row(4)),
        "association_id": convert.strings(per_row(10)),
        "ts": pa.array(per_submit(9, np.int64), TS_TYPE),
        "deployment": _repeat(list(map(itemgetter(0), good)), counts),
        "model": _repeat(list(map(itemgetter(1), good)), counts),
        "version": pa.array(per_submit(2, np.int32)),
        "variant": _repeat(list(map(itemgetter(3), good)), counts),
        "latency_ms": pa.array(per_submit(8, np.float32)),
    }
    columns["prediction"], columns["prediction_value"] = convert.text_and_value(per_row(6))
    columns["score"] = convert.floats(per_row(7))
    columns["flags"] = convert.strings(
        list(chain(_row_flags(i[11], c) for i, c in zip(good, counts, strict=True)))
    )
    fields = list(PREDICTION_SCHEMA)
    for name, values in _feature_columns([i[5] for i in good], counts):
        col = INPUT_PREFIX + str(name)
        columns[col] = convert.feature(values)
        fields.append(pa.field(col, columns[col].type))
    if any(len(columns[f.name]) != n for f in fields):  # cannot happen after _consistent
        raise RuntimeError("captured columns do not line up")
    schema = pa.schema(fields)
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema), bad


_PIDS = itemgetter(4)


def _feature_columns(
    dicts: list[dict[str, Sequence[Any]]], counts: np.ndarray
) -> list[tuple[str, list[Any]]]:
    """(name, one value per row) for every input seen; None where a submit lacked that input."""
    if not dicts:
        return []
    first = dicts[0].keys()
    if all(map(first.__eq__, map(dict.keys, dicts))):  # one model version: same inputs everywhere
        return [(name, list(itertools.chain.from_iterable(map(itemgetter(name), dicts)))) for name in first]
    names: dict[str, None] = {}
    for d in dicts:
        names.update(dict.fromkeys(d))
    return [
        (
            name,
            list(
                itertools.chain.from_iterable(
                    d.get(name, itertools.repeat(None, c)) for d, c in zip(dicts, counts, strict=True)
                )
            ),
        )
        for name in names
    ]


def _consistent(it: Item) -> bool:
    n = len(it[4])
    try:  # the per-request numbers must be numbers, or the whole batch would fail to convert
        int(it[2]), int(it[9]), float(it[8])
    except (TypeError, ValueError, OverflowError):
        return False
    return (
        len(it[6]) == n
        and (it[7] is None or len(it[7]) == n)
        and (it[10] is None or len(it[10]) == n)
        and all(map(n.__eq__, map(len, it[5].values())))
    )


def _repeat(values: list[Any], counts: np.ndarray) -> pa.Array:
    """A string column of per-submit values repeated per row (through a dictionary: no per-row work)."""
    uniq: dict[str, int] = {}
    codes = np.fromiter((uniq.setdefault(str(v), len(uniq)) for v in values), np.int32, len(values))
    dictionary = pa.array(list(uniq), pa.string())
    indices = pa.array(np.repeat(codes, counts))
    return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()


def _row_flags(flags: Sequence[str | None] | None, n: int) -> Any:
    if flags is None:
        return itertools.repeat(None, n)
    if len(flags) == n:
        return flags
    joined = ",".join(str(f) for f in flags) or None
    return itertools.repeat(joined, n)


__all__ = ["CaptureWriter", "build_table"]
