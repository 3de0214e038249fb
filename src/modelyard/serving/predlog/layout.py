"""Where prediction-log segments live, what their columns are, and how one is written safely.

Layout under the log root (``settings.resolved_predictions_uri``)::

    <root>/<deployment>/predictions/date=YYYY-MM-DD/<ts>-<pid>-<token>-<seq>.parquet
    <root>/<deployment>/actuals/date=YYYY-MM-DD/<ts>-<pid>-<token>-<seq>.parquet

``date=`` is the UTC day of the rows' ``ts`` for predictions, and the UTC day the actuals were
received for actuals (so every actual of a prediction made on day D sits in a folder >= D).
``<ts>`` is when the segment was written (ms), ``<pid>`` the writing process, ``<token>`` a
random per-process id (replicas on different hosts may share a pid) and ``<seq>`` a per-process
counter: names never clash between threads, workers or replicas writing to one root.

A segment is written to ``.<name>.tmp`` in the same folder, synced, then renamed, so readers
see whole files or nothing. Readers take only ``*.parquet`` names that do not start with ``.``.

Prediction columns (one row per scored input row):

==================  =====================  ==================================================
prediction_id       string                 unique per row; shadow/replay rows reuse it
association_id      string, nullable       the caller's business key (joins late actuals)
ts                  timestamp[ms, UTC]     when the request was answered
deployment          string
model               string                 registered model name
version             int32                  registered model version
variant             string                 ``primary``, ``canary``, an A/B or shadow name,
                                           or ``replay-<model>-v<version>``
latency_ms          float32                model latency of the request the row came in
prediction          string                 the answer as text (numbers as Arrow prints them)
prediction_value    float64, nullable      the answer as a number, null when not numeric
score               float64, nullable      probability / confidence, when the model gives one
flags               string, nullable       humility flags, comma separated
input.<feature>     natural type           one column per input: float64, int64, bool or
                                           string (lists and objects as JSON text)
==================  =====================  ==================================================

Inputs differ between model versions, so readers union segments by column name.

Actual columns: prediction_id (string, nullable), association_id (string, nullable), actual
(string), actual_value (float64, null when not numeric), ts (timestamp[ms, UTC], when the
outcome was observed; defaults to received), received (timestamp[ms, UTC]).
"""

from __future__ import annotations

import itertools
import os
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.serving.schemas import DEPLOYMENT_NAME

PREDICTIONS = "predictions"
ACTUALS = "actuals"
KINDS = (PREDICTIONS, ACTUALS)
INPUT_PREFIX = "input."
DAY_MS = 86_400_000
_MIN_PARQUET_BYTES = 12  # "PAR1" + footer length + "PAR1": anything shorter is not a Parquet file

TS_TYPE = pa.timestamp("ms", tz="UTC")

PREDICTION_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("association_id", pa.string()),
        ("ts", TS_TYPE),
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("variant", pa.string()),
        ("latency_ms", pa.float32()),
        ("prediction", pa.string()),
        ("prediction_value", pa.float64()),
        ("score", pa.float64()),
        ("flags", pa.string()),
    ]
)

ACTUAL_SCHEMA = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("association_id", pa.string()),
        ("actual", pa.string()),
        ("actual_value", pa.float64()),
        ("ts", TS_TYPE),
        ("received", TS_TYPE),
    ]
)

_TOKEN = secrets.token_hex(6)
_SEQ = itertools.count()  # next() on itertools.count is atomic under the GIL


def check_deployment(deployment: str) -> str:
    """The deployment name, checked again before it becomes a folder name.

    Raises:
        InvalidArgument: the name is not 1-63 lower-case letters, digits or '-'.
    """
    if not isinstance(deployment, str) or not DEPLOYMENT_NAME.fullmatch(deployment):
        raise InvalidArgument(
            f"Deployment name {deployment!r} is not valid: use 1-63 lower-case letters, digits or '-', "
            "starting with a letter."
        )
    return deployment


