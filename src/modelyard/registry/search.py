"""Search registered models and model versions with the run search filter language.

Models can be filtered on their attributes and tags (:data:`MODEL_FILTER`); versions on
their attributes, their tags, the model's name, the aliases pointing at them, and the
metrics and params of the run that produced them (:data:`VERSION_FILTER`). Everything is
pushed into one SQL query, as for runs: each metric key gets one outer join on
``latest_metrics`` through ``model_versions.run_id``; params, tags and aliases become
correlated ``EXISTS`` lookups on primary keys. Deleted models, and so their versions,
never match. Pages use the same opaque, query-bound tokens as run search.

``alias`` is multi-valued (a version may carry several aliases, or none), so a negative
test reads as "the version does not carry it": ``alias != 'champion'`` matches every
version the champion alias does not point at, including versions with no alias at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, not_, or_, select, true
from sqlalchemy.sql.selectable import NamedFromClause

from modelyard.core.errors import InvalidArgument
from modelyard.core.query import compare, decode_page_token, fetch_page, fingerprint
from modelyard.registry.tables import (
    model_aliases,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)
from modelyard.tracking.filter_parser import (
    MODEL_FILTER,
    VERSION_FILTER,
    And,
    Comparison,
    Node,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from modelyard.tracking.tables import latest_metrics, params

__all__ = ["MAX_RESULTS", "search_model_ids", "search_version_ids"]

MAX_RESULTS = 10_000
"""The largest page a search returns, as for runs."""

_MODEL_COLUMNS: dict[str, Any] = {
    name: registered_models.c[name]
    for name in ("name", "description", "owner", "risk_tier", "status", "created_at", "updated_at")
}
_VERSION_COLUMNS: dict[str, Any] = {
    "name": registered_models.c.name,
    **{
        name: model_versions.c[name]
        for name in (
            "version",
            "status",
            "provenance",
            "flavor",
            "digest",
            "run_id",
            "created_by",
            "created_at",
        )
    },
}
# The positive form of each negative operator, for multi-valued fields (aliases).
_NEGATED = {"!=": "=", "NOT LIKE": "LIKE", "NOT ILIKE": "ILIKE", "NOT IN": "IN"}


class _Compiler:
    """Turns a filter AST and order-by clauses into SQL over models (or versions, below)."""

    columns = _MODEL_COLUMNS
    tags: Table = model_tags

    def __init__(self) -> None:
        self.metric_joins: dict[str, NamedFromClause] = {}

    def tag_owner(self) -> ColumnElement[bool]:
        """Correlates a row of ``self.tags`` with the object searched."""
        return model_tags.c.model_id == registered_models.c.id

    def where(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.where(n) for n in node.items))
        if isinstance(node, Or):
            return or_(*(self.where(n) for n in node.items))
        return self.comparison(node)

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        if c.entity == "tag":
            return _key_value(self.tags, self.tag_owner(), c)
        return compare(self.columns[c.key], c.op, c.value)

    def order_column(self, o: OrderBy) -> Any:
        if o.entity == "tag":
            return (
                select(self.tags.c.value).where(self.tag_owner(), self.tags.c.key == o.key).scalar_subquery()
            )
        return self.columns[o.key]

    def order(self, orders: tuple[OrderBy, ...], default: str, descending: bool) -> list[Any]:
        """The ORDER BY list: the clauses, then ``default`` (unless ordered by it), then the id."""
        cols = []
        for o in orders:
            col = self.order_column(o)
            cols.append(col.desc().nulls_last() if o.descending else col.asc().nulls_last())
        if not any(o.entity == "attribute" and o.key == default for o in orders):
            col = self.columns[default]
            cols.append(col.desc() if descending else col.asc())
        return cols


class _VersionCompiler(_Compiler):
    """Versions: also the source run's metrics and params, and the aliases pointing at them."""

    columns = _VERSION_COLUMNS
    tags = version_tags

    def tag_owner(self) -> ColumnElement[bool]:
        return version_tags.c.version_id == model_versions.c.id

    def metric(self, key: str) -> NamedFromClause:
        if key not in self.metric_joins:
            self.metric_joins[key] = latest_metrics.alias(f"m{len(self.metric_joins)}")
        return self.metric_joins[key]

    def comparison(self, c: Comparison) -> ColumnElement[bool]:
        if c.entity == "metric":
            m = self.metric(c.key)
            if c.op in ("IS NULL", "IS NOT NULL"):  # "the version's run has (no) such metric"
                return compare(m.c.run_id, c.op, None)
            return compare(m.c.value, c.op, c.value)
        if c.entity == "param":
            return _key_value(params, params.c.run_id == model_versions.c.run_id, c)
        if c.entity == "attribute" and c.key == "alias":
            return _alias(c)
        return super().comparison(c)

    def order_column(self, o: OrderBy) -> Any:
        if o.entity == "metric":
            return self.metric(o.key).c.value
        if o.entity == "param":
            return (
                select(params.c.value)
                .where(params.c.run_id == model_versions.c.run_id, params.c.key == o.key)
                .scalar_subquery()
            )
        return super().order_column(o)


