"""REST routes for runs, metrics, datasets, environments and artifacts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from modelyard.core.auth import Caller, require
from modelyard.core.errors import InvalidArgument
from modelyard.server.deps import json_body, json_response, tracking
from modelyard.tracking.schemas import CreateRun, Environment, LogBatch, LogInput, SearchRuns, UpdateRun
from modelyard.tracking.service import TrackingService

router = APIRouter(prefix="/api/v1", tags=["tracking"])

_LOG_BATCH_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LogBatch.model_json_schema()}},
    }
}


@router.post("/runs", status_code=201)
def create_run(
    body: CreateRun, svc: TrackingService = Depends(tracking), caller: Caller = Depends(require("runs.write"))
) -> Response:
    """Start a run (with sign-in on, its user is the caller, whatever the body claims)."""
    if caller.user_id is not None:
        body = body.model_copy(update={"user": caller.name})
    return json_response(svc.create_run(body).model_dump(), 201)


@router.get("/runs/{run_id}", dependencies=[Depends(require("runs.read"))])
def get_run(run_id: str, svc: TrackingService = Depends(tracking)) -> Response:
    """A run with its params, latest metrics, tags and dataset inputs."""
    return json_response(svc.get_run(run_id).model_dump(by_alias=True))


@router.patch("/runs/{run_id}")
def update_run(
    run_id: str,
    body: UpdateRun,
    svc: TrackingService = Depends(tracking),
    caller: Caller = Depends(require("runs.write")),
) -> Response:
    """Rename a run or set its status."""
    run = svc.update_run(
        run_id, status=body.status, end_time=body.end_time, name=body.name, actor=caller.name
    )
    return json_response(run.model_dump(by_alias=True))


@router.delete("/runs/{run_id}", status_code=204)
def delete_run(
    run_id: str, svc: TrackingService = Depends(tracking), caller: Caller = Depends(require("runs.write"))
) -> Response:
    """Hide a run from searches."""
    svc.delete_run(run_id, actor=caller.name)
    return Response(status_code=204)


@router.post("/runs/{run_id}/heartbeat", status_code=204, dependencies=[Depends(require("runs.write"))])
def heartbeat(run_id: str, svc: TrackingService = Depends(tracking)) -> Response:
    """Tell the server the run's process is alive."""
    svc.heartbeat(run_id)
    return Response(status_code=204)


@router.post(
    "/runs/{run_id}/batch",
    status_code=204,
    openapi_extra=_LOG_BATCH_DOC,
)
async def log_batch(
    run_id: str,
    request: Request,
    svc: TrackingService = Depends(tracking),
    caller: Caller = Depends(require("runs.write")),
) -> Response:
    """Record many metrics, params and tags in one transaction.

    The body is parsed with orjson and checked by the service, not by a Pydantic model:
    this is the ingest hot path and 10,000 points per request is normal.
    """
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidArgument("Request body must be a JSON object with 'metrics', 'params' and 'tags'.")
    metrics, params, tags = body.get("metrics") or [], body.get("params") or {}, body.get("tags") or {}
    batch_id = body.get("batch_id")
    if not isinstance(metrics, list) or not isinstance(params, dict) or not isinstance(tags, dict):
        raise InvalidArgument("'metrics' must be a list; 'params' and 'tags' must be objects.")
    if batch_id is not None and (not isinstance(batch_id, str) or len(batch_id) > 64):
        raise InvalidArgument("'batch_id' must be a string of at most 64 characters.")
    await run_in_threadpool(
        svc.log_batch,
        run_id,
        metrics_in=metrics,
        params_in=params,
        tags_in=tags,
        batch_id=batch_id,
        actor=caller.name,
    )
    return Response(status_code=204)


@router.get("/runs/{run_id}/metrics/history", dependencies=[Depends(require("runs.read"))])
def metric_history(run_id: str, key: str, svc: TrackingService = Depends(tracking)) -> Response:
    """All values of one metric, as columns: steps, values, timestamps."""
    h = svc.get_metric_history(run_id, key)
    return json_response({"key": h.key, "steps": h.steps, "values": h.values, "timestamps": h.timestamps})


