"""Identifiers and timestamps."""

import time
import uuid


def new_id() -> str:
    """A new 32-character hex id."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """Milliseconds since the epoch, the unit every stored timestamp uses."""
    return time.time_ns() // 1_000_000
