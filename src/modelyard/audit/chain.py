"""Append to, verify and export the tamper-evident audit trail.

Every record's ``hash`` is ``sha256(prev_hash + canonical_json(fields))`` where ``fields``
are seq, at, actor, action, object_type, object_id, project_id, client_address,
client_agent, outcome, summary and prev_hash, and canonical JSON is
``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded
as UTF-8. The first record's ``prev_hash`` is 64 zeros. Anyone holding an export can
recompute the chain with those two lines (:func:`compute_hash` does exactly that).

A chain shows that records were altered, removed or slipped in by someone who did not
also re-hash every later record and the ``audit_head`` row. It cannot stop a database
superuser from rewriting everything; to rule that out too, copy the head hash that
``verify`` reports to storage the database cannot reach (a ticket, a signed e-mail, WORM
storage): a rewritten trail no longer reaches that hash.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal, TextIO

from sqlalchemy import Connection, String, select, text

from modelyard.audit.tables import audit_head, audit_log
from modelyard.core.db import Database
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.core.secrets import is_sensitive_key

GENESIS_HASH = "0" * 64
PAGE_SIZE = 10_000
REDACTED = "[redacted]"
OUTCOMES = frozenset({"ok", "denied", "failed"})
COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "project_id",
    "client_address",
    "client_agent",
    "outcome",
    "summary",
    "prev_hash",
    "hash",
)
HASHED_FIELDS = COLUMNS[:-1]
# One advisory lock key ("audit") serialises appends on PostgreSQL.
_PG_LOCK_KEY = 0x6175646974
# Key markers, matched on the key lowercased with every non-alphanumeric removed, so
# "api_key", "X-Api-Key", "clientSecret" and "sessiontoken" all match.

# Built once: statements executed with plain parameter dicts skip SQLAlchemy's per-call
# statement construction, which otherwise costs more than the SQL itself on SQLite.
_INSERT_RECORD = audit_log.insert()
_INSERT_HEAD = audit_head.insert()
_UPDATE_HEAD = audit_head.update().where(audit_head.c.id == 1)
_SELECT_HEAD = select(audit_head.c.last_seq, audit_head.c.last_hash).where(audit_head.c.id == 1)
_SELECT_LAST = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)

Outcome = Literal["ok", "denied", "failed"]
ExportFormat = Literal["jsonl", "csv"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit record, hashes included."""

    seq: int
    at: int
    actor: str
    action: str
    object_type: str
    object_id: str
    project_id: str | None
    client_address: str
    client_agent: str
    outcome: str
    summary: Any
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        """All columns, in export order."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify_chain` found.

    Attributes:
        ok: True when the whole trail is intact.
        records: records checked and found sound (all of them when ``ok``).
        first_bad_seq: the first record that is missing, altered or out of place.
        problem: one sentence naming that record and what is wrong with it.
        last_hash: hash of the last record when ``ok``; keep a copy outside the database.
    """

    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None
    last_hash: str | None = None


