"""REST routes for project membership."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from modelyard.access.service import AccessService
from modelyard.core.auth import Caller, require
from modelyard.server.deps import json_response

router = APIRouter(prefix="/api/v1/projects/{project}/members", tags=["access"])


class SetRole(BaseModel):
    """Body of ``PUT /api/v1/projects/{project}/members/{user}``."""

    role: str


def access(request: Request) -> AccessService:
    """The membership service."""
    return request.app.state.access  # type: ignore[no-any-return]


@router.get("", dependencies=[Depends(require("project.read"))])
def list_members(project: str, svc: AccessService = Depends(access)) -> Response:
    """Who holds which role in the project."""
    return json_response([m.model_dump() for m in svc.list_members(project=project)])


@router.put("/{user}")
def set_member(
    project: str,
    user: str,
    body: SetRole,
    svc: AccessService = Depends(access),
    caller: Caller = Depends(require("project.members")),
) -> Response:
    """Give a user a role: viewer, contributor, maintainer, validator or owner."""
    return json_response(
        svc.set_member(project=project, user=user, role=body.role, actor=caller.name).model_dump()
    )


@router.delete("/{user}", status_code=204)
def remove_member(
    project: str,
    user: str,
    svc: AccessService = Depends(access),
    caller: Caller = Depends(require("project.members")),
) -> Response:
    """Take a user out of the project."""
    svc.remove_member(project=project, user=user, actor=caller.name)
    return Response(status_code=204)
