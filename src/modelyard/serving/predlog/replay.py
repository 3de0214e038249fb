"""Replay: score stored production traffic with a challenger, to compare once actuals exist.

The source variant's captured rows in a window are streamed in batches, the feature frame is
rebuilt from their ``input.*`` columns, the challenger scores it, and the answers are written as
prediction segments under the same ``prediction_id``, ``association_id`` and ``ts``, with their
own variant (default ``replay-<model>-v<version>``). Actuals then join both variants alike, and
:func:`~modelyard.serving.predlog.compare.compare_variants` puts them side by side.

A replay can be run again: rows the variant already has are skipped, so an interrupted replay
resumes and a repeated one adds nothing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog import convert
from modelyard.serving.predlog.layout import (
    INPUT_PREFIX,
    PREDICTION_SCHEMA,
    PREDICTIONS,
    TS_TYPE,
    check_deployment,
    ts_ms_of,
    write_partitioned,
)
from modelyard.serving.predlog.reader import (
    connect,
    input_columns,
    prediction_view,
    rebatch,
    select_list,
    where_clause,
)

Progress = Callable[[int, int], None]
"""Called after each batch with (rows done, rows in total)."""


def replay_variant(model_name: str, version: int) -> str:
    """The default variant name of a replay: ``replay-<model>-v<version>`` (a valid variant name)."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", str(model_name).lower()).strip("-_") or "model"
    return f"replay-{slug}"[: 63 - len(f"-v{version}")] + f"-v{version}"


