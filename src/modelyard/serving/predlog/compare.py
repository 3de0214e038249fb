"""Variants side by side on one window, once actuals exist (one DuckDB aggregate over the join)."""

from __future__ import annotations

import os
from typing import Any, Literal

import duckdb

from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog.reader import scan

Task = Literal["auto", "classification", "regression"]
MAX_CLASSES = 20  # "auto": whole-number answers and actuals with at most this many labels are classes

_AGGS = """
    variant,
    count(*) AS rows,
    count(actual) AS with_actuals,
    avg(CASE WHEN actual IS NULL THEN NULL
             WHEN prediction_value IS NOT NULL AND actual_value IS NOT NULL
                  THEN (prediction_value = actual_value)::DOUBLE
             ELSE (prediction = actual)::DOUBLE END) AS accuracy,
    avg(abs(prediction_value - actual_value)) AS mae,
    count(actual) FILTER (WHERE actual_value IS NULL OR prediction_value IS NULL) AS text_rows,
    count(actual) FILTER (WHERE actual_value <> round(actual_value)
                             OR prediction_value <> round(prediction_value)) AS fractional_rows,
    count(DISTINCT actual) AS labels
"""


def compare_variants(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    task: Task = "auto",
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    """Per variant: rows, rows with actuals, and accuracy (classification) or MAE (regression).

    A prediction counts as right when its number equals the actual's number, or, for text labels,
    when the texts are equal. ``task="auto"`` calls it classification when some answer or actual
    is text, or all are whole numbers with at most ``MAX_CLASSES`` distinct actuals.

    Returns:
        ``{"task": ..., "variants": {name: {"rows", "with_actuals", "accuracy" | "mae"}}}``;
        the metric is None for a variant without actuals.
    """
    if task not in ("auto", "classification", "regression"):
        raise InvalidArgument("task must be 'auto', 'classification' or 'regression'.")
    rel = scan(
        root, deployment, since_ms, until_ms,
        columns=["variant", "prediction", "prediction_value"], with_actuals=True, con=con,
    )  # fmt: skip
    rows = rel.aggregate(_AGGS, "variant").order("variant").fetchall()
    if task == "auto":
        text = sum(r[5] for r in rows)
        fractional = sum(r[6] for r in rows)
        labels = max((r[7] for r in rows), default=0)
        task = "classification" if text or (not fractional and labels <= MAX_CLASSES) else "regression"
    metric = "accuracy" if task == "classification" else "mae"
    variants = {
        r[0]: {"rows": r[1], "with_actuals": r[2], metric: r[3] if metric == "accuracy" else r[4]}
        for r in rows
    }
    return {"task": task, "variants": variants}