def scrub(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with every sensitive key's value replaced by ``"[redacted]"``.

    Recurses through dicts and lists at any depth. Keys become strings, tuples and sets
    become lists, NaN and infinities become strings and any other object its ``str()``,
    so that what is hashed is exactly what the database gives back.
    """
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_sensitive_key(k) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return _clean(str(value))


def canonical_json(value: Any) -> str:
    """The one JSON spelling hashes are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(record: Mapping[Any, Any]) -> str:
    """``sha256(prev_hash + canonical_json(fields))`` of a record (a row or a parsed export line)."""
    fields = {name: record[name] for name in HASHED_FIELDS}
    payload = str(record["prev_hash"]) + canonical_json(fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    project_id: str | None = None,
    client_address: str = "",
    client_agent: str = "",
    outcome: Outcome = "ok",
    summary: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one record inside the caller's write transaction and return it.

    ``conn`` comes from ``Database.write()``: the record commits or rolls back with the
    change it describes. Appends are serialised so the chain cannot fork: SQLite write
    transactions already run one at a time (``BEGIN IMMEDIATE``); on PostgreSQL a
    transaction-scoped advisory lock is taken first and held until the caller commits, so
    append as late in the transaction as possible.

    ``seq`` is allocated as the head's last seq + 1 under that lock, in one INSERT with
    the hash already computed, rather than from an autoincrement sequence: PostgreSQL
    sequences skip the numbers of rolled-back transactions, and a gap must only ever mean
    a deleted record. The previous hash is read from ``audit_head``, not from the table,
    so a deleted tail stays visible as a gap after later appends.

    ``summary`` is scrubbed by :func:`scrub`: the value of any key naming a secret, token,
    password, authorization or API key, at any depth, is stored as ``"[redacted]"``.
    Text longer than its column is cut to fit rather than failing the caller's change.

    Raises:
        ValueError: ``outcome`` is not "ok", "denied" or "failed".
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}, not {outcome!r}")
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last_seq, last_hash = _head(conn)
    fields: dict[str, Any] = {
        "seq": last_seq + 1,
        "at": now_ms(),
        "actor": _fit("actor", actor),
        "action": _fit("action", action),
        "object_type": _fit("object_type", object_type),
        "object_id": _fit("object_id", object_id),
        "project_id": _fit("project_id", project_id) if project_id else None,
        "client_address": _fit("client_address", client_address),
        "client_agent": _fit("client_agent", client_agent),
        "outcome": outcome,
        "summary": None if summary is None else scrub(summary),
        "prev_hash": last_hash,
    }
    fields["hash"] = compute_hash(fields)
    conn.execute(_INSERT_RECORD, fields)
    head = {"last_seq": fields["seq"], "last_hash": fields["hash"]}
    if conn.execute(_UPDATE_HEAD, head).rowcount == 0:
        conn.execute(_INSERT_HEAD, {"id": 1, **head})
    return AuditRecord(**fields)


def verify_chain(conn_or_db: Connection | Database) -> VerifyResult:
    """Recompute the chain in seq order, streaming, and report the first problem.

    Reads in pages of 10,000 records. Given a ``Database`` it reads one consistent
    snapshot (REPEATABLE READ on PostgreSQL), so appends running meanwhile are not taken
    for tampering; given a connection, the caller's transaction decides.
    """
    with _reading(conn_or_db) as conn:
        prev_seq, prev_hash, count = 0, GENESIS_HASH, 0
        for row in _rows(conn):
            found = _check_link(row, prev_seq, prev_hash)
            if found is not None:
                return VerifyResult(ok=False, records=count, first_bad_seq=found[0], problem=found[1])
            prev_seq, prev_hash, count = row.seq, row.hash, count + 1
        head = conn.execute(_SELECT_HEAD).first()
    at_end = _check_head(head, prev_seq, prev_hash, count)
    if at_end is not None:
        return VerifyResult(ok=False, records=count, first_bad_seq=at_end[0], problem=at_end[1])
    return VerifyResult(ok=True, records=count, last_hash=prev_hash if count else None)


def export_audit(
    conn_or_db: Connection | Database, *, since_ms: int | None, fmt: ExportFormat, out: TextIO
) -> int:
    """Stream records (from ``since_ms`` on, in seq order) to ``out``; return how many.

    Every column is written, hashes included, so the export can be re-verified with
    :func:`compute_hash` alone. ``jsonl``: one JSON object per line. ``csv``: a header row,
    then one row per record; an empty ``project_id`` cell means null and ``summary`` holds
    the record's canonical JSON.

    Raises:
        InvalidArgument: ``fmt`` is neither "jsonl" nor "csv".
    """
    if fmt not in ("jsonl", "csv"):
        raise InvalidArgument(f"Unknown export format {fmt!r}: use jsonl or csv.")
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    count = 0
    with _reading(conn_or_db) as conn:
        for row in _rows(conn, since_ms=since_ms):
            record = dict(row._mapping)
            if writer is None:
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            else:
                record["project_id"] = record["project_id"] or ""
                record["summary"] = canonical_json(record["summary"])
                writer.writerow([record[c] for c in COLUMNS])
            count += 1
    return count


def _head(conn: Connection) -> tuple[int, str]:
    """The last seq and hash; from the table when the head row is missing (then genesis)."""
    row = conn.execute(_SELECT_HEAD).first()
    if row is None:
        row = conn.execute(_SELECT_LAST).first()
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)


