"""Recording events and reading the event log.

Services call :func:`record_event` inside their own write transaction, so an event (and
the webhook deliveries it fans out to) exists exactly when the state change committed:
a rolled-back change leaves neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select

from modelyard.core.db import Database
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.core.secrets import is_sensitive_key
from modelyard.events.schemas import Event
from modelyard.events.tables import events, webhook_deliveries, webhooks

MAX_LIST_LIMIT = 1000


def scrub_payload(value: Any) -> Any:
    """A copy of ``value`` with every sensitive key removed, at any depth (dicts in lists too)."""
    if isinstance(value, dict):
        return {k: scrub_payload(v) for k, v in value.items() if not is_sensitive_key(k)}
    if isinstance(value, list | tuple):
        return [scrub_payload(v) for v in value]
    return value


def type_matches(event_type: str, patterns: Iterable[str]) -> bool:
    """Whether a webhook subscribed to ``patterns`` wants ``event_type``.

    An empty list or ``"*"`` matches everything; ``"run.*"`` matches every type starting
    with ``"run."``; anything else must be equal.
    """
    patterns = list(patterns)
    if not patterns:
        return True
    for p in patterns:
        if p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False


def insert_event(
    conn: Connection,
    *,
    type: str,
    project_id: str | None,
    subject_type: str,
    subject_id: str,
    actor: str,
    payload: dict[str, Any],
) -> tuple[int, int]:
    """Insert one scrubbed event (no deliveries); returns its id and timestamp."""
    if not isinstance(type, str) or not type or len(type) > 100:
        raise InvalidArgument(f"Event type {type!r} must be a string of 1-100 characters.")
    if not isinstance(payload, dict):
        raise InvalidArgument("An event payload must be a JSON object (a dict).")
    created_at = now_ms()
    result = conn.execute(
        events.insert().values(
            type=type,
            project_id=project_id,
            subject_type=subject_type,
            subject_id=str(subject_id),
            actor=actor or "",
            payload=scrub_payload(payload),
            created_at=created_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0]), created_at


def enqueue_deliveries(conn: Connection, event_id: int, webhook_ids: Sequence[str], at: int) -> None:
    """Queue one pending delivery of an event per webhook, due at ``at``."""
    if webhook_ids:
        conn.execute(
            webhook_deliveries.insert(),
            [
                {
                    "webhook_id": wid,
                    "event_id": event_id,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                }
                for wid in webhook_ids
            ],
        )


def record_event(
    conn: Connection,
    *,
    type: str,
    project_id: str | None,
    subject_type: str,
    subject_id: str,
    actor: str,
    payload: dict[str, Any],
) -> int:
    """Record an event and queue it for every matching webhook, in the caller's transaction.

    Call it inside the ``Database.write()`` transaction that makes the state change. The
    event goes to every active webhook of the event's project and every global webhook
    (``project_id`` NULL) whose event types match.

    Secrets never reach the log or a webhook: payload keys named like a secret (whole
    words secret, token, password, passwd, pwd, credential, authorization, or apiKey /
    privateKey / accessKey, in any case and at any depth) are removed before storing.
    See :func:`is_sensitive_key`.

    Args:
        conn: The caller's write-transaction connection.
        type: Dotted event type, e.g. ``"model_version.created"``.
        project_id: The project the change belongs to, or None for server-wide changes.
        subject_type: What changed, e.g. ``"model_version"``.
        subject_id: Its id.
        actor: Who made the change.
        payload: JSON-serializable details.

    Returns:
        The new event's id.
    """
    event_id, created_at = insert_event(
        conn,
        type=type,
        project_id=project_id,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        payload=payload,
    )
    scope: ColumnElement[bool] = webhooks.c.project_id.is_(None)
    if project_id is not None:
        scope = or_(scope, webhooks.c.project_id == project_id)
    rows = conn.execute(
        select(webhooks.c.id, webhooks.c.event_types).where(webhooks.c.active.is_(True), scope)
    ).all()
    enqueue_deliveries(
        conn, event_id, [r.id for r in rows if type_matches(type, r.event_types or [])], created_at
    )
    return event_id


class EventService:
    """Reads the event log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list_events(
        self, project_id: str | None = None, type: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[Event]:
        """Events with ids above ``after_id``, oldest first.

        Args:
            project_id: Only this project's events.
            type: Only this type; ``"run.*"`` for a family of types.
            after_id: Resume after the last id seen (for polling).
            limit: At most this many (1-1000).
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_LIST_LIMIT}; got {limit}.")
        stmt = select(events).where(events.c.id > after_id)
        if project_id is not None:
            stmt = stmt.where(events.c.project_id == project_id)
        if type:
            if type.endswith(".*"):
                stmt = stmt.where(events.c.type.startswith(type[:-1], autoescape=True))
            elif type != "*":
                stmt = stmt.where(events.c.type == type)
        with self.db.read() as conn:
            rows = conn.execute(stmt.order_by(events.c.id).limit(limit)).mappings().all()
        return [Event(**r) for r in rows]
