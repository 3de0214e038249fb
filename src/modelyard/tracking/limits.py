"""Documented limits on what a run may record (see docs/limits.md), checked in one place.

The SDK runs the same checks before queueing a metric, so a bad key fails at the
``log_metric`` call that made it, not seconds later in a background flush.
"""

from __future__ import annotations

import math
import re
from typing import Any

from modelyard.core.errors import InvalidArgument

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6_000
MAX_TAG_VALUE_LENGTH = 8_000
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_FLOAT = 1.7976931348623157e308
_INT64 = 2**63 - 1
_KEY = re.compile(r"^[A-Za-z0-9_\-./: ]+$")


def check_key(kind: str, key: Any) -> str:
    """A metric, param or tag name: 1-250 of letters, digits, ``_ - . / :`` and space."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{kind} name must be a non-empty string, got {key!r}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"{kind} name {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}."
        )
    if not _KEY.match(key) or ".." in key or key.startswith("/"):
        raise InvalidArgument(
            f"{kind} name {key!r} is not allowed: use letters, digits, spaces and _ - . / : "
            "(no '..', no leading '/')."
        )
    return key


def check_param_value(key: str, value: Any) -> str:
    """Params are stored as strings of at most 6,000 characters."""
    text = _scalar_text("Param", key, value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidArgument(
            f"Param {key!r} value is {len(text)} characters; the limit is {MAX_PARAM_VALUE_LENGTH}. "
            "Log long values as an artifact instead."
        )
    return text


def check_tag_value(key: str, value: Any) -> str:
    """Tags are stored as strings of at most 8,000 characters."""
    text = _scalar_text("Tag", key, value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidArgument(
            f"Tag {key!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}."
        )
    return text


def _scalar_text(kind: str, key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple, set)) or value is None:
        raise InvalidArgument(
            f"{kind} {key!r} value must be a string or a number, got {type(value).__name__}."
        )
    return str(value)


def check_metric_value(key: str, value: Any, *, none_is_nan: bool = False) -> float | None:
    """A finite float; NaN becomes None (stored as NULL), infinities clamp to the float range.

    On the wire NaN travels as null, so the service passes ``none_is_nan=True``.
    """
    if value is None and none_is_nan:
        return None
    if isinstance(value, bool) or (not isinstance(value, (int, float)) and not hasattr(value, "__float__")):
        raise InvalidArgument(f"Metric {key!r} value must be a number, got {type(value).__name__}.")
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"Metric {key!r} value {value!r} is not a number.") from exc
    if math.isnan(v):
        return None
    if math.isinf(v):
        return MAX_FLOAT if v > 0 else -MAX_FLOAT
    return v


def check_int64(kind: str, value: Any) -> int:
    """Steps and timestamps are 64-bit integers."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if float(value) != int(value):
                raise ValueError
            value = int(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidArgument(f"{kind} must be an integer, got {value!r}.") from exc
    if not -_INT64 <= value <= _INT64:
        raise InvalidArgument(f"{kind} {value} is outside the 64-bit integer range.")
    return int(value)


def check_batch_size(n_metrics: int, n_params: int, n_tags: int) -> None:
    """One log_batch request carries at most 10,000 metrics, 100 params and 100 tags."""
    if n_metrics > MAX_BATCH_METRICS or n_params > MAX_BATCH_PARAMS or n_tags > MAX_BATCH_TAGS:
        raise InvalidArgument(
            f"A batch may hold at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params and "
            f"{MAX_BATCH_TAGS} tags; this one has {n_metrics}, {n_params} and {n_tags}. "
            "Split it into several batches."
        )
