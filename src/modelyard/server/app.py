"""Build the FastAPI application: routers, error mapping, background upkeep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelyard import __version__
from modelyard.access.authorizer import Authorizer
from modelyard.access.router import router as access_router
from modelyard.access.service import AccessService
from modelyard.audit.chain import append_audit
from modelyard.audit.router import router as audit_router
from modelyard.core.errors import ModelyardError
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.events.delivery import WebhookDispatcher
from modelyard.events.router import router as events_router
from modelyard.events.service import EventService
from modelyard.events.webhooks import WebhookService
from modelyard.governance.router import router as governance_router
from modelyard.governance.service import GovernanceService
from modelyard.identity.ratelimit import LoginLimiter
from modelyard.identity.router import router as identity_router
from modelyard.identity.service import IdentityService
from modelyard.monitoring.router import router as monitoring_router
from modelyard.monitoring.service import MonitorService
from modelyard.projects.router import router as projects_router
from modelyard.projects.service import ProjectService
from modelyard.registry.router import router as registry_router
from modelyard.registry.service import RegistryService
from modelyard.serving.router import router as serving_router
from modelyard.serving.service import DeploymentService
from modelyard.tracking.router import router as tracking_router
from modelyard.tracking.service import TrackingService

log = logging.getLogger("modelyard.server")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


def create_app(store: Store, settings: Settings) -> FastAPI:
    """The API app over ``store``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_upkeep(app, settings))
        app.state.webhook_dispatcher.start()
        try:
            yield
        finally:
            await asyncio.to_thread(app.state.webhook_dispatcher.stop)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="Modelyard",
        version=__version__,
        lifespan=lifespan,
        description="One system of record for the model lifecycle.",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.tracking = TrackingService(store)
    app.state.projects = ProjectService(store.db)
    app.state.registry = RegistryService(store)
    app.state.governance = GovernanceService(store, app.state.registry)
    app.state.deployments = DeploymentService(store, app.state.registry)
    app.state.monitoring = MonitorService(store, settings, app.state.registry)
    app.state.access = AccessService(store.db)
    app.state.identity = IdentityService(store.db)
    app.state.login_limiter = LoginLimiter()
    app.state.audit_hook = _audit_hook(store)
    app.state.authorizer = Authorizer(
        store.db, auth_enabled=settings.auth, identity=app.state.identity, local_user=settings.local_user
    )
    app.state.events = EventService(store.db)
    app.state.webhooks = WebhookService(store.db, settings)
    app.state.webhook_dispatcher = WebhookDispatcher(store.db, settings)

    @app.exception_handler(ModelyardError)
    async def _domain_error(request: Request, exc: ModelyardError) -> JSONResponse:
        if exc.status_code in (401, 403, 429) and settings.auth:
            caller = getattr(request.state, "caller", None)
            host = request.client.host if request.client else ""
            await asyncio.to_thread(
                app.state.audit_hook,
                "request.denied",
                caller.name if caller else "anonymous",
                "denied",
                host,
                {"status": exc.status_code, "error": exc.message},
                f"{request.method} {request.url.path}",
            )
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "INVALID_ARGUMENT", 413: "PAYLOAD_TOO_LARGE"}.get(
            exc.status_code, "INVALID_ARGUMENT"
        )
        message = (
            f"No such endpoint: {request.method} {request.url.path}."
            if exc.status_code in (404, 405)
            else str(exc.detail)
        )
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"code": "INVALID_ARGUMENT", "message": _validation_message(exc)}
        return JSONResponse({"error": body}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        body = {"code": "INTERNAL_ERROR", "message": "The server hit an unexpected error; see its log."}
        return JSONResponse({"error": body}, status_code=500)

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    health.__modelyard_public__ = True  # type: ignore[attr-defined]

    app.include_router(projects_router)
    app.include_router(tracking_router)
    app.include_router(registry_router)
    app.include_router(governance_router)
    app.include_router(access_router)
    app.include_router(identity_router)
    app.include_router(audit_router)
    app.include_router(events_router)
    app.include_router(serving_router)
    app.include_router(monitoring_router)
    return app


def _audit_hook(store: Store):  # type: ignore[no-untyped-def]
    """Record something that changed no state but must be on the record (a failed login, a denial)."""

    outcomes = {"success": "ok", "failure": "failed", "locked": "denied"}

    def hook(
        action: str,
        actor: str,
        outcome: str,
        client_address: str,
        summary: object,
        object_id: str | None = None,
    ) -> None:
        outcome = outcomes.get(outcome, outcome)
        with store.db.write() as conn:
            append_audit(
                conn,
                actor=actor or "anonymous",
                action=action,
                object_type="request",
                object_id=object_id or action,
                client_address=client_address,
                outcome=outcome,  # type: ignore[arg-type]
                summary=summary if isinstance(summary, dict) else {"detail": str(summary)},
            )

    return hook


async def _upkeep(app: FastAPI, settings: Settings) -> None:
    """Periodic housekeeping: mark lost runs killed, end expired promotion requests, run due monitors."""
    stale_ms = int(settings.run_stale_after_s * 1000)
    while True:
        try:
            n = await asyncio.to_thread(app.state.tracking.reap_lost_runs, stale_after_ms=stale_ms)
            if n:
                log.info("Marked %d lost run(s) as KILLED", n)
            await asyncio.to_thread(app.state.governance.expire_due)
            await asyncio.to_thread(app.state.monitoring.run_due)
        except Exception:  # upkeep must never take the server down
            log.exception("Periodic upkeep failed")
        await asyncio.sleep(min(30.0, settings.run_stale_after_s / 2))  # cron has minute resolution
