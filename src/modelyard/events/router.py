"""REST routes for the event log and webhooks.

Permissions follow ``modelyard.access.roles``: ``events.read`` to read the log,
``webhooks.manage`` for a project's webhooks, and global webhooks (no project: every
project's events) are for administrators only (``webhooks.global``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from modelyard.core.auth import Caller, require
from modelyard.core.errors import PermissionDenied
from modelyard.events.schemas import CreatedWebhook, CreateWebhook
from modelyard.events.service import MAX_LIST_LIMIT, EventService
from modelyard.events.webhooks import MAX_DELIVERIES_LIMIT, WebhookService
from modelyard.projects.service import ProjectService
from modelyard.server.deps import json_response

router = APIRouter(prefix="/api/v1", tags=["events"])


def event_service(request: Request) -> EventService:
    """The event log service."""
    return request.app.state.events  # type: ignore[no-any-return]


def webhook_service(request: Request) -> WebhookService:
    """The webhook service."""
    return request.app.state.webhooks  # type: ignore[no-any-return]


def _require_admin_for_global(caller: Caller, project: str | None) -> None:
    if not project and not caller.is_admin:
        raise PermissionDenied(
            "Permission 'webhooks.global' is needed for webhooks without a project; only administrators "
            "have it. Name a project to manage its webhooks."
        )


def _project_id(request: Request, ref: str | None) -> str | None:
    if not ref:
        return None
    return ProjectService(request.app.state.store.db).get_project(ref).id


@router.get("/events", dependencies=[Depends(require("events.read"))])
def list_events(
    request: Request,
    project: str | None = None,
    type: str | None = None,
    after_id: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1, le=MAX_LIST_LIMIT),
    svc: EventService = Depends(event_service),
) -> Response:
    """Events after ``after_id``, oldest first; filter by project (name or id) and type (``run.*``)."""
    found = svc.list_events(
        project_id=_project_id(request, project), type=type, after_id=after_id, limit=limit
    )
    return json_response([e.model_dump() for e in found])


@router.post("/webhooks", status_code=201)
def create_webhook(
    request: Request,
    body: CreateWebhook,
    svc: WebhookService = Depends(webhook_service),
    caller: Caller = Depends(require("webhooks.manage")),
) -> Response:
    """Create a webhook. The answer holds its signing secret; it is never shown again."""
    _require_admin_for_global(caller, body.project)
    hook, secret = svc.create_webhook(
        url=body.url,
        project_id=_project_id(request, body.project),
        event_types=body.event_types,
        created_by=caller.name,
        secret=body.secret,
    )
    return json_response(CreatedWebhook(**hook.model_dump(), secret=secret).model_dump(), 201)


@router.get("/webhooks")
def list_webhooks(
    request: Request,
    project: str | None = None,
    svc: WebhookService = Depends(webhook_service),
    caller: Caller = Depends(require("webhooks.manage")),
) -> Response:
    """A project's webhooks, or the global ones when no project is given (never their secrets)."""
    _require_admin_for_global(caller, project)
    return json_response([h.model_dump() for h in svc.list_webhooks(_project_id(request, project))])


@router.delete("/webhooks/{webhook_id}", status_code=204, dependencies=[Depends(require("webhooks.manage"))])
def delete_webhook(webhook_id: str, svc: WebhookService = Depends(webhook_service)) -> Response:
    """Delete a webhook and its delivery history."""
    svc.delete_webhook(webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", dependencies=[Depends(require("webhooks.manage"))])
def list_deliveries(
    webhook_id: str,
    limit: int = Query(default=100, ge=1, le=MAX_DELIVERIES_LIMIT),
    svc: WebhookService = Depends(webhook_service),
) -> Response:
    """A webhook's recent deliveries with status, attempts and the last error, newest first."""
    return json_response([d.model_dump() for d in svc.list_deliveries(webhook_id, limit)])


@router.post("/webhooks/{webhook_id}/test", status_code=202)
def test_webhook(
    webhook_id: str,
    svc: WebhookService = Depends(webhook_service),
    caller: Caller = Depends(require("webhooks.manage")),
) -> Response:
    """Queue a ``webhook.test`` event for this webhook; the answer is the pending delivery."""
    return json_response(svc.test_webhook(webhook_id, actor=caller.name).model_dump(), 202)