def replay(
    *,
    root: str | os.PathLike[str],
    deployment: str,
    loaded_model: Any = None,
    model_name: str | None = None,
    version: int,
    since_ms: int | None = None,
    until_ms: int | None = None,
    variant: str | None = None,
    source_variant: str = "primary",
    batch_rows: int = 50_000,
    progress: Progress | None = None,
    model: Any = None,
) -> dict[str, Any]:
    """Score a window of captured traffic with another model and store its answers as a variant.

    Args:
        root: the prediction log root.
        deployment: whose traffic to replay.
        loaded_model: the challenger (:class:`modelyard.models.LoadedModel`); its ``predict`` gets a
            DataFrame of the captured inputs, and ``predict_proba`` too when the manifest says
            ``has_predict_proba`` (score: the positive class of two, else the top class).
        model_name: the challenger's registered name (stored in ``model``).
        version: the challenger's registered version.
        since_ms: window start (inclusive); until_ms: window end (exclusive).
        variant: the variant name to store under; default :func:`replay_variant`.
        source_variant: whose rows to replay (default ``primary``).
        batch_rows: rows scored and written per segment.
        progress: called after each batch with (rows done, rows in total).
        model: the registered name, or the loaded model, for callers that pass it this way.

    Returns:
        ``{"rows", "skipped", "total", "variant", "model", "version", "segments", "seconds"}``.

    Raises:
        InvalidArgument: the challenger needs an input the captured rows do not have, or cannot
            score them. Segments written before the error stay, and a rerun resumes after them.
    """
    check_deployment(deployment)
    if loaded_model is None and hasattr(model, "predict"):
        loaded_model, model = model, None
    name = model_name if model_name is not None else model
    if loaded_model is None or not isinstance(name, str) or not name:
        raise InvalidArgument("A replay needs the challenger: loaded_model and its model_name.")
    if batch_rows < 1:
        raise InvalidArgument("batch_rows must be at least 1.")
    variant = variant or replay_variant(name, version)
    if variant == source_variant:
        raise InvalidArgument(f"A replay cannot write into the variant it reads ({variant!r}).")
    started = time.perf_counter()
    con = connect()
    inputs = _inputs(loaded_model, input_columns(root, deployment, since_ms, until_ms, con=con))
    view, available = prediction_view(con, root, deployment, since_ms, until_ms)
    select = select_list(["prediction_id", "association_id", "ts", *inputs], available)
    where, params = where_clause(since_ms, until_ms, source_variant)
    done_where, done_params = where_clause(since_ms, until_ms, variant)
    done = f"SELECT DISTINCT prediction_id FROM {view} WHERE {done_where.replace('$variant', '$target')}"
    done_params = {("target" if k == "variant" else k): v for k, v in done_params.items()}
    skipped = int(con.sql(f"SELECT count(*) FROM ({done})", params=done_params).fetchall()[0][0])
    sql = f"SELECT {select} FROM {view} WHERE {where}"
    if skipped:  # resume: leave out rows this variant already has
        sql = f"SELECT * FROM ({sql}) ANTI JOIN ({done}) USING (prediction_id)"
        params = {**params, **done_params}
    total = int(con.sql(f"SELECT count(*) FROM ({sql})", params=params).fetchall()[0][0])
    source = con.sql(sql, params=params)
    proba = bool(getattr(loaded_model.manifest, "has_predict_proba", False))
    rows = files = 0
    for batch in rebatch(source.to_arrow_reader(batch_rows), batch_rows):
        table = _score(batch, inputs, loaded_model, proba, deployment=deployment, model=name,
                       version=version, variant=variant)  # fmt: skip
        files += len(write_partitioned(root, deployment, PREDICTIONS, table, ts_ms_of(table)))
        rows += table.num_rows
        if progress is not None:
            progress(rows, total)
    return {
        "rows": rows,
        "skipped": skipped,
        "total": total,
        "variant": variant,
        "model": name,
        "version": version,
        "segments": files,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _inputs(loaded_model: Any, captured: list[str]) -> list[str]:
    """The ``input.*`` columns to rebuild the challenger's frame from."""
    signature = getattr(loaded_model.manifest, "signature", None)
    needed = signature.column_names if signature is not None else None
    if needed:
        missing = [c for c in needed if INPUT_PREFIX + c not in captured]
        if missing:
            have = ", ".join(c[len(INPUT_PREFIX) :] for c in captured) or "none"
            raise InvalidArgument(
                f"The challenger needs input(s) {', '.join(map(repr, missing))} that the captured "
                f"traffic does not have (captured: {have})."
            )
        return [INPUT_PREFIX + c for c in needed]
    if not captured:
        raise InvalidArgument("No captured inputs in this window: there is nothing to replay.")
    return captured


def _score(
    batch: pa.RecordBatch, inputs: list[str], loaded_model: Any, proba: bool, **const: Any
) -> pa.Table:
    frame = batch.select(inputs).to_pandas()
    frame.columns = [c[len(INPUT_PREFIX) :] for c in inputs]
    t0 = time.perf_counter()
    preds = np.asarray(loaded_model.predict(frame))
    scores = None
    if proba:
        p = np.asarray(loaded_model.predict_proba(frame), dtype=np.float64)
        if p.ndim == 2:
            scores = p[:, 1] if p.shape[1] == 2 else p.max(axis=1)
    n = batch.num_rows
    per_row_ms = (time.perf_counter() - t0) * 1000 / max(n, 1)
    if preds.ndim == 2 and preds.shape[1] == 1:
        preds = preds[:, 0]
    if len(preds) != n:
        raise InvalidArgument(f"The challenger returned {len(preds)} answers for {n} rows.")
    text, value = convert.text_and_value(preds.tolist())
    cols: dict[str, pa.Array] = {
        "prediction_id": batch.column("prediction_id"),
        "association_id": batch.column("association_id"),
        "ts": batch.column("ts").cast(TS_TYPE, safe=False),
        "deployment": pa.repeat(pa.scalar(const["deployment"], pa.string()), n),
        "model": pa.repeat(pa.scalar(const["model"], pa.string()), n),
        "version": pa.repeat(pa.scalar(int(const["version"]), pa.int32()), n),
        "variant": pa.repeat(pa.scalar(const["variant"], pa.string()), n),
        "latency_ms": pa.repeat(pa.scalar(per_row_ms, pa.float32()), n),
        "prediction": text,
        "prediction_value": value,
        "score": pa.nulls(n, pa.float64()) if scores is None else pa.array(scores, pa.float64()),
        "flags": pa.nulls(n, pa.string()),
    }
    fields = [pa.field(f.name, f.type) for f in PREDICTION_SCHEMA]
    arrays = [cols[f.name].cast(f.type) for f in fields]
    for c in inputs:
        arr = batch.column(c)
        if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
            arr = arr.cast(pa.string())
        fields.append(pa.field(c, arr.type))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
