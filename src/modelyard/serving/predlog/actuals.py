"""Actuals (ground truth): what really happened, matched to predictions later by id.

Each call writes one segment under ``<root>/<deployment>/actuals/date=<received day>/``
(columns in :mod:`modelyard.serving.predlog.layout`). Nothing is updated in place: a second
actual for the same prediction is another row, and readers take the latest one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog import convert
from modelyard.serving.predlog.layout import (
    ACTUAL_SCHEMA,
    ACTUALS,
    TS_TYPE,
    check_deployment,
    now_ms,
    write_partitioned,
)

MAX_ID_CHARS = 256
_KEYS = frozenset({"prediction_id", "association_id", "actual", "ts_ms"})
_SCALARS = (str, int, float, bool, np.number, np.bool_)


def write_actuals(root: str | os.PathLike[str], deployment: str, records: list[dict[str, Any]]) -> int:
    """Store actuals for a deployment's predictions; returns how many were stored.

    Args:
        root: the prediction log root.
        deployment: the deployment the predictions came from.
        records: ``{"prediction_id" or "association_id": ..., "actual": ..., "ts_ms": optional}``;
            ``actual`` is a label or a number, ``ts_ms`` when the outcome was observed (default now).

    Raises:
        InvalidArgument: naming the first bad record; nothing is stored then.
    """
    check_deployment(deployment)
    if not isinstance(records, list):
        raise InvalidArgument("Actuals must be a list of records.")
    if not records:
        return 0
    received = now_ms()
    pids: list[str | None] = []
    aids: list[str | None] = []
    actuals: list[Any] = []
    ts: list[int] = []
    for i, rec in enumerate(records):
        pid, aid, actual, at = _check(i, rec, received)
        pids.append(pid)
        aids.append(aid)
        actuals.append(actual)
        ts.append(at)
    text, value = convert.text_and_value(actuals)
    n = len(records)
    table = pa.Table.from_arrays(
        [
            pa.array(pids, pa.string()),
            pa.array(aids, pa.string()),
            text,
            value,
            pa.array(ts, TS_TYPE),
            pa.array(np.full(n, received, np.int64), TS_TYPE),
        ],
        schema=ACTUAL_SCHEMA,
    )
    write_partitioned(root, deployment, ACTUALS, table, np.full(n, received, np.int64))
    return n


def _check(i: int, rec: Any, received: int) -> tuple[str | None, str | None, Any, int]:
    where = f"Actual record {i}"
    if not isinstance(rec, Mapping):
        raise InvalidArgument(f"{where} is not an object: give prediction_id or association_id, and actual.")
    unknown = sorted(set(rec) - _KEYS)
    if unknown:
        raise InvalidArgument(
            f"{where} has unknown field(s) {', '.join(map(repr, unknown))}: "
            "use prediction_id or association_id, actual and optionally ts_ms."
        )
    pid = _id(rec.get("prediction_id"), f"{where}: prediction_id")
    aid = _id(rec.get("association_id"), f"{where}: association_id")
    if pid is None and aid is None:
        raise InvalidArgument(f"{where} names no prediction: give prediction_id or association_id.")
    where = f"{where} ({'prediction_id ' + repr(pid) if pid is not None else 'association_id ' + repr(aid)})"
    actual = rec.get("actual")
    if actual is None:
        raise InvalidArgument(f"{where} has no actual: give the observed label or value.")
    if not isinstance(actual, _SCALARS):
        raise InvalidArgument(f"{where}: actual must be a label or a number, not {type(actual).__name__}.")
    ts = rec.get("ts_ms", received)
    if ts is None:
        ts = received
    if isinstance(ts, bool) or not isinstance(ts, int | np.integer) or not 0 <= ts < 10**14:
        raise InvalidArgument(f"{where}: ts_ms must be milliseconds since 1970 (an integer), not {ts!r}.")
    return pid, aid, actual, int(ts)


def _id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise InvalidArgument(f"{where} must be a non-empty string of at most {MAX_ID_CHARS} characters.")
    return value
