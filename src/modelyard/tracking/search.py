"""Compile a parsed run filter and order-by into one SQL query, pushed down with indexes.

Each metric key named in the filter or the ordering gets one outer join on
``latest_metrics`` (indexed by run and by (key, value)); comparisons on it become plain
column predicates, which lets the planner walk the (key, value) index when a metric is
both filtered and ordered on. Params, tags and datasets become correlated ``EXISTS``
lookups on their primary keys. Pagination tokens are opaque and bound to the query
they came from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.selectable import Alias

from modelyard.core.query import compare, decode_page_token, encode_page_token, fingerprint
from modelyard.tracking.filter_parser import And, Comparison, Node, Or, OrderBy, parse_filter, parse_order_by
from modelyard.tracking.tables import datasets, latest_metrics, params, run_inputs, runs, tags

_ATTRIBUTES = {
    "id": runs.c.id,
    "run_id": runs.c.id,
    "name": runs.c.name,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user": runs.c.user,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
    "git_commit": runs.c.git_commit,
    "entry_point": runs.c.entry_point,
    "host": runs.c.host,
}
_DATASET_COLUMNS = {"name": datasets.c.name, "digest": datasets.c.digest, "context": run_inputs.c.context}


class _Compiler:
    def __init__(self) -> None:
        self.metric_joins: dict[str, Alias] = {}

    def metric(self, key: str) -> Alias:
        if key not in self.metric_joins:
            self.metric_joins[key] = latest_metrics.alias(f"m{len(self.metric_joins)}")
        return self.metric_joins[key]

    def where(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.where(n) for n in node.items))
        if isinstance(node, Or):
            return or_(*(self.where(n) for n in node.items))
        return self.comparison(node)

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        if c.entity == "metric":
            m = self.metric(c.key)
            if c.op in ("IS NULL", "IS NOT NULL"):  # "the run has (no) such metric"
                return compare(m.c.run_id, c.op, None)
            return compare(m.c.value, c.op, c.value)
        if c.entity in ("param", "tag"):
            table = params if c.entity == "param" else tags
            has_key = and_(table.c.run_id == runs.c.id, table.c.key == c.key)
            if c.op == "IS NULL":
                return not_(exists().where(has_key))
            if c.op == "IS NOT NULL":
                return exists().where(has_key)
            return exists().where(has_key, compare(table.c.value, c.op, c.value))
        if c.entity == "attribute":
            return compare(_ATTRIBUTES[c.key], c.op, c.value)
        # datasets: the run consumed a dataset matching the comparison
        col = _DATASET_COLUMNS[c.key]
        return exists().where(
            run_inputs.c.run_id == runs.c.id,
            datasets.c.id == run_inputs.c.dataset_id,
            compare(col, c.op, c.value),
        )

    def order(self, o: OrderBy) -> list[Any]:
        if o.entity == "metric":
            col: Any = self.metric(o.key).c.value
        elif o.entity in ("param", "tag"):
            table = params if o.entity == "param" else tags
            col = (
                select(table.c.value)
                .where(table.c.run_id == runs.c.id, table.c.key == o.key)
                .scalar_subquery()
            )
        else:
            col = _ATTRIBUTES[o.key]
        return [col.desc().nulls_last() if o.descending else col.asc().nulls_last()]


def search_run_ids(
    conn: Connection,
    *,
    project_id: str | None,
    experiment_ids: list[str],
    filter_text: str | None,
    order_by: list[str],
    max_results: int,
    page_token: str | None,
    include_deleted: bool = False,
) -> tuple[list[str], str | None]:
    """Ids of the matching runs for one page, and the token for the next page (or None)."""
    node = parse_filter(filter_text)
    orders = parse_order_by(order_by)
    query = fingerprint(project_id, experiment_ids, filter_text, order_by, include_deleted)
    offset = decode_page_token(page_token, query)

    comp = _Compiler()
    conditions: list[ColumnElement[bool]] = []
    if project_id is not None:
        conditions.append(runs.c.project_id == project_id)
    if experiment_ids:
        conditions.append(runs.c.experiment_id.in_(experiment_ids))
    if not include_deleted:
        conditions.append(runs.c.deleted == false())
    if node is not None:
        conditions.append(comp.where(node))
    order_cols: list[Any] = []
    for o in orders:
        order_cols.extend(comp.order(o))
    if not any(o.entity == "attribute" and o.key == "start_time" for o in orders):
        order_cols.append(runs.c.start_time.desc())
    order_cols.append(runs.c.id)

    source: Any = runs
    for key, alias in comp.metric_joins.items():
        source = source.outerjoin(alias, and_(alias.c.run_id == runs.c.id, alias.c.key == key))
    stmt: Select[Any] = (
        select(runs.c.id)
        .select_from(source)
        .where(and_(true(), *conditions))
        .order_by(*order_cols)
        .limit(max_results + 1)
        .offset(offset)
    )
    ids = list(conn.execute(stmt).scalars())
    token = None
    if len(ids) > max_results:
        ids = ids[:max_results]
        token = encode_page_token(offset + max_results, query)
    return ids, token
