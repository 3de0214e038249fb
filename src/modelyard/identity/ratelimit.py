"""Slow down password guessing: lock out after repeated failed sign-ins.

Two counters are kept: one per (client address, user name), so a guesser is stopped on one
account without locking the real user out from elsewhere, and one per client address, so
a guesser cannot spread attempts over many names. A successful sign-in clears the
(address, name) counter only: otherwise one valid account would let a guesser reset the
per-address counter between guesses.

The state lives in memory, per server process: N replicas allow N times the attempts,
and a restart forgets them. Future work: a shared store (the database or Redis) for
multi-replica deployments.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from modelyard.core.errors import TooManyRequests


@dataclass
class _Counter:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class LoginLimiter:
    """Counts failed sign-ins and refuses attempts while a client is locked out. Thread-safe."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        lockout_s: float = 300.0,
        *,
        max_failures_per_address: int = 20,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        """Build a limiter.

        Args:
            max_failures: Failures for one (address, user name) within ``window_s`` that lock it.
            window_s: How far back failures count, in seconds.
            lockout_s: How long a lock lasts, in seconds.
            max_failures_per_address: Failures from one address (any names) that lock the address.
            clock: Seconds, monotonic (tests inject a fake one).
            max_keys: Counters kept before idle ones are dropped (bounds memory under a flood).
        """
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_failures_per_address = max_failures_per_address
        self.clock = clock
        self.max_keys = max_keys
        self._counters: dict[tuple[str, ...], _Counter] = {}
        self._lock = threading.Lock()

    def _keys(self, address: str, name: str) -> tuple[tuple[tuple[str, ...], int], ...]:
        return (
            (("pair", address, name), self.max_failures),
            (("address", address), self.max_failures_per_address),
        )

    def check(self, address: str, name: str) -> None:
        """Refuse the attempt while the (address, name) pair or the address is locked out.

        Raises:
            TooManyRequests: with how long to wait.
        """
        now = self.clock()
        with self._lock:
            until = max(
                (c.locked_until for key, _ in self._keys(address, name) if (c := self._counters.get(key))),
                default=0.0,
            )
        if until > now:
            wait = math.ceil(until - now)
            raise TooManyRequests(f"Too many failed sign-in attempts; try again in {wait} seconds.")

    def record_failure(self, address: str, name: str) -> None:
        """Count a failed attempt; lock the pair or the address once over its limit."""
        now = self.clock()
        with self._lock:
            for key, limit in self._keys(address, name):
                counter = self._counters.setdefault(key, _Counter())
                counter.failures.append(now)
                while counter.failures and counter.failures[0] <= now - self.window_s:
                    counter.failures.popleft()
                if len(counter.failures) >= limit:
                    counter.locked_until = now + self.lockout_s
                    counter.failures.clear()
            if len(self._counters) > self.max_keys:
                self._prune(now)

    def record_success(self, address: str, name: str) -> None:
        """Forget the failures of this (address, name); the address counter stays."""
        with self._lock:
            self._counters.pop(("pair", address, name), None)

    def _prune(self, now: float) -> None:
        idle = [
            key
            for key, c in self._counters.items()
            if c.locked_until <= now and (not c.failures or c.failures[-1] <= now - self.window_s)
        ]
        for key in idle:
            del self._counters[key]
