"""REST routes for deployments (the management side; the serving process answers predictions)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from modelyard.core.auth import Caller, require
from modelyard.server.deps import json_response
from modelyard.serving.schemas import CanaryProgress, CreateDeployment, DeploymentSpec
from modelyard.serving.service import DeploymentService

router = APIRouter(prefix="/api/v1", tags=["deployments"])


def deployments(request: Request) -> DeploymentService:
    """The deployment service."""
    return request.app.state.deployments  # type: ignore[no-any-return]


class RollbackBody(BaseModel):
    """Body of ``POST /api/v1/deployments/{deployment}/rollback``."""

    revision: int | None = Field(default=None, ge=1, description="default: the previous revision")
    reason: str = Field(default="", max_length=5_000)


@router.post("/projects/{project}/deployments", status_code=201)
def create_deployment(
    project: str,
    body: CreateDeployment,
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Create a deployment of a registered model (production ones must pass governance)."""
    return json_response(
        svc.create(project=project, body=body, actor=caller.name).model_dump(mode="json"), 201
    )


@router.get("/projects/{project}/deployments", dependencies=[Depends(require("deployments.read"))])
def list_project_deployments(project: str, svc: DeploymentService = Depends(deployments)) -> Response:
    """A project's active deployments."""
    return json_response([d.model_dump(mode="json") for d in svc.list(project=project)])


@router.get("/deployments")
def list_deployments(
    request: Request,
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("projects.list")),
) -> Response:
    """Every active deployment the caller can see (what a serving process hosts)."""
    found = svc.list()
    if caller.user_id is not None and not (caller.is_admin or caller.is_auditor):
        mine = set(request.app.state.access.project_ids_of(caller.user_id))
        found = [d for d in found if d.project_id in mine]
    return json_response([d.model_dump(mode="json") for d in found])


@router.get("/deployments/{deployment}", dependencies=[Depends(require("deployments.read"))])
def get_deployment(deployment: str, svc: DeploymentService = Depends(deployments)) -> Response:
    """One deployment."""
    return json_response(svc.get(deployment).model_dump(mode="json"))


@router.put("/deployments/{deployment}")
def update_deployment(
    deployment: str,
    body: DeploymentSpec,
    reason: str = "",
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Replace a deployment's spec; the serving process picks the change up without a restart."""
    return json_response(
        svc.update(deployment, body, actor=caller.name, reason=reason).model_dump(mode="json")
    )


@router.post("/deployments/{deployment}/rollback")
def rollback_deployment(
    deployment: str,
    body: RollbackBody,
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Return to an earlier revision (the previous one by default)."""
    d = svc.rollback(deployment, revision=body.revision, actor=caller.name, reason=body.reason)
    return json_response(d.model_dump(mode="json"))


@router.delete("/deployments/{deployment}", status_code=204)
def delete_deployment(
    deployment: str,
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """Stop serving a deployment; its history stays."""
    svc.delete(deployment, actor=caller.name)
    return Response(status_code=204)


@router.get("/deployments/{deployment}/history", dependencies=[Depends(require("deployments.read"))])
def deployment_history(deployment: str, svc: DeploymentService = Depends(deployments)) -> Response:
    """Every revision of a deployment's spec."""
    return json_response([r.model_dump(mode="json") for r in svc.history(deployment)])


@router.post("/deployments/{deployment}/canary")
def report_canary(
    deployment: str,
    body: CanaryProgress,
    svc: DeploymentService = Depends(deployments),
    caller: Caller = Depends(require("deployments.write")),
) -> Response:
    """The serving process reports a canary step, roll-back or completion."""
    return json_response(svc.report_canary(deployment, body, actor=caller.name).model_dump(mode="json"))
