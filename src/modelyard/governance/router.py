"""REST routes for policies, promotion requests, reviews and named checks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from modelyard.core.auth import Caller, require
from modelyard.governance.policy import dump_policy
from modelyard.governance.schemas import CheckResult, CreatePromotion, ReviewBody
from modelyard.governance.service import GovernanceService
from modelyard.server.deps import json_response

router = APIRouter(prefix="/api/v1", tags=["governance"])


def governance(request: Request) -> GovernanceService:
    """The governance service."""
    return request.app.state.governance  # type: ignore[no-any-return]


def reviewer_roles(caller: Caller) -> set[str]:
    """The roles a caller reviews with: their project role (an admin holds none by default)."""
    return {caller.role} if caller.role else ({"admin"} if caller.is_admin else set())


@router.get("/governance/policies", dependencies=[Depends(require("governance.policies.read"))])
def get_policies(svc: GovernanceService = Depends(governance)) -> Response:
    """The promotion policy of every risk tier, as YAML."""
    text = "".join(dump_policy(t, p) for t, p in svc.policies().items())
    return Response(text, media_type="application/yaml")


@router.put("/governance/policies")
async def put_policies(
    request: Request,
    svc: GovernanceService = Depends(governance),
    caller: Caller = Depends(require("governance.policies")),
) -> Response:
    """Replace the policies of the tiers the YAML body names (admins only)."""
    document = (await request.body()).decode("utf-8", errors="replace")
    merged = await run_in_threadpool(svc.set_policies, document, actor=caller.name)
    return Response("".join(dump_policy(t, p) for t, p in merged.items()), media_type="application/yaml")


@router.post("/projects/{project}/promotions", status_code=201)
def request_promotion(
    project: str,
    body: CreatePromotion,
    svc: GovernanceService = Depends(governance),
    caller: Caller = Depends(require("governance.request")),
) -> Response:
    """Ask for a protected alias to move to a version; reviewers are notified by event."""
    req = svc.request_promotion(
        project=project,
        model=body.model,
        version=body.version,
        alias=body.alias,
        actor=caller.name,
        reason=body.reason,
    )
    return json_response(req.model_dump(), 201)


@router.get("/projects/{project}/promotions", dependencies=[Depends(require("governance.read"))])
def list_promotions(
    project: str, status: str | None = None, svc: GovernanceService = Depends(governance)
) -> Response:
    """A project's promotion requests, newest first."""
    project_id = svc.registry.projects.get_project(project).id
    return json_response([r.model_dump() for r in svc.list_requests(project_id=project_id, status=status)])


@router.get("/promotions/{request_id}", dependencies=[Depends(require("governance.read"))])
def get_promotion(request_id: str, svc: GovernanceService = Depends(governance)) -> Response:
    """One promotion request with its evidence and reviews."""
    return json_response(svc.get_request(request_id).model_dump())


@router.post("/promotions/{request_id}/approve")
def approve(
    request_id: str,
    body: ReviewBody,
    svc: GovernanceService = Depends(governance),
    caller: Caller = Depends(require("governance.review")),
) -> Response:
    """Approve; the alias moves by itself once the policy is satisfied."""
    req = svc.review(
        request_id, reviewer=caller.name, roles=reviewer_roles(caller), approve=True, comment=body.comment
    )
    return json_response(req.model_dump())


@router.post("/promotions/{request_id}/reject")
def reject(
    request_id: str,
    body: ReviewBody,
    svc: GovernanceService = Depends(governance),
    caller: Caller = Depends(require("governance.review")),
) -> Response:
    """Reject, with the reason recorded."""
    req = svc.review(
        request_id, reviewer=caller.name, roles=reviewer_roles(caller), approve=False, comment=body.comment
    )
    return json_response(req.model_dump())


@router.post("/projects/{project}/models/{name}/versions/{version}/checks", status_code=204)
def record_check(
    project: str,
    name: str,
    version: int,
    body: CheckResult,
    svc: GovernanceService = Depends(governance),
    caller: Caller = Depends(require("governance.review")),
) -> Response:
    """Record the outcome of a named check (fairness, data_quality, ...) that policies can require."""
    v = svc.registry.get_version(project=project, name=name, version=version)
    svc.record_check(v, name=body.name, passed=body.passed, details=body.details, actor=caller.name)
    return Response(status_code=204)
