"""REST routes for reference profiles, monitors, their runs, health, alert rules and alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from modelyard.core.auth import Caller, require
from modelyard.monitoring.schemas import CreateAlertRule, CreateMonitor
from modelyard.monitoring.service import MonitorService
from modelyard.registry.router import _version
from modelyard.server.deps import json_body, json_response, registry

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


def monitoring(request: Request) -> MonitorService:
    """The monitoring service."""
    return request.app.state.monitoring  # type: ignore[no-any-return]


class RunBody(BaseModel):
    """Body of ``POST .../monitors/{monitor}/run``."""

    window: str | None = Field(default=None, description="override, e.g. '24h' or '50000 rows'")


@router.put("/projects/{project}/models/{name}/versions/{version}/reference", status_code=204)
async def put_reference(
    project: str,
    name: str,
    version: str,
    request: Request,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Store a version's reference profile (built client-side by ``build_profile``)."""
    profile: Any = await json_body(request)
    v = await run_in_threadpool(_version, registry(request), project, name, version)
    await run_in_threadpool(svc.references.put, v, profile, actor=caller.name)
    return Response(status_code=204)


@router.get("/projects/{project}/models/{name}/versions/{version}/reference")
def get_reference(
    project: str,
    name: str,
    version: str,
    request: Request,
    svc: MonitorService = Depends(monitoring),
    _: Caller = Depends(require("models.read")),
) -> Response:
    """A version's reference profile (null when it has none)."""
    return json_response(svc.references.get(_version(registry(request), project, name, version)))


@router.post("/deployments/{deployment}/monitors", status_code=201)
def create_monitor(
    deployment: str,
    body: CreateMonitor,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Add a monitor to a deployment (with a cron ``schedule`` it runs by itself)."""
    return json_response(svc.create(deployment, body, actor=caller.name).model_dump(mode="json"), 201)


@router.get("/deployments/{deployment}/monitors", dependencies=[Depends(require("deployments.read"))])
def list_monitors(deployment: str, svc: MonitorService = Depends(monitoring)) -> Response:
    """A deployment's monitors."""
    return json_response([m.model_dump(mode="json") for m in svc.list(deployment)])


@router.delete("/deployments/{deployment}/monitors/{monitor}", status_code=204)
def delete_monitor(
    deployment: str,
    monitor: str,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Remove a monitor and its history."""
    svc.delete(deployment, monitor, actor=caller.name)
    return Response(status_code=204)


@router.post("/deployments/{deployment}/monitors/{monitor}/run")
def run_monitor(
    deployment: str,
    monitor: str,
    body: RunBody,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Run a monitor now over its window (or ``window``); the result is kept in its history."""
    run = svc.run(deployment, monitor, window=body.window, actor=caller.name)
    return json_response(run.model_dump(mode="json"))


@router.get("/deployments/{deployment}/monitor-runs", dependencies=[Depends(require("deployments.read"))])
def monitor_runs(
    deployment: str,
    monitor: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    svc: MonitorService = Depends(monitoring),
) -> Response:
    """Recent monitor runs with their full results, newest first."""
    return json_response(
        [r.model_dump(mode="json") for r in svc.runs(deployment, monitor=monitor, limit=limit)]
    )


@router.get("/deployments/{deployment}/health", dependencies=[Depends(require("deployments.read"))])
def deployment_health(deployment: str, svc: MonitorService = Depends(monitoring)) -> Response:
    """Green, yellow or red: the worst of the latest run of each monitor."""
    return json_response(svc.health(deployment).model_dump(mode="json"))


@router.get("/deployments/{deployment}/report", dependencies=[Depends(require("deployments.read"))])
def monitoring_report(
    deployment: str, limit: int = Query(200, ge=1, le=5_000), svc: MonitorService = Depends(monitoring)
) -> HTMLResponse:
    """A self-contained HTML report of the deployment's monitor history."""
    from modelyard.monitoring.report import render_report

    html = render_report(deployment, svc.runs(deployment, limit=limit), svc.health(deployment))
    return HTMLResponse(
        html, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )


@router.post("/deployments/{deployment}/alert-rules", status_code=201)
def create_alert_rule(
    deployment: str,
    body: CreateAlertRule,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Alert when a monitor value meets a condition, e.g. ``drift.share >= 0.5``."""
    return json_response(svc.create_rule(deployment, body, actor=caller.name).model_dump(mode="json"), 201)


@router.get("/deployments/{deployment}/alert-rules", dependencies=[Depends(require("deployments.read"))])
def list_alert_rules(deployment: str, svc: MonitorService = Depends(monitoring)) -> Response:
    """A deployment's alert rules."""
    return json_response([r.model_dump(mode="json") for r in svc.rules(deployment)])


@router.delete("/deployments/{deployment}/alert-rules/{rule}", status_code=204)
def delete_alert_rule(
    deployment: str,
    rule: str,
    svc: MonitorService = Depends(monitoring),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Remove an alert rule."""
    svc.delete_rule(deployment, rule, actor=caller.name)
    return Response(status_code=204)


@router.get("/deployments/{deployment}/alerts", dependencies=[Depends(require("deployments.read"))])
def list_alerts(
    deployment: str, state: str | None = None, svc: MonitorService = Depends(monitoring)
) -> Response:
    """A deployment's alerts (``state``: firing or resolved), newest first."""
    return json_response([a.model_dump(mode="json") for a in svc.alerts(deployment, state=state)])
