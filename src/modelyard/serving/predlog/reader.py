"""Reading the prediction log with DuckDB: a time window, as a lazy relation or streamed batches.

Only the ``date=`` folders that can hold the window are listed; the files found are handed to
DuckDB as an explicit list (``read_parquet([...], union_by_name=true)``), so segments written by
different model versions, with different inputs, read as one table. DuckDB streams: iterating
:func:`iter_batches` over a 10-million-row window keeps one batch (plus DuckDB's bounded buffers,
``memory_limit``) in memory at a time.

Windows are ``since_ms <= ts < until_ms`` (either end may be open). Rows come in no particular
order. With ``with_actuals=True`` each prediction carries its latest actual (greatest ``ts``,
then latest received), matched by ``prediction_id`` or ``association_id``: columns ``actual``,
``actual_value`` and ``actual_ts`` (null when no actual is known yet). Actuals are looked for in
segments received from the day before ``since_ms`` on.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog.layout import (
    ACTUAL_SCHEMA,
    ACTUALS,
    DAY_MS,
    INPUT_PREFIX,
    PREDICTION_SCHEMA,
    PREDICTIONS,
    list_segments,
    ms_to_datetime,
)

ACTUAL_COLUMNS = ("actual", "actual_value", "actual_ts")
_VIEW_IDS = itertools.count()
_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
}


def connect(*, memory_limit: str = "1GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with bounded memory that spills to the temp folder."""
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": os.path.join(tempfile.gettempdir(), "modelyard-duckdb"),
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


def quote(name: str) -> str:
    """A SQL identifier for any column name (``input.age``, names with quotes, ...)."""
    return '"' + name.replace('"', '""') + '"'


def _empty_sql(schema: pa.Schema) -> str:
    cols = ", ".join(
        f"NULL::{'TIMESTAMPTZ' if pa.types.is_timestamp(f.type) else _DUCK_TYPES[f.type]} AS {quote(f.name)}"
        for f in schema
    )
    return f"SELECT {cols} WHERE false"


def _view(con: duckdb.DuckDBPyConnection, files: list[str], empty: pa.Schema) -> tuple[str, list[str]]:
    """A temp view over ``files`` (or an empty table of ``empty``'s columns); its name and columns."""
    name = f"predlog_{next(_VIEW_IDS)}"
    rel = con.read_parquet(files, union_by_name=True) if files else con.sql(_empty_sql(empty))
    rel.create_view(name, replace=True)
    return name, list(rel.columns)