def _key_value(table: Table, owner: ColumnElement[bool], c: Comparison) -> ColumnElement[bool]:
    """A tag or param comparison: the owner has the key, with a matching value."""
    has_key = and_(owner, table.c.key == c.key)
    if c.op == "IS NULL":
        return not_(exists().where(has_key))
    if c.op == "IS NOT NULL":
        return exists().where(has_key)
    return exists().where(has_key, compare(table.c.value, c.op, c.value))


def _alias(c: Comparison) -> ColumnElement[bool]:
    """An alias comparison; negative operators mean "no alias of the version matches"."""
    # model_id first: the lookup walks model_aliases' primary key (model_id, alias).
    points_here = and_(
        model_aliases.c.model_id == model_versions.c.model_id,
        model_aliases.c.version_id == model_versions.c.id,
    )
    if c.op in ("IS NULL", "IS NOT NULL"):  # the version carries no / some alias
        found = exists().where(points_here)
        return not_(found) if c.op == "IS NULL" else found
    positive = _NEGATED.get(c.op, c.op)
    found = exists().where(points_here, compare(model_aliases.c.alias, positive, c.value))
    return not_(found) if c.op in _NEGATED else found


def _check_max_results(max_results: int) -> None:
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidArgument(f"max_results must be between 1 and {MAX_RESULTS}.")


def search_model_ids(
    conn: Connection,
    *,
    project_id: str,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> tuple[list[str], str | None]:
    """Ids of the project's registered models that match, one page, and the next page's token.

    Args:
        conn: an open connection (a read transaction).
        project_id: the project searched; deleted models never match.
        filter_text: e.g. ``"name LIKE 'credit%' and tags.team = 'risk' and risk_tier = 'high'"``.
        order_by: e.g. ``["updated_at DESC"]``; ties and the default order by name, then id.
        max_results: the page size, 1 to 10000.
        page_token: the token a previous page of the same search returned.

    Raises:
        InvalidArgument: the filter, an order-by clause, max_results or the token is invalid.
    """
    _check_max_results(max_results)
    node = parse_filter(filter_text, MODEL_FILTER)
    orders = parse_order_by(order_by, MODEL_FILTER)
    query = fingerprint("models", project_id, filter_text, order_by)
    offset = decode_page_token(page_token, query)

    comp = _Compiler()
    conditions = [registered_models.c.project_id == project_id, registered_models.c.status != "deleted"]
    if node is not None:
        conditions.append(comp.where(node))
    stmt = (
        select(registered_models.c.id)
        .where(and_(true(), *conditions))
        .order_by(*comp.order(orders, "name", descending=False), registered_models.c.id)
    )
    return fetch_page(conn, stmt, offset=offset, max_results=max_results, query=query)


def search_version_ids(
    conn: Connection,
    *,
    project_id: str,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> tuple[list[str], str | None]:
    """Ids of the matching versions of the project's models, one page, and the next page's token.

    Args:
        conn: an open connection (a read transaction).
        project_id: the project searched; versions of deleted models never match.
        filter_text: e.g. ``"name = 'credit' and metrics.auc > 0.8 and alias = 'champion'"``;
            metrics and params are those of the version's source run.
        order_by: e.g. ``["metrics.auc DESC"]``; ties and the default order newest first, then id.
        max_results: the page size, 1 to 10000.
        page_token: the token a previous page of the same search returned.

    Raises:
        InvalidArgument: the filter, an order-by clause, max_results or the token is invalid.
    """
    _check_max_results(max_results)
    node = parse_filter(filter_text, VERSION_FILTER)
    orders = parse_order_by(order_by, VERSION_FILTER)
    query = fingerprint("model versions", project_id, filter_text, order_by)
    offset = decode_page_token(page_token, query)

    comp = _VersionCompiler()
    conditions = [registered_models.c.project_id == project_id, registered_models.c.status != "deleted"]
    if node is not None:
        conditions.append(comp.where(node))
    order_cols = [*comp.order(orders, "created_at", descending=True), model_versions.c.id]

    source: Any = model_versions.join(registered_models, registered_models.c.id == model_versions.c.model_id)
    for key, alias in comp.metric_joins.items():
        source = source.outerjoin(alias, and_(alias.c.run_id == model_versions.c.run_id, alias.c.key == key))
    stmt = (
        select(model_versions.c.id).select_from(source).where(and_(true(), *conditions)).order_by(*order_cols)
    )
    return fetch_page(conn, stmt, offset=offset, max_results=max_results, query=query)
