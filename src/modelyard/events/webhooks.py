"""Managing webhooks: create (with SSRF checks), list, delete, test, and their deliveries."""

from __future__ import annotations

import re
import secrets as _secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from modelyard.core.db import Database
from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.core.ids import new_id, now_ms
from modelyard.core.net import check_outbound_url
from modelyard.core.settings import Settings
from modelyard.events.schemas import EVENT_TYPE_PATTERN, MAX_EVENT_TYPES, Webhook, WebhookDelivery
from modelyard.events.service import enqueue_deliveries, insert_event
from modelyard.events.tables import events, webhook_deliveries, webhooks

MAX_DELIVERIES_LIMIT = 1000
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
_WEBHOOK_COLUMNS = [c for c in webhooks.c if c.name != "secret"]


def _check_event_types(event_types: list[str] | tuple[str, ...]) -> list[str]:
    types = list(event_types)
    if len(types) > MAX_EVENT_TYPES:
        raise InvalidArgument(f"A webhook can name at most {MAX_EVENT_TYPES} event types; got {len(types)}.")
    for t in types:
        if not isinstance(t, str) or len(t) > 100 or not _EVENT_TYPE.match(t):
            raise InvalidArgument(
                f"Event type {t!r} is not valid: use a dotted name such as 'model_version.created', "
                "a family such as 'run.*', or '*' for all."
            )
    return sorted(set(types))


class WebhookService:
    """Webhooks and their delivery history. The secret is returned once, at creation."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def create_webhook(
        self,
        *,
        url: str,
        project_id: str | None = None,
        event_types: list[str] | tuple[str, ...] = (),
        created_by: str = "",
        secret: str | None = None,
    ) -> tuple[Webhook, str]:
        """Create a webhook; returns it and its signing secret (shown only this once).

        Args:
            url: The http(s) URL to POST events to; private addresses are refused unless
                ``allow_private_webhooks`` is set.
            project_id: The project whose events it receives; None for every project.
            event_types: Types or families (``"run.*"``) to send; empty for all.
            created_by: Who created it.
            secret: The HMAC key; a random 32-byte URL-safe one when None.
        """
        check_outbound_url(url, allow_private=self.settings.allow_private_webhooks)
        types = _check_event_types(event_types)
        if secret is None:
            secret = _secrets.token_urlsafe(32)
        elif not isinstance(secret, str) or not 16 <= len(secret) <= 200:
            raise InvalidArgument("A webhook secret must be 16-200 characters long.")
        row: dict[str, Any] = {
            "id": new_id(),
            "project_id": project_id,
            "url": url,
            "event_types": types,
            "active": True,
            "created_by": created_by,
            "created_at": now_ms(),
        }
        try:
            with self.db.write() as conn:
                conn.execute(webhooks.insert().values(**row, secret=secret))
        except IntegrityError as exc:
            raise NotFound(f"No project with id {project_id!r}.") from exc
        return Webhook(**row), secret

    def get_webhook(self, webhook_id: str) -> Webhook:
        """A webhook by id (without its secret)."""
        with self.db.read() as conn:
            row = (
                conn.execute(select(*_WEBHOOK_COLUMNS).where(webhooks.c.id == webhook_id)).mappings().first()
            )
        if row is None:
            raise NotFound(f"No webhook with id {webhook_id!r}.")
        return Webhook(**row)

    def list_webhooks(self, project_id: str | None = None) -> list[Webhook]:
        """Webhooks for one project (``project_id``) or the global ones (None), oldest first."""
        cond = webhooks.c.project_id.is_(None) if project_id is None else webhooks.c.project_id == project_id
        with self.db.read() as conn:
            rows = (
                conn.execute(
                    select(*_WEBHOOK_COLUMNS).where(cond).order_by(webhooks.c.created_at, webhooks.c.id)
                )
                .mappings()
                .all()
            )
        return [Webhook(**r) for r in rows]

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook and its delivery history."""
        with self.db.write() as conn:
            conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
            if conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id)).rowcount == 0:
                raise NotFound(f"No webhook with id {webhook_id!r}.")

    def list_deliveries(self, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        """A webhook's most recent deliveries, newest first."""
        if not 1 <= limit <= MAX_DELIVERIES_LIMIT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_DELIVERIES_LIMIT}; got {limit}.")
        self.get_webhook(webhook_id)
        stmt = (
            select(webhook_deliveries, events.c.type.label("event_type"))
            .join(events, events.c.id == webhook_deliveries.c.event_id)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [WebhookDelivery(**r) for r in rows]

    def test_webhook(self, webhook_id: str, *, actor: str = "") -> WebhookDelivery:
        """Record a ``webhook.test`` event and queue it for this webhook only (whatever its filters)."""
        hook = self.get_webhook(webhook_id)
        with self.db.write() as conn:
            event_id, at = insert_event(
                conn,
                type="webhook.test",
                project_id=hook.project_id,
                subject_type="webhook",
                subject_id=hook.id,
                actor=actor,
                payload={"message": "Test delivery from Modelyard."},
            )
            enqueue_deliveries(conn, event_id, [hook.id], at)
        return next(d for d in self.list_deliveries(webhook_id, limit=10) if d.event_id == event_id)
