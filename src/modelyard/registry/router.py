"""REST routes for registered models, versions, aliases, lineage and model cards."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from modelyard.core.auth import Caller, require
from modelyard.core.errors import InvalidArgument, PayloadTooLarge
from modelyard.registry.cards import render_card
from modelyard.registry.lineage import build_lineage
from modelyard.registry.schemas import (
    CreateModel,
    CreateVersionFromRun,
    ModelCardSections,
    SearchRegistry,
    SetAlias,
    SetTrusted,
    UpdateModel,
)
from modelyard.registry.service import RegistryService
from modelyard.server.deps import json_response, registry

router = APIRouter(prefix="/api/v1/projects/{project}/models", tags=["registry"])
MAX_UPLOAD_BYTES = 20 * 1024**3


@router.post("", status_code=201)
def create_model(
    project: str,
    body: CreateModel,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Register a model name."""
    m = svc.create_model(
        project=project,
        name=body.name,
        description=body.description,
        owner=body.owner,
        risk_tier=body.risk_tier,
        tags=body.tags,
        actor=caller.name,
    )
    return json_response(m.model_dump(), 201)


@router.get("", dependencies=[Depends(require("models.read"))])
def list_models(
    project: str, include_archived: bool = False, svc: RegistryService = Depends(registry)
) -> Response:
    """A project's models."""
    return json_response(
        [m.model_dump() for m in svc.list_models(project=project, include_archived=include_archived)]
    )


@router.post("/search", dependencies=[Depends(require("models.read"))])
def search_models(project: str, body: SearchRegistry, svc: RegistryService = Depends(registry)) -> Response:
    """Models matching a filter (attributes and tags), ordered, one page at a time."""
    page = svc.search_models(project=project, **body.model_dump())
    return json_response(page.model_dump())


@router.post("/versions/search", dependencies=[Depends(require("models.read"))])
def search_versions(project: str, body: SearchRegistry, svc: RegistryService = Depends(registry)) -> Response:
    """Versions matching a filter (attributes, tags, alias, and the source run's metrics and params)."""
    page = svc.search_versions(project=project, **body.model_dump())
    return json_response(page.model_dump())


@router.get("/{name}", dependencies=[Depends(require("models.read"))])
def get_model(project: str, name: str, svc: RegistryService = Depends(registry)) -> Response:
    """A model with its aliases and tags."""
    return json_response(svc.get_model(project=project, name=name).model_dump())


@router.patch("/{name}")
def update_model(
    project: str,
    name: str,
    body: UpdateModel,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.manage")),
) -> Response:
    """Change description, owner, risk tier, or archive a model."""
    m = svc.update_model(
        project=project,
        name=name,
        description=body.description,
        owner=body.owner,
        risk_tier=body.risk_tier,
        status=body.status,
        actor=caller.name,
    )
    return json_response(m.model_dump())


@router.delete("/{name}", status_code=204)
def delete_model(
    project: str,
    name: str,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.manage")),
) -> Response:
    """Delete a model."""
    svc.delete_model(project=project, name=name, actor=caller.name)
    return Response(status_code=204)


