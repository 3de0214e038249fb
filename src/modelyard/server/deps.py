"""Request-scoped access to the services the app was built with."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from modelyard.core.errors import InvalidArgument, PayloadTooLarge
from modelyard.projects.service import ProjectService
from modelyard.registry.service import RegistryService
from modelyard.tracking.service import TrackingService

MAX_JSON_BODY = 32 * 1024 * 1024


def tracking(request: Request) -> TrackingService:
    """The tracking service."""
    return request.app.state.tracking  # type: ignore[no-any-return]


def registry(request: Request) -> RegistryService:
    """The model registry service."""
    return request.app.state.registry  # type: ignore[no-any-return]


def projects(request: Request) -> ProjectService:
    """The project service."""
    return request.app.state.projects  # type: ignore[no-any-return]


def json_response(data: Any, status_code: int = 200) -> Response:
    """Serialize with orjson (fast, and handles what ``model_dump(mode='json')`` returns)."""
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


async def json_body(request: Request) -> Any:
    """Read and parse a JSON body, refusing oversized or malformed ones with a clear error."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_JSON_BODY:
        raise PayloadTooLarge(f"Request body is {length} bytes; the limit is {MAX_JSON_BODY}.")
    body = await request.body()
    if len(body) > MAX_JSON_BODY:
        raise PayloadTooLarge(f"Request body is {len(body)} bytes; the limit is {MAX_JSON_BODY}.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"Request body is not valid JSON: {exc}.") from exc
