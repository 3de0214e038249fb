"""Coalesce captured predictions into fewer, larger submits to the prediction-log writer.

The writer's cost is per submit (it assembles columns submit by submit, in Python, on its
own thread, holding the GIL while it does): one-row requests at a few thousand per second
would spend a tenth of the serving core there and stall the event loop for the length of a
segment build. So rows of the same deployment, model version and variant are gathered on
the event loop for ``window_s`` and handed over as one submit.

A submit carries one latency and one timestamp, so rows are grouped by latency rounded to
two significant digits (1.234 ms is logged as 1.2 ms; 12.7 ms as 13 ms) and logged with the
timestamp of the first row of their group (at most ``window_s`` early).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import numpy as np

from modelyard.serving.runtime.inputs import Batch

log = logging.getLogger("modelyard.serving")


def latency_bucket(ms: float) -> float:
    """``ms`` rounded to two significant digits."""
    if ms <= 0 or not math.isfinite(ms):
        return 0.0
    return round(ms, 1 - math.floor(math.log10(ms)))


class _Group:
    __slots__ = (
        "assoc",
        "features",
        "flags",
        "ids",
        "matrices",
        "n",
        "names",
        "predictions",
        "scores",
        "ts_ms",
    )

    def __init__(self, names: tuple[str, ...], ts_ms: int, with_scores: bool, numeric: bool) -> None:
        self.ts_ms = ts_ms
        self.n = 0
        self.names = names
        self.ids: list[str] = []
        # Float inputs stay matrices until handed over (one conversion per group, not per request).
        self.matrices: list[np.ndarray] | None = [] if numeric else None
        self.features: dict[str, list[Any]] = {} if numeric else {name: [] for name in names}
        self.predictions: list[Any] = []
        self.scores: list[float] | None = [] if with_scores else None
        self.assoc: list[str | None] | None = None
        self.flags: list[str | None] | None = None


class CaptureBuffer:
    """Gathers rows per (deployment, version, variant, latency) and submits them in bulk."""

    def __init__(self, writer: Any, *, window_s: float = 0.5, max_rows: int = 8192) -> None:
        self.writer = writer
        self.window_s = window_s
        self.max_rows = max_rows
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def root(self) -> str:
        """The prediction log root."""
        return str(self.writer.root)

    def stats(self) -> dict[str, Any]:
        """The writer's counts, with rows still gathered here counted as queued."""
        stats = dict(self.writer.stats())
        stats["queued"] = stats.get("queued", 0) + sum(g.n for g in self.groups.values())
        return stats

    def add(
        self,
        *,
        deployment: str,
        model: str,
        version: int,
        variant: str,
        prediction_ids: list[str],
        batch: Batch,
        predictions: list[Any],
        scores: list[float] | None,
        latency_ms: float,
        ts_ms: int,
        association_ids: list[str | None] | None = None,
        flags: list[str | None] | None = None,
    ) -> None:
        """Keep one request's rows (call on the event loop)."""
        n = len(prediction_ids)
        latency = latency_bucket(latency_ms)
        if n >= self.max_rows // 2:  # big enough on its own
            features = (
                self._columns(batch.names, batch.matrix) if batch.matrix is not None else batch.features()
            )
            self._submit(deployment, model, version, variant, latency, prediction_ids, features,
                         predictions, scores, ts_ms, association_ids, flags)  # fmt: skip
            return
        numeric = batch.matrix is not None and batch.names is not None
        names = batch.names if numeric else tuple(batch.features())
        key = (deployment, model, version, variant, latency, names, numeric, scores is None)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = _Group(names or (), ts_ms, scores is not None, numeric)
        before = g.n
        g.n += n
        g.ids.extend(prediction_ids)
        if g.matrices is not None:
            g.matrices.append(batch.matrix)  # type: ignore[arg-type]
        else:
            for name, column in batch.features().items():
                g.features[name].extend(column)
        g.predictions.extend(predictions)
        if g.scores is not None and scores is not None:
            g.scores.extend(scores)
        if association_ids is not None or g.assoc is not None:
            if g.assoc is None:
                g.assoc = [None] * before
            g.assoc.extend(association_ids if association_ids is not None else [None] * n)
        if flags is not None or g.flags is not None:
            if g.flags is None:
                g.flags = [None] * before
            g.flags.extend(flags if flags is not None else [None] * n)
        if g.n >= self.max_rows:
            self._hand_over(key)
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window_s, self.flush)

    def flush(self) -> None:
        """Submit everything gathered."""
        self._timer = None
        for key in list(self.groups):
            self._hand_over(key)

    def _hand_over(self, key: tuple[Any, ...]) -> None:
        g = self.groups.pop(key)
        deployment, model, version, variant, latency = key[:5]
        features = g.features
        if g.matrices is not None:
            rows = g.matrices[0] if len(g.matrices) == 1 else np.concatenate(g.matrices)
            features = self._columns(g.names, rows)
        self._submit(deployment, model, version, variant, latency, g.ids, features, g.predictions, g.scores,
                     g.ts_ms, g.assoc, g.flags)  # fmt: skip

    def _columns(self, names: tuple[str, ...] | None, rows: np.ndarray) -> dict[str, Any]:
        """Column name → values; arrays as they are for a writer that takes them (no list here)."""
        if getattr(self.writer, "takes_arrays", False):
            return dict(zip(names or (), rows.T, strict=True))
        return dict(zip(names or (), rows.T.tolist(), strict=True))

    def _submit(
        self,
        deployment: str,
        model: str,
        version: int,
        variant: str,
        latency: float,
        ids: list[str],
        features: dict[str, list[Any]],
        predictions: list[Any],
        scores: list[float] | None,
        ts_ms: int,
        assoc: list[str | None] | None,
        flags: list[str | None] | None,
    ) -> None:
        try:
            self.writer.submit(
                deployment=deployment,
                model=model,
                version=version,
                variant=variant,
                prediction_ids=ids,
                features=features,
                predictions=predictions,
                scores=scores,
                latency_ms=latency,
                ts_ms=ts_ms,
                association_ids=assoc,
                flags=flags,
            )
        except Exception:  # capture must never break serving
            log.exception("Handing predictions of %s to the prediction log failed", deployment)

    # -- lifecycle (the writer's) -------------------------------------------------------------
    def start(self) -> None:
        """Start the writer."""
        self.writer.start()