@router.post("/runs/search", dependencies=[Depends(require("runs.read"))])
def search_runs(body: SearchRuns, svc: TrackingService = Depends(tracking)) -> Response:
    """Runs matching a filter, ordered, one page at a time."""
    page = svc.search_runs(
        project=body.project,
        experiment_ids=body.experiment_ids,
        filter=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=body.include_deleted,
    )
    return json_response(page.model_dump(by_alias=True))


@router.post("/runs/{run_id}/inputs", status_code=201)
def log_input(
    run_id: str,
    body: LogInput,
    svc: TrackingService = Depends(tracking),
    caller: Caller = Depends(require("runs.write")),
) -> Response:
    """Link a dataset version to a run."""
    found = svc.log_input(run_id, body.dataset, body.context, actor=caller.name)
    return json_response(found.model_dump(by_alias=True), 201)


@router.get("/datasets/{dataset_id}", dependencies=[Depends(require("runs.read"))])
def get_dataset(dataset_id: str, svc: TrackingService = Depends(tracking)) -> Response:
    """A dataset version."""
    return json_response(svc.get_dataset(dataset_id).model_dump(by_alias=True))


@router.get("/datasets/{dataset_id}/runs", dependencies=[Depends(require("runs.read"))])
def get_dataset_runs(dataset_id: str, svc: TrackingService = Depends(tracking)) -> Response:
    """The runs a dataset version fed."""
    return json_response([u.model_dump() for u in svc.get_dataset_runs(dataset_id)])


@router.get("/projects/{project}/datasets", dependencies=[Depends(require("runs.read"))])
def list_datasets(
    project: str, name: str | None = None, digest: str | None = None, svc: TrackingService = Depends(tracking)
) -> Response:
    """A project's dataset versions."""
    found = svc.list_datasets(project=project, name=name, digest=digest)
    return json_response([d.model_dump(by_alias=True) for d in found])


@router.put("/environments/{digest}", dependencies=[Depends(require("runs.write"))])
def put_environment(digest: str, body: Environment, svc: TrackingService = Depends(tracking)) -> Response:
    """Store an environment snapshot under its content digest."""
    if body.digest != digest:
        raise InvalidArgument("The digest in the path and in the body differ.")
    return json_response(svc.put_environment(body).model_dump())


@router.get("/environments/{digest}", dependencies=[Depends(require("runs.read"))])
def get_environment(digest: str, svc: TrackingService = Depends(tracking)) -> Response:
    """An environment snapshot."""
    return json_response(svc.get_environment(digest).model_dump())


@router.get("/runs/{run_id}/artifacts", dependencies=[Depends(require("runs.read"))])
def list_artifacts(run_id: str, path: str = "", svc: TrackingService = Depends(tracking)) -> Response:
    """The files and folders under ``path`` in a run's artifacts."""
    entries = svc.list_artifacts(run_id, path)
    return json_response([{"path": e.path, "is_dir": e.is_dir, "size": e.size} for e in entries])


@router.put("/runs/{run_id}/artifacts/{path:path}", status_code=201)
async def upload_artifact(
    run_id: str,
    path: str,
    request: Request,
    svc: TrackingService = Depends(tracking),
    caller: Caller = Depends(require("runs.write")),
) -> Response:
    """Stream a file into a run's artifacts (the body is never held in memory whole)."""
    writer = await run_in_threadpool(svc.artifact_writer, run_id, path)
    size = 0
    with writer as f:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(f.write, chunk)
                size += len(chunk)
    await run_in_threadpool(svc.audit_artifact, run_id, path, size, actor=caller.name)
    return json_response({"path": path, "size": size}, 201)


@router.get("/runs/{run_id}/artifacts/{path:path}", dependencies=[Depends(require("runs.read"))])
def download_artifact(run_id: str, path: str, svc: TrackingService = Depends(tracking)) -> Response:
    """Stream an artifact. Always served as a download, never rendered, so an uploaded
    HTML or SVG file cannot run script in the API's origin."""
    size = svc.artifact_size(run_id, path)
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return StreamingResponse(
        svc.read_artifact(run_id, path), media_type="application/octet-stream", headers=headers
    )
