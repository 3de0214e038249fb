"""Errors the serving process answers with, in the repo's ``{"error": {"code", "message"}}`` shape."""

from __future__ import annotations

import orjson

from modelyard.core.errors import ModelyardError


class InvalidInput(ModelyardError):
    """The rows do not fit the model's signature (or a humility rule refused them): HTTP 422."""

    status_code = 422
    code = "INVALID_INPUT"


class ModelRefused(InvalidInput):
    """The model itself raised on the rows (a ValueError and the like): still the caller's rows."""


class ModelFailed(ModelyardError):
    """The model raised on well-formed rows: a fault of the model, not of the caller."""

    status_code = 500
    code = "MODEL_ERROR"


class MethodNotAllowed(ModelyardError):
    """The path exists, the method does not."""

    status_code = 405
    code = "METHOD_NOT_ALLOWED"


def error_body(code: str, message: str, **extra: object) -> bytes:
    """The JSON body of an error answer."""
    return orjson.dumps({"error": {"code": code, "message": message}, **extra})
