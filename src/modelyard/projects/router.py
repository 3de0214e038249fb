"""REST routes for projects and experiments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from modelyard.core.auth import Caller, require
from modelyard.core.errors import NotFound
from modelyard.projects.schemas import CreateExperiment, CreateProject
from modelyard.projects.service import ProjectService
from modelyard.server.deps import json_response, projects

router = APIRouter(prefix="/api/v1", tags=["projects"])


@router.post("/projects", status_code=201)
def create_project(
    body: CreateProject,
    svc: ProjectService = Depends(projects),
    caller: Caller = Depends(require("projects.create")),
) -> Response:
    """Create a project; its creator becomes its owner."""
    p = svc.create_project(
        name=body.name, description=body.description, created_by=caller.name, owner_user_id=caller.user_id
    )
    return json_response(p.model_dump(), 201)


@router.get("/projects")
def list_projects(
    request: Request,
    svc: ProjectService = Depends(projects),
    caller: Caller = Depends(require("projects.list")),
) -> Response:
    """The projects the caller can see, with their experiment and run counts."""
    only = None
    if caller.user_id is not None and not (caller.is_admin or caller.is_auditor):
        only = request.app.state.access.project_ids_of(caller.user_id)
    return json_response([p.model_dump() for p in svc.list_projects(only=only)])


@router.get("/projects/{project}", dependencies=[Depends(require("project.read"))])
def get_project(project: str, svc: ProjectService = Depends(projects)) -> Response:
    """A project by name or id."""
    return json_response(svc.get_project(project).model_dump())


@router.post(
    "/projects/{project}/experiments", status_code=201, dependencies=[Depends(require("project.write"))]
)
def create_experiment(
    project: str, body: CreateExperiment, svc: ProjectService = Depends(projects)
) -> Response:
    """Create an experiment in a project."""
    exp = svc.create_experiment(project=project, name=body.name, description=body.description)
    return json_response(exp.model_dump(), 201)


async def _write_or_create(request: Request) -> Caller:
    """project.write in an existing project; projects.create when the project is new."""
    svc: ProjectService = request.app.state.projects
    try:
        await run_in_threadpool(svc.get_project, request.path_params["project"])
    except NotFound:
        return await request.app.state.authorizer.authorize(request, "projects.create", scoped=False)
    return await request.app.state.authorizer.authorize(request, "project.write")


_write_or_create.__modelyard_permission__ = "project.write or projects.create"  # type: ignore[attr-defined]


@router.put("/projects/{project}/experiments/{name}")
def ensure_experiment(
    project: str,
    name: str,
    svc: ProjectService = Depends(projects),
    caller: Caller = Depends(_write_or_create),
) -> Response:
    """The named experiment, created (with its project, owned by the caller) on first use."""
    svc.get_or_create_project(name=project, created_by=caller.name, owner_user_id=caller.user_id)
    return json_response(svc.get_or_create_experiment(project=project, name=name).model_dump())


@router.get("/projects/{project}/experiments", dependencies=[Depends(require("project.read"))])
def list_experiments(project: str, svc: ProjectService = Depends(projects)) -> Response:
    """A project's experiments."""
    return json_response([e.model_dump() for e in svc.list_experiments(project=project)])


@router.get("/experiments/{experiment_id}", dependencies=[Depends(require("project.read"))])
def get_experiment(experiment_id: str, svc: ProjectService = Depends(projects)) -> Response:
    """An experiment by id."""
    return json_response(svc.get_experiment(experiment_id).model_dump())