@router.put("/{name}/tags/{key}", status_code=204)
async def set_model_tag(
    project: str,
    name: str,
    key: str,
    request: Request,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Set a model tag; the body is the value as text."""
    value = (await request.body()).decode("utf-8", errors="replace")
    await run_in_threadpool(
        svc.set_model_tag, project=project, name=name, key=key, value=value, actor=caller.name
    )
    return Response(status_code=204)


@router.post("/{name}/versions", status_code=201)
def create_version(
    project: str,
    name: str,
    body: CreateVersionFromRun,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Register a version from a model logged in a run (``runs:/<run-id>/<path>``)."""
    v = svc.create_version(
        project=project,
        name=name,
        source=body.source,
        description=body.description,
        tags=body.tags,
        actor=caller.name,
    )
    return json_response(v.model_dump(), 201)


@router.post("/{name}/versions/upload", status_code=201)
async def upload_version(
    project: str,
    name: str,
    request: Request,
    description: str = "",
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Register an external model: the body is a tar of a Modelyard model folder (streamed to disk)."""
    staging = Path(tempfile.mkdtemp(prefix="modelyard-upload-"))
    try:
        archive = staging / "upload.tar"
        size = 0
        with archive.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise PayloadTooLarge(f"Model uploads are limited to {MAX_UPLOAD_BYTES} bytes.")
                await run_in_threadpool(f.write, chunk)
        folder = staging / "model"
        await run_in_threadpool(_extract, archive, folder)
        v = await run_in_threadpool(
            svc.create_version,
            project=project,
            name=name,
            source="upload",
            model_dir=folder,
            description=description,
            actor=caller.name,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return json_response(v.model_dump(), 201)


def _extract(archive: Path, folder: Path) -> None:
    """Unpack with the 'data' filter: no absolute paths, no '..', no links out, no devices."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidArgument(f"The upload is not a valid model archive: {exc}.") from exc


@router.get("/{name}/versions", dependencies=[Depends(require("models.read"))])
def list_versions(project: str, name: str, svc: RegistryService = Depends(registry)) -> Response:
    """Every version, newest first."""
    return json_response([v.model_dump() for v in svc.list_versions(project=project, name=name)])


@router.get("/{name}/versions/{version}", dependencies=[Depends(require("models.read"))])
def get_version(project: str, name: str, version: str, svc: RegistryService = Depends(registry)) -> Response:
    """A version by number, ``latest``, or ``@alias``."""
    return json_response(_version(svc, project, name, version).model_dump())


def _version(svc: RegistryService, project: str, name: str, ref: str):  # type: ignore[no-untyped-def]
    if ref.startswith("@"):
        return svc.get_version(project=project, name=name, alias=ref[1:])
    if ref == "latest":
        return svc.get_version(project=project, name=name)
    if not ref.isdigit():
        raise InvalidArgument(f"Version {ref!r} must be a number, 'latest' or '@alias'.")
    return svc.get_version(project=project, name=name, version=int(ref))


@router.put("/{name}/versions/{version}/tags/{key}", status_code=204)
async def set_version_tag(
    project: str,
    name: str,
    version: int,
    key: str,
    request: Request,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Set a version tag; the body is the value as text."""
    value = (await request.body()).decode("utf-8", errors="replace")
    await run_in_threadpool(
        svc.set_version_tag,
        project=project,
        name=name,
        version=version,
        key=key,
        value=value,
        actor=caller.name,
    )
    return Response(status_code=204)


@router.put("/{name}/versions/{version}/trusted")
def set_trusted(
    project: str,
    name: str,
    version: int,
    body: SetTrusted,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.manage")),
) -> Response:
    """Mark a pickle-based version as safe to load."""
    v = svc.set_trusted(project=project, name=name, version=version, trusted=body.trusted, actor=caller.name)
    return json_response(v.model_dump())


@router.get("/{name}/versions/{version}/files/{path:path}", dependencies=[Depends(require("models.read"))])
def download_file(
    project: str, name: str, version: str, path: str, svc: RegistryService = Depends(registry)
) -> Response:
    """Stream one file of a version (always as a download)."""
    v = _version(svc, project, name, version)
    chunks = svc.read_version_file(v, path)
    headers = {"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.get("/{name}/versions/{version}/lineage", dependencies=[Depends(require("models.read"))])
def lineage(project: str, name: str, version: str, svc: RegistryService = Depends(registry)) -> Response:
    """Datasets → run → version → aliases, as a graph."""
    v = _version(svc, project, name, version)
    return json_response(build_lineage(svc, v).model_dump())


@router.get("/{name}/versions/{version}/card", dependencies=[Depends(require("models.read"))])
def get_card(
    project: str,
    name: str,
    version: str,
    format: str = Query("md", pattern="^(md|html|json)$"),
    svc: RegistryService = Depends(registry),
) -> Response:
    """The model card: generated from lineage plus the written sections."""
    v = _version(svc, project, name, version)
    if format == "json":
        return json_response(svc.get_card_sections(v).model_dump())
    text = render_card(svc, v, html=format == "html")
    media = "text/markdown; charset=utf-8" if format == "md" else "text/html; charset=utf-8"
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(text, media_type=media, headers=headers)


@router.put("/{name}/versions/{version}/card")
def put_card(
    project: str,
    name: str,
    version: int,
    body: ModelCardSections,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.write")),
) -> Response:
    """Write the model card's sections (intended use, limitations, ethical considerations, ...)."""
    v = svc.get_version(project=project, name=name, version=version)
    return json_response(svc.put_card_sections(v, body, actor=caller.name).model_dump())


@router.put("/{name}/aliases/{alias}")
def set_alias(
    project: str,
    name: str,
    alias: str,
    body: SetAlias,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.alias")),
) -> Response:
    """Point an alias at a version."""
    v = svc.set_alias(
        project=project, name=name, alias=alias, version=body.version, actor=caller.name, reason=body.reason
    )
    return json_response(v.model_dump())


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_alias(
    project: str,
    name: str,
    alias: str,
    svc: RegistryService = Depends(registry),
    caller: Caller = Depends(require("models.alias")),
) -> Response:
    """Remove an alias."""
    svc.delete_alias(project=project, name=name, alias=alias, actor=caller.name)
    return Response(status_code=204)


@router.get("/{name}/aliases/history", dependencies=[Depends(require("models.read"))])
def alias_history(
    project: str, name: str, alias: str | None = None, svc: RegistryService = Depends(registry)
) -> Response:
    """Every alias move, oldest first."""
    return json_response([m.model_dump() for m in svc.alias_history(project=project, name=name, alias=alias)])
