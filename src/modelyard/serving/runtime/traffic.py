"""Which model answers a request: A/B split, sticky keys, the canary's share and its controller.

Traffic is cut into 10,000 buckets. A request with a key (body ``key`` or header
``X-Modelyard-Key``) always lands in the same bucket (CRC-32 of the key), so a customer keeps
seeing the same arm while the weights stand; without a key the bucket is random. A/B arms
take their weights (percent) first; the canary takes its current step's share of what is left
to the primary (it is the primary's successor), and the primary answers the rest.

The canary controller watches the canary's own requests, errors and latency within a step.
After ``step_seconds`` with at least ``min_requests``, a breach of ``max_error_rate`` or
``max_p99_ms`` rolls it back (it gets no traffic from that moment), otherwise it moves to the
next step, and past the last step it is completed. Each change is reported to the source.
With several worker processes each runs its own controller on its share of the traffic.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.serving.schemas import Canary, CanaryProgress

BUCKETS = 10_000
MAX_SAMPLES = 20_000  # canary latencies kept per step for its p99


def bucket_of(key: str | None) -> int:
    """The bucket a routing key falls in (random without a key)."""
    if key is None:
        return random.randrange(BUCKETS)
    return zlib.crc32(key.encode()) % BUCKETS


@dataclass(frozen=True)
class Split:
    """Answering arms with their bucket bounds."""

    ab: tuple[tuple[int, Any], ...]  # (upper bound, arm), cumulative
    ab_total: int

    @classmethod
    def of(cls, arms: list[tuple[float, Any]]) -> Split:
        """From (weight percent, arm) pairs."""
        bounds, total = [], 0
        for weight, arm in arms:
            total += round(weight * BUCKETS / 100)
            bounds.append((total, arm))
        return cls(tuple(bounds), min(total, BUCKETS))

    def pick(self, bucket: int, primary: Any, canary: Any, canary_weight: float) -> Any:
        """The arm for a bucket, given the canary's current weight (percent)."""
        for bound, arm in self.ab:
            if bucket < bound:
                return arm
        if canary is not None and canary_weight > 0:
            rest = BUCKETS - self.ab_total
            if (bucket - self.ab_total) < rest * canary_weight / 100:
                return canary
        return primary


class CanaryController:
    """Tracks one canary's steps in this process."""

    def __init__(self, canary: Canary, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = canary
        self.model_uri = canary.model_uri
        self.state = canary.state
        self.step = canary.step
        self.reason = canary.reason
        self.clock = clock
        self.pending: tuple[str, int] | None = None  # reported, not yet seen in the deployment
        self._reset()

    def _reset(self) -> None:
        self.started = self.clock()
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []

    @property
    def weight(self) -> float:
        """Percent of the primary's traffic the canary takes now."""
        if self.state == "completed":
            return 100.0
        if self.state != "running":
            return 0.0
        return self.weight_at(self.step)

    def record(self, ok: bool, latency_ms: float) -> None:
        """Count one canary request."""
        self.requests += 1
        if not ok:
            self.errors += 1
        if len(self.latencies) < MAX_SAMPLES:
            self.latencies.append(latency_ms)
        else:  # keep a uniform sample of the step
            i = random.randrange(self.requests)
            if i < MAX_SAMPLES:
                self.latencies[i] = latency_ms

    def evaluate(self) -> CanaryProgress | None:
        """Advance, roll back or complete when the step is over; None while it runs."""
        spec = self.spec
        if self.state != "running" or self.clock() - self.started < spec.step_seconds:
            return None
        if self.requests < spec.min_requests:
            return None  # not enough evidence yet: the step goes on
        rate = self.errors / self.requests
        p99 = float(np.percentile(self.latencies, 99)) if self.latencies else 0.0
        if rate > spec.max_error_rate:
            self.state = "rolled_back"
            self.reason = (
                f"error rate {rate:.1%} ({self.errors} of {self.requests} requests) exceeded "
                f"max_error_rate {spec.max_error_rate:.1%} at step {self.step} "
                f"({self.weight_at(self.step):g}%)"
            )
        elif p99 > spec.max_p99_ms:
            self.state = "rolled_back"
            self.reason = (
                f"p99 latency {p99:.1f} ms exceeded max_p99_ms {spec.max_p99_ms:g} ms at step {self.step} "
                f"({self.weight_at(self.step):g}%)"
            )
        elif self.step + 1 >= len(spec.steps):
            self.state = "completed"
            self.reason = (
                f"all {len(spec.steps)} steps passed (last: error rate {rate:.1%}, p99 {p99:.1f} ms)"
            )
        else:
            self.step += 1
            self.reason = (
                f"step {self.step - 1} passed (error rate {rate:.1%}, p99 {p99:.1f} ms over {self.requests} "
                f"requests): now {self.weight:g}%"
            )
        self._reset()
        self.pending = (self.state, self.step)
        return CanaryProgress(state=self.state, step=self.step, reason=self.reason)

    def weight_at(self, step: int) -> float:
        """The share of a step (percent)."""
        return self.spec.steps[min(step, len(self.spec.steps) - 1)]

    def follow(self, canary: Canary, revision_changed: bool) -> bool:
        """Take a newer spec of the same canary; False when it is another canary (start afresh).

        Progress this process made and reported wins until the deployment shows it, unless
        someone changed the deployment in between (then the deployment wins).
        """
        if canary.model_uri != self.model_uri:
            return False
        self.spec = canary
        if self.pending is not None:
            if (canary.state, canary.step) == self.pending:
                self.pending = None
            elif not revision_changed:
                return True
            else:
                self.pending = None
        if (canary.state, canary.step) != (self.state, self.step):
            self.state, self.step, self.reason = canary.state, canary.step, canary.reason
            self._reset()
        return True