def kind_dir(root: str | os.PathLike[str], deployment: str, kind: str) -> Path:
    """``<root>/<deployment>/<kind>``, with the deployment name checked."""
    if kind not in KINDS:
        raise ValueError(f"unknown segment kind {kind!r}")
    return Path(root) / check_deployment(deployment) / kind


def day_of(ts_ms: int) -> date:
    """The UTC day of a millisecond timestamp."""
    return ms_to_datetime(ts_ms).date()


def ms_to_datetime(ts_ms: int) -> datetime:
    """A UTC datetime for a millisecond timestamp, exact to the millisecond (no float rounding)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ts_ms))


def segment_name(ts_ms: int | None = None) -> str:
    """A segment file name no other thread, process or host will produce."""
    ts = now_ms() if ts_ms is None else ts_ms
    return f"{ts:013d}-{os.getpid()}-{_TOKEN}-{next(_SEQ):06d}.parquet"


def ts_ms_of(table: pa.Table) -> np.ndarray:
    """The ``ts`` column of a prediction table as milliseconds (its rows' partition times)."""
    return table.column("ts").cast(pa.int64()).to_numpy()


_UNIQUE_COLUMNS = frozenset({"prediction_id", "association_id"})


def write_table(folder: Path, table: pa.Table) -> Path:
    """Write one segment atomically: a hidden temp file, fsync, then rename into place."""
    folder.mkdir(parents=True, exist_ok=True)
    name = segment_name()
    final = folder / name
    tmp = folder / f".{name}.tmp"
    try:
        with tmp.open("wb") as f:
            pq.write_table(
                table,
                f,
                compression="zstd",
                row_group_size=128 * 1024,
                # Dictionaries pay off only for repeated text (deployment, variant, categories);
                # on ids and continuous numbers they cost 5x the write time for a larger file.
                use_dictionary=[
                    f.name
                    for f in table.schema
                    if pa.types.is_string(f.type) and f.name not in _UNIQUE_COLUMNS
                ],
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def write_partitioned(
    root: str | os.PathLike[str], deployment: str, kind: str, table: pa.Table, day_ms: np.ndarray
) -> list[Path]:
    """Write ``table`` as one segment per UTC day, ``day_ms`` giving each row's partition time."""
    base = kind_dir(root, deployment, kind)
    days = np.asarray(day_ms, dtype=np.int64) // DAY_MS
    if len(days) == 0:
        return []
    first = int(days[0])
    if (days == first).all():  # the usual case: one day, no take()
        return [write_table(base / _day_folder(first), table)]
    written = []
    for d in np.unique(days):
        idx = np.flatnonzero(days == d)
        written.append(write_table(base / _day_folder(int(d)), table.take(pa.array(idx))))
    return written


def _day_folder(day_number: int) -> str:
    return f"date={(date(1970, 1, 1) + timedelta(days=day_number)).isoformat()}"


def list_segments(
    root: str | os.PathLike[str],
    deployment: str,
    kind: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> list[str]:
    """Segment files whose ``date=`` folder can hold rows in [since_ms, until_ms), oldest first.

    Only the folder names are read to prune days; temp files, hidden files and files too short
    to be Parquet are skipped.
    """
    base = kind_dir(root, deployment, kind)
    try:
        folders = os.listdir(base)
    except FileNotFoundError:
        return []
    first = day_of(since_ms) if since_ms is not None else None
    last = day_of(until_ms - 1) if until_ms is not None else None
    files: list[str] = []
    for folder in sorted(folders):
        if not folder.startswith("date="):
            continue
        try:
            day = date.fromisoformat(folder[5:])
        except ValueError:
            continue
        if (first is not None and day < first) or (last is not None and day > last):
            continue
        with os.scandir(base / folder) as it:
            entries = sorted(
                (e for e in it if e.name.endswith(".parquet") and not e.name.startswith(".")),
                key=lambda e: e.name,
            )
            for e in entries:
                try:
                    if e.is_file(follow_symlinks=False) and e.stat().st_size >= _MIN_PARQUET_BYTES:
                        files.append(e.path)
                except FileNotFoundError:  # removed while listing
                    continue
    return files
