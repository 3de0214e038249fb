"""Request and response shapes for events, webhooks and deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# "model_version.created", "run.*" (every run event) or "*" (everything).
EVENT_TYPE_PATTERN = r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$"
MAX_EVENT_TYPES = 50

DeliveryStatus = Literal["pending", "delivered", "failed"]


class Event(BaseModel):
    """One recorded state change."""

    id: int
    type: str
    project_id: str | None = None
    subject_type: str
    subject_id: str
    actor: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: int


class Webhook(BaseModel):
    """A URL that receives events; its secret is never part of this shape."""

    id: str
    project_id: str | None = None
    url: str
    event_types: list[str] = Field(default_factory=list)
    active: bool = True
    created_by: str = ""
    created_at: int


class CreatedWebhook(Webhook):
    """The answer to creating a webhook: the only time its secret is shown."""

    secret: str


class WebhookDelivery(BaseModel):
    """One event's delivery to one webhook, with its retry state."""

    id: int
    webhook_id: str
    event_id: int
    event_type: str
    status: DeliveryStatus
    attempts: int = 0
    next_attempt_at: int
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: int | None = None


class CreateWebhook(BaseModel):
    """Body of ``POST /api/v1/webhooks``."""

    url: str = Field(min_length=1, max_length=2000)
    project: str | None = Field(default=None, description="Project name or id; omit for all projects.")
    event_types: list[str] = Field(
        default_factory=list,
        max_length=MAX_EVENT_TYPES,
        description="Event types to send, e.g. 'model_version.created' or 'run.*'; empty for all.",
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC signing key; omit to have the server generate one (shown once).",
    )