def _check_link(row: Any, prev_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """(first bad seq, problem) when ``row`` does not soundly follow the previous record."""
    expected = prev_seq + 1
    after = f"record {prev_seq}" if prev_seq else "the start of the trail"
    if row.seq < expected:
        return row.seq, f"record {row.seq} does not follow {after} (inserted or reordered)"
    if row.seq > expected:
        if row.seq == expected + 1:
            return expected, f"record {expected} is missing (deleted)"
        return expected, f"records {expected} to {row.seq - 1} are missing (deleted)"
    if compute_hash(row._mapping) != row.hash:
        return row.seq, f"record {row.seq} was altered: its contents do not match its hash"
    if row.prev_hash != prev_hash:
        rehashed = f", or record {prev_seq} was altered and re-hashed" if prev_seq else ""
        return row.seq, f"record {row.seq} does not follow {after} (inserted or reordered{rehashed})"
    return None


def _check_head(head: Any | None, last_seq: int, last_hash: str, count: int) -> tuple[int | None, str] | None:
    """(first bad seq, problem) when the table's end does not match ``audit_head``."""
    if head is None:
        if count == 0:
            return None
        return None, "the audit head is missing, so records deleted from the end cannot be ruled out"
    head_seq, head_hash = int(head.last_seq), str(head.last_hash)
    ends = f"table ends at {last_seq}" if count else "the table is empty"
    if head_seq > last_seq:
        lost = head_seq - last_seq
        what = "the last record was" if lost == 1 else f"the last {lost} records were"
        return last_seq + 1, f"{what} deleted (head says {head_seq}, {ends})"
    if head_seq < last_seq:
        extra = (
            f"record {last_seq} was"
            if last_seq == head_seq + 1
            else f"records {head_seq + 1} to {last_seq} were"
        )
        return head_seq + 1, f"{extra} added outside Modelyard or forged (head says {head_seq}, {ends})"
    if head_hash != last_hash:
        return (
            last_seq,
            f"record {last_seq} does not match the audit head (altered and re-hashed, or replaced)",
        )
    return None


def _rows(conn: Connection, *, since_ms: int | None = None) -> Iterator[Any]:
    """All records in seq order, fetched in pages (keyset pagination, bounded memory)."""
    after: int | None = None
    while True:
        query = select(*(audit_log.c[c] for c in COLUMNS)).order_by(audit_log.c.seq).limit(PAGE_SIZE)
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        if since_ms is not None:
            query = query.where(audit_log.c.at >= since_ms)
        page = conn.execute(query).all()
        yield from page
        if len(page) < PAGE_SIZE:
            return
        after = page[-1].seq


@contextmanager
def _reading(conn_or_db: Connection | Database) -> Iterator[Connection]:
    """The caller's connection, or a read transaction over one snapshot of the database."""
    if isinstance(conn_or_db, Connection):
        yield conn_or_db
        return
    engine = conn_or_db.engine
    with engine.connect() as raw:
        conn = raw
        if engine.dialect.name == "postgresql":
            conn = raw.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _fit(column: str, value: object) -> str:
    """``value`` as clean text no longer than its column (user agents and paths can be long)."""
    col_type = audit_log.c[column].type
    length = col_type.length if isinstance(col_type, String) else None
    cleaned = _clean(str(value))
    return cleaned[:length] if length else cleaned


def _clean(value: str) -> str:
    """Text both databases store verbatim: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value