def prediction_view(
    con: duckdb.DuckDBPyConnection,
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> tuple[str, list[str]]:
    """A temp view over the segments that may hold the window; its name and (union) columns."""
    return _view(con, segments(root, deployment, since_ms, until_ms), PREDICTION_SCHEMA)


def segments(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    kind: str = PREDICTIONS,
) -> list[str]:
    """The segment files that may hold rows of the window (``kind``: predictions or actuals)."""
    return list_segments(root, deployment, kind, since_ms, until_ms)


def scan(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    variant: str | None = None,
    with_actuals: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """A lazy DuckDB relation over a deployment's predictions in a window.

    Args:
        columns: the columns to return (all when omitted); an ``input.<feature>`` no segment in the
            window has comes back as nulls.
        variant: only this variant's rows (``primary``, a shadow name, ``replay-...``).
        with_actuals: add ``actual``, ``actual_value`` and ``actual_ts`` (latest actual per row).
        con: a connection to build on (default: a new one from :func:`connect`).

    Raises:
        InvalidArgument: a requested column is not a prediction-log column.
    """
    con = con or connect()
    pview, available = prediction_view(con, root, deployment, since_ms, until_ms)
    select = select_list(columns, available, with_actuals)
    where, params = where_clause(since_ms, until_ms, variant)
    if not with_actuals:
        return con.sql(f"SELECT {select} FROM {pview} WHERE {where}", params=params)
    actual_since = None if since_ms is None else since_ms - DAY_MS
    aview, _ = _view(con, segments(root, deployment, actual_since, None, kind=ACTUALS), ACTUAL_SCHEMA)
    # Latest actual per key; structs compare field by field, so max() takes the greatest ts, then
    # the latest received. greatest() skips nulls: a row matched by only one key gets that actual.
    sql = f"""
        WITH p AS (SELECT * FROM {pview} WHERE {where}),
        a AS (SELECT prediction_id, association_id,
                     {{'ts': ts, 'received': received, 'actual': actual, 'actual_value': actual_value}} AS s
              FROM {aview}),
        ap AS (SELECT prediction_id AS k, max(s) AS s FROM a WHERE prediction_id IS NOT NULL GROUP BY 1),
        aa AS (SELECT association_id AS k, max(s) AS s FROM a WHERE association_id IS NOT NULL GROUP BY 1),
        j AS (SELECT p.*, greatest(ap.s, aa.s) AS _actual FROM p
              LEFT JOIN ap ON ap.k = p.prediction_id
              LEFT JOIN aa ON aa.k = p.association_id)
        SELECT {select}, _actual.actual AS actual, _actual.actual_value AS actual_value,
               _actual.ts AS actual_ts
        FROM j
    """
    return con.sql(sql, params=params)


def iter_batches(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    variant: str | None = None,
    with_actuals: bool = False,
    batch_rows: int = 50_000,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a window as Arrow record batches of exactly ``batch_rows`` rows (the last one fewer).

    Same arguments as :func:`scan`. Memory holds about one batch at a time, whatever the window.
    """
    if batch_rows < 1:
        raise InvalidArgument("batch_rows must be at least 1.")
    rel = scan(
        root, deployment, since_ms, until_ms, columns=columns, variant=variant,
        with_actuals=with_actuals, con=con,
    )  # fmt: skip
    yield from rebatch(rel.to_arrow_reader(batch_rows), batch_rows)


def rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of batches into batches of exactly ``size`` rows (the last one fewer)."""
    held: list[pa.RecordBatch] = []
    rows = 0
    for b in batches:
        if not b.num_rows:
            continue
        held.append(b)
        rows += b.num_rows
        while rows >= size:
            table = pa.Table.from_batches(held)
            yield table.slice(0, size).combine_chunks().to_batches()[0]
            rest = table.slice(size)
            held = rest.combine_chunks().to_batches() if rest.num_rows else []
            rows -= size
    if rows:
        yield pa.Table.from_batches(held).combine_chunks().to_batches()[0]


def input_columns(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[str]:
    """The ``input.<feature>`` columns found in the window's segments (union over all of them)."""
    files = segments(root, deployment, since_ms, until_ms)
    if not files:
        return []
    con = con or connect()
    return [c for c in con.read_parquet(files, union_by_name=True).columns if c.startswith(INPUT_PREFIX)]


def counts(
    root: str | os.PathLike[str],
    deployment: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    *,
    with_actuals: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    """Rows in a window, overall and per variant, with first and last ``ts`` (ms).

    Returns:
        ``{"rows", "first_ts_ms", "last_ts_ms", "variants": {name: {"rows", "first_ts_ms",
        "last_ts_ms"[, "with_actuals"]}}[, "with_actuals"]}``
    """
    rel = scan(
        root, deployment, since_ms, until_ms, columns=["variant", "ts"], with_actuals=with_actuals, con=con
    )
    aggs = "variant, count(*), epoch_ms(min(ts)), epoch_ms(max(ts))"
    if with_actuals:
        aggs += ", count(actual_ts)"
    rows = rel.aggregate(aggs, "variant").order("variant").fetchall()
    variants: dict[str, dict[str, Any]] = {}
    for r in rows:
        variants[r[0]] = {"rows": r[1], "first_ts_ms": r[2], "last_ts_ms": r[3]}
        if with_actuals:
            variants[r[0]]["with_actuals"] = r[4]
    out: dict[str, Any] = {
        "rows": sum(v["rows"] for v in variants.values()),
        "first_ts_ms": min((v["first_ts_ms"] for v in variants.values()), default=None),
        "last_ts_ms": max((v["last_ts_ms"] for v in variants.values()), default=None),
        "variants": variants,
    }
    if with_actuals:
        out["with_actuals"] = sum(v["with_actuals"] for v in variants.values())
    return out


def select_list(columns: Sequence[str] | None, available: list[str], with_actuals: bool = False) -> str:
    """The SELECT list for ``columns`` over a view with ``available`` columns (see :func:`scan`)."""
    if columns is None:
        return "* EXCLUDE (_actual)" if with_actuals else "*"
    have = set(available)
    parts = []
    for c in columns:
        if with_actuals and c in ACTUAL_COLUMNS:
            continue  # added after the join
        if c in have:
            parts.append(quote(c))
        elif isinstance(c, str) and c.startswith(INPUT_PREFIX):
            parts.append(f"NULL::DOUBLE AS {quote(c)}")
        else:
            known = [f.name for f in PREDICTION_SCHEMA] + (list(ACTUAL_COLUMNS) if with_actuals else [])
            raise InvalidArgument(
                f"{c!r} is not a prediction-log column: use {', '.join(known)} or input.<feature>."
            )
    if not parts:  # only actual columns asked for: keep the row identity
        parts.append("prediction_id")
    return ", ".join(parts)


def where_clause(
    since_ms: int | None, until_ms: int | None, variant: str | None
) -> tuple[str, dict[str, Any]]:
    """The window (and variant) condition, with its parameters ``$since``, ``$until``, ``$variant``."""
    conds = ["true"]
    params: dict[str, Any] = {}
    if since_ms is not None:
        conds.append("ts >= $since")
        params["since"] = ms_to_datetime(since_ms)
    if until_ms is not None:
        conds.append("ts < $until")
        params["until"] = ms_to_datetime(until_ms)
    if variant is not None:
        conds.append("variant = $variant")
        params["variant"] = str(variant)
    return " AND ".join(conds), params
