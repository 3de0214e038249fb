"""The deployment half of ``Client``: create, update, roll back and delete deployments."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from modelyard.client.deployment_backends import EmbeddedDeployments, HttpDeployments
from modelyard.core.errors import InvalidArgument
from modelyard.serving.schemas import (
    CanaryProgress,
    CreateDeployment,
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
)

DEFAULT_PROJECT = "default"


class DeploymentsMixin:
    """Deployment operations; mixed into ``Client``."""

    _deployments: EmbeddedDeployments | HttpDeployments

    def create_deployment(
        self, name: str, model_uri: str, *, project: str = DEFAULT_PROJECT, **spec: Any
    ) -> Deployment:
        """Deploy a registered model under ``name`` (served at ``/v1/deployments/{name}/predict``).

        Args:
            name: 1-63 lower-case letters, digits or '-'; unique among active deployments.
            model_uri: ``models:/<name>@<alias>`` (follows the alias) or ``models:/<name>/<version>``.
            project: the project whose models it serves.
            **spec: the rest of ``DeploymentSpec``: ``production``, ``workers``, ``variants``,
                ``canary``, ``humility``, ``capture``, ``description``.

        Raises:
            InvalidArgument: the spec is not valid or names a model that is not there.
            PermissionDenied: a production deployment names a model that has not passed governance.
        """
        body = _checked(CreateDeployment, name=name, model_uri=model_uri, **spec)
        return self._deployments.create(project, body)

    def get_deployment(self, name: str) -> Deployment:
        """The active deployment ``name``."""
        return self._deployments.get(name)

    def list_deployments(self, project: str | None = None) -> list[Deployment]:
        """Active deployments (in one project, or all the caller can see)."""
        return self._deployments.list(project)

    def update_deployment(self, name: str, *, reason: str = "", **changes: Any) -> Deployment:
        """Change fields of a deployment's spec (a new revision); the rest stays as it is."""
        current = self._deployments.get(name).spec().model_dump()
        spec = _checked(DeploymentSpec, **{**current, **changes})
        return self._deployments.update(name, spec, reason)

    def rollback_deployment(self, name: str, revision: int | None = None, *, reason: str = "") -> Deployment:
        """Return to an earlier revision's spec (the previous one by default)."""
        return self._deployments.rollback(name, revision, reason)

    def delete_deployment(self, name: str) -> None:
        """Stop serving ``name``; its history stays."""
        self._deployments.delete(name)

    def deployment_history(self, name: str) -> list[DeploymentRevision]:
        """Every revision of a deployment, oldest first."""
        return self._deployments.history(name)

    def report_canary(self, name: str, progress: CanaryProgress) -> Deployment:
        """Record canary progress (the serving process calls this)."""
        return self._deployments.report_canary(name, progress)


def _checked(shape: type[Any], **fields: Any) -> Any:
    """Build a spec, turning pydantic's report into the same error the server gives."""
    try:
        return shape(**fields)
    except ValidationError as exc:
        raise InvalidArgument(f"Invalid deployment: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "spec"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) + "."
