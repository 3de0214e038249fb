"""Pieces every filtered search shares: operators as SQL, and opaque page tokens.

A page token carries the offset of the next page and a fingerprint of the query that made
it, so a token is refused when it is passed to a different search (another filter, order
or scope) instead of silently paging through the wrong results.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Select

from modelyard.core.errors import InvalidArgument

__all__ = ["compare", "decode_page_token", "encode_page_token", "fetch_page", "fingerprint"]


def compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    """``col op value`` for one of the filter language's normalised operators.

    Args:
        col: a column or SQL expression.
        op: "=", "!=", "<", "<=", ">", ">=", "[NOT] LIKE", "[NOT] ILIKE", "[NOT] IN" or "IS [NOT] NULL".
        value: the operand; a sequence for IN lists, ignored for IS [NOT] NULL.
    """
    match op:
        case "=":
            return col == value
        case "!=":
            return col != value
        case "<":
            return col < value
        case "<=":
            return col <= value
        case ">":
            return col > value
        case ">=":
            return col >= value
        case "LIKE":
            return col.like(value)
        case "NOT LIKE":
            return col.not_like(value)
        case "ILIKE":
            return col.ilike(value)
        case "NOT ILIKE":
            return col.not_ilike(value)
        case "IN":
            return col.in_(list(value))
        case "NOT IN":
            return col.not_in(list(value))
        case "IS NULL":
            return col.is_(None)
        case "IS NOT NULL":
            return col.is_not(None)
    raise InvalidArgument(f"Unsupported operator {op!r}.")  # pragma: no cover - the parser rejects it


def fingerprint(*parts: Any) -> str:
    """A short digest of everything that defines a search (JSON-serialisable parts)."""
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:16]


def encode_page_token(offset: int, query: str) -> str:
    """The opaque token for the page starting at ``offset`` of the search ``query`` fingerprints."""
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "q": query})).decode()


def decode_page_token(token: str | None, query: str) -> int:
    """The offset a token points at; 0 for no token.

    Raises:
        InvalidArgument: the token is malformed or belongs to another search.
    """
    if not token:
        return 0
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        offset, made_by = int(data["o"]), data["q"]
    except Exception as exc:
        raise InvalidArgument("page_token is not valid: pass back the token a search returned.") from exc
    if made_by != query or offset < 0:
        raise InvalidArgument(
            "page_token belongs to a different search: use it with the same filter, order and scope."
        )
    return offset


def fetch_page(
    conn: Connection, stmt: Select[Any], *, offset: int, max_results: int, query: str
) -> tuple[list[Any], str | None]:
    """Run an ordered one-column select for one page; the values and the next page's token.

    One row more than the page is fetched to learn whether another page follows, so the
    last page never hands out a token that leads to an empty page.
    """
    values = list(conn.execute(stmt.limit(max_results + 1).offset(offset)).scalars())
    if len(values) <= max_results:
        return values, None
    return values[:max_results], encode_page_token(offset + max_results, query)
