"""REST routes for projects and experiments."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from modelyard.core.auth import require
from modelyard.projects.schemas import CreateExperiment, CreateProject
from modelyard.projects.service import ProjectService
from modelyard.server.deps import json_response, projects

router = APIRouter(prefix="/api/v1", tags=["projects"])


@router.post("/projects", status_code=201, dependencies=[Depends(require("projects.create"))])
def create_project(body: CreateProject, svc: ProjectService = Depends(projects)) -> Response:
    """Create a project."""
    return json_response(svc.create_project(name=body.name, description=body.description).model_dump(), 201)


@router.get("/projects", dependencies=[Depends(require("projects.list"))])
def list_projects(svc: ProjectService = Depends(projects)) -> Response:
    """All projects with their experiment and run counts."""
    return json_response([p.model_dump() for p in svc.list_projects()])


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


@router.put("/projects/{project}/experiments/{name}", dependencies=[Depends(require("project.write"))])
def ensure_experiment(project: str, name: str, svc: ProjectService = Depends(projects)) -> Response:
    """The named experiment, created (with its project) on first use."""
    svc.get_or_create_project(name=project)
    return json_response(svc.get_or_create_experiment(project=project, name=name).model_dump())


@router.get("/projects/{project}/experiments", dependencies=[Depends(require("project.read"))])
def list_experiments(project: str, svc: ProjectService = Depends(projects)) -> Response:
    """A project's experiments."""
    return json_response([e.model_dump() for e in svc.list_experiments(project=project)])


@router.get("/experiments/{experiment_id}", dependencies=[Depends(require("project.read"))])
def get_experiment(experiment_id: str, svc: ProjectService = Depends(projects)) -> Response:
    """An experiment by id."""
    return json_response(svc.get_experiment(experiment_id).model_dump())
