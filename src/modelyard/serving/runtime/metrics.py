"""Prometheus metrics of the serving process, with label children cached off the hot path.

Each app has its own registry (several apps may live in one test process). With several
worker processes the runtime points prometheus-client at a shared folder
(``PROMETHEUS_MULTIPROC_DIR``, set by ``runtime.server`` before the workers start) and
``/metrics`` sums every worker's files.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_ARM = ["deployment", "variant", "version"]


class ArmMetrics:
    """The label children of one (deployment, variant, version): found once, used per request."""

    __slots__ = ("_codes", "_errors", "_m", "_parent", "latency", "rows", "shadow_rows")

    def __init__(self, m: Metrics, deployment: str, variant: str, version: int) -> None:
        labels = (deployment, variant, str(version))
        self._m = m
        self._parent = labels
        self.latency = m.latency.labels(*labels)
        self.rows = m.rows.labels(*labels)
        self.shadow_rows = m.shadow_rows.labels(*labels)
        self._codes: dict[int, Any] = {}
        self._errors: dict[str, Any] = {}

    def request(self, status: int, seconds: float, rows: int) -> None:
        """Count a request (and its rows when answered)."""
        child = self._codes.get(status)
        if child is None:
            child = self._codes[status] = self._m.requests.labels(*self._parent, str(status))
        child.inc()
        self.latency.observe(seconds)
        if status < 300:
            self.rows.inc(rows)

    def error(self, code: str) -> None:
        """Count an error by its code (INVALID_INPUT, MODEL_ERROR, ...)."""
        child = self._errors.get(code)
        if child is None:
            child = self._errors[code] = self._m.errors.labels(*self._parent, code)
        child.inc()


class Metrics:
    """Every metric the runtime exports."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelyard_serving_requests",
            "Predict requests answered, by HTTP status.",
            [*_ARM, "code"],
            registry=r,
        )
        self.rows = Counter("modelyard_serving_rows", "Rows predicted.", _ARM, registry=r)
        self.latency = Histogram(
            "modelyard_serving_request_duration_seconds",
            "Predict request latency inside the server (read body to response ready).",
            _ARM,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "modelyard_serving_errors",
            "Predict requests refused or failed, by error code.",
            [*_ARM, "code"],
            registry=r,
        )
        self.unrouted = Counter(
            "modelyard_serving_unrouted_requests",
            "Requests refused before a model was chosen (unknown deployment, bad body, auth).",
            ["code"],
            registry=r,
        )
        self.humility = Counter(
            "modelyard_serving_humility",
            "Rows on which a humility rule fired.",
            ["deployment", "rule", "action"],
            registry=r,
        )
        self.shadow_rows = Counter(
            "modelyard_serving_shadow_rows", "Rows scored by shadow models.", _ARM, registry=r
        )
        self.shadow_dropped = Counter(
            "modelyard_serving_shadow_dropped_rows",
            "Rows a shadow model skipped (too far behind, or it failed).",
            ["deployment", "variant"],
            registry=r,
        )
        self.capture = Gauge(
            "modelyard_serving_capture_rows",
            "Predictions handed to the prediction log: written, dropped (queue full) and queued.",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.canary_weight = Gauge(
            "modelyard_serving_canary_weight",
            "Percent of the primary's traffic the canary takes now (0 once rolled back).",
            ["deployment", "model_uri"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_info = Gauge(
            "modelyard_serving_model_info",
            "1 for each model version a deployment serves now.",
            ["deployment", "variant", "model", "version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._arms: dict[tuple[str, str, int], ArmMetrics] = {}
        self._humility: dict[tuple[str, str, str], Any] = {}

    def arm(self, deployment: str, variant: str, version: int) -> ArmMetrics:
        """The cached children for an arm."""
        key = (deployment, variant, version)
        found = self._arms.get(key)
        if found is None:
            found = self._arms[key] = ArmMetrics(self, deployment, variant, version)
        return found

    def humility_fired(self, deployment: str, fired: dict[tuple[str, str], int]) -> None:
        """Count rule firings."""
        for (rule, action), rows in fired.items():
            key = (deployment, rule, action)
            child = self._humility.get(key)
            if child is None:
                child = self._humility[key] = self.humility.labels(*key)
            child.inc(rows)

    def set_capture(self, stats: dict[str, Any]) -> None:
        """Mirror the capture writer's counts."""
        for state in ("written", "dropped", "queued"):
            self.capture.labels(state).set(float(stats.get(state, 0)))

    def expose(self) -> bytes:
        """The text exposition format."""
        if self.multiprocess_dir and os.path.isdir(self.multiprocess_dir):
            combined = CollectorRegistry()
            MultiProcessCollector(combined, path=self.multiprocess_dir)
            return generate_latest(combined)
        return generate_latest(self.registry)
