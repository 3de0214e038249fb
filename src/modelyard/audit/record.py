"""One call for every state change: an audit record, and an event for webhooks and subscribers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.audit.chain import append_audit
from modelyard.core.context import client_context
from modelyard.events.service import record_event


def record_change(
    conn: Connection,
    *,
    type: str,
    project_id: str | None,
    subject_type: str,
    subject_id: str,
    actor: str,
    payload: dict[str, Any],
    notify: bool = True,
) -> None:
    """Audit a change inside the caller's write transaction; with ``notify``, also emit it as an event.

    Both commit or roll back with the change itself, so the trail never misses a change
    that happened and never records one that did not.
    """
    ctx = client_context.get()
    actor = actor or ctx.user
    append_audit(
        conn,
        actor=actor,
        action=type,
        object_type=subject_type,
        object_id=subject_id,
        project_id=project_id,
        client_address=ctx.address,
        client_agent=ctx.agent,
        summary=payload,
    )
    if notify:
        record_event(
            conn,
            type=type,
            project_id=project_id,
            subject_type=subject_type,
            subject_id=subject_id,
            actor=actor,
            payload=payload,
        )
