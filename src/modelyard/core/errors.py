"""Typed domain errors, mapped once to HTTP status codes and CLI messages.

Services raise these; the REST layer turns them into ``{"error": {"code", "message"}}``
with the matching status, and the HTTP client turns that body back into the same class,
so embedded and remote callers see the same exception.
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Base class: a message a user can act on."""

    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """The JSON body the REST API sends for this error."""
        return {"code": self.code, "message": self.message}


class InvalidArgument(ModelyardError):
    """The request is malformed or breaks a documented limit."""

    status_code = 400
    code = "INVALID_ARGUMENT"


class Unauthenticated(ModelyardError):
    """No valid credentials were presented."""

    status_code = 401
    code = "UNAUTHENTICATED"


class PermissionDenied(ModelyardError):
    """The caller is known but lacks a permission."""

    status_code = 403
    code = "PERMISSION_DENIED"


class NotFound(ModelyardError):
    """The object does not exist (or the caller may not know it exists)."""

    status_code = 404
    code = "NOT_FOUND"


class AlreadyExists(ModelyardError):
    """An object with that name already exists."""

    status_code = 409
    code = "ALREADY_EXISTS"


class Conflict(ModelyardError):
    """The request contradicts the current state (e.g. changing a logged param)."""

    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(ModelyardError):
    """The request body is over the documented size limit."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class TooManyRequests(ModelyardError):
    """Too many attempts in a short time (e.g. failed sign-ins); wait, then retry."""

    status_code = 429
    code = "TOO_MANY_REQUESTS"


class Unavailable(ModelyardError):
    """The server or store could not be reached; retrying later may work."""

    status_code = 503
    code = "UNAVAILABLE"


ERRORS_BY_CODE: dict[str, type[ModelyardError]] = {
    cls.code: cls
    for cls in (
        ModelyardError,
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        Conflict,
        PayloadTooLarge,
        TooManyRequests,
        Unavailable,
    )
}


def error_from_dict(body: dict[str, str], status_code: int) -> ModelyardError:
    """Rebuild the typed error a server sent."""
    cls = ERRORS_BY_CODE.get(body.get("code", ""), ModelyardError)
    err = cls(body.get("message") or f"server answered HTTP {status_code}")
    return err
