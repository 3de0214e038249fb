"""Deployment operations over the embedded store or the REST API."""

from __future__ import annotations

import getpass
from typing import Any

from modelyard.client.http import HttpBackend, _q
from modelyard.serving.schemas import (
    CanaryProgress,
    CreateDeployment,
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
)
from modelyard.serving.service import DeploymentService


class EmbeddedDeployments:
    """Direct calls; the OS user is the actor."""

    def __init__(self, store: Any) -> None:
        self.svc = DeploymentService(store)

    def create(self, project: str, body: CreateDeployment) -> Deployment:
        return self.svc.create(project=project, body=body, actor=getpass.getuser())

    def get(self, name: str) -> Deployment:
        return self.svc.get(name)

    def list(self, project: str | None) -> list[Deployment]:
        return self.svc.list(project=project)

    def update(self, name: str, spec: DeploymentSpec, reason: str) -> Deployment:
        return self.svc.update(name, spec, actor=getpass.getuser(), reason=reason)

    def rollback(self, name: str, revision: int | None, reason: str) -> Deployment:
        return self.svc.rollback(name, revision=revision, actor=getpass.getuser(), reason=reason)

    def delete(self, name: str) -> None:
        self.svc.delete(name, actor=getpass.getuser())

    def history(self, name: str) -> list[DeploymentRevision]:
        return self.svc.history(name)

    def report_canary(self, name: str, progress: CanaryProgress) -> Deployment:
        return self.svc.report_canary(name, progress, actor=getpass.getuser())


class HttpDeployments:
    """Deployments over the REST API."""

    def __init__(self, http: HttpBackend) -> None:
        self.b = http

    def create(self, project: str, body: CreateDeployment) -> Deployment:
        url = f"/api/v1/projects/{_q(project)}/deployments"
        return Deployment(**self.b._call("POST", url, json=body.model_dump(mode="json")))

    def get(self, name: str) -> Deployment:
        return Deployment(**self.b._call("GET", f"/api/v1/deployments/{_q(name)}"))

    def list(self, project: str | None) -> list[Deployment]:
        url = f"/api/v1/projects/{_q(project)}/deployments" if project else "/api/v1/deployments"
        return [Deployment(**d) for d in self.b._call("GET", url)]

    def update(self, name: str, spec: DeploymentSpec, reason: str) -> Deployment:
        url = f"/api/v1/deployments/{_q(name)}"
        body = spec.model_dump(mode="json")
        params = {"reason": reason} if reason else None
        return Deployment(**self.b._call("PUT", url, json=body, params=params))

    def rollback(self, name: str, revision: int | None, reason: str) -> Deployment:
        url = f"/api/v1/deployments/{_q(name)}/rollback"
        return Deployment(**self.b._call("POST", url, json={"revision": revision, "reason": reason}))

    def delete(self, name: str) -> None:
        self.b._call("DELETE", f"/api/v1/deployments/{_q(name)}")

    def history(self, name: str) -> list[DeploymentRevision]:
        found = self.b._call("GET", f"/api/v1/deployments/{_q(name)}/history")
        return [DeploymentRevision(**r) for r in found]

    def report_canary(self, name: str, progress: CanaryProgress) -> Deployment:
        url = f"/api/v1/deployments/{_q(name)}/canary"
        return Deployment(**self.b._call("POST", url, json=progress.model_dump(mode="json")))
