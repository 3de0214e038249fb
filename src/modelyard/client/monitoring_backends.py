"""Monitoring operations over the embedded store or the REST API."""

from __future__ import annotations

import getpass
from typing import Any

from modelyard.client.http import HttpBackend, _q
from modelyard.client.registry_backends import version_ref
from modelyard.core.settings import Settings
from modelyard.monitoring.schemas import (
    Alert,
    AlertRule,
    CreateAlertRule,
    CreateMonitor,
    DeploymentHealth,
    Monitor,
    MonitorRun,
)
from modelyard.monitoring.service import MonitorService


class EmbeddedMonitoring:
    """Direct calls; predictions are read from the configured prediction log."""

    def __init__(self, store: Any, settings: Settings) -> None:
        self.svc = MonitorService(store, settings)

    def put_reference(self, project: str, name: str, version: int, profile: dict[str, Any]) -> None:
        v = self.svc.registry.get_version(project=project, name=name, version=version)
        self.svc.references.put(v, profile, actor=getpass.getuser())

    def get_reference(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        return self.svc.references.get(
            self.svc.registry.get_version(project=project, name=name, version=version)
        )

    def create_monitor(self, deployment: str, body: CreateMonitor) -> Monitor:
        return self.svc.create(deployment, body, actor=getpass.getuser())

    def list_monitors(self, deployment: str) -> list[Monitor]:
        return self.svc.list(deployment)

    def delete_monitor(self, deployment: str, name: str) -> None:
        self.svc.delete(deployment, name, actor=getpass.getuser())

    def run(self, deployment: str, name: str, window: str | None) -> MonitorRun:
        return self.svc.run(deployment, name, window=window, actor=getpass.getuser())

    def runs(self, deployment: str, monitor: str | None, limit: int) -> list[MonitorRun]:
        return self.svc.runs(deployment, monitor=monitor, limit=limit)

    def health(self, deployment: str) -> DeploymentHealth:
        return self.svc.health(deployment)

    def create_rule(self, deployment: str, body: CreateAlertRule) -> AlertRule:
        return self.svc.create_rule(deployment, body, actor=getpass.getuser())

    def rules(self, deployment: str) -> list[AlertRule]:
        return self.svc.rules(deployment)

    def delete_rule(self, deployment: str, name: str) -> None:
        self.svc.delete_rule(deployment, name, actor=getpass.getuser())

    def alerts(self, deployment: str, state: str | None) -> list[Alert]:
        return self.svc.alerts(deployment, state=state)


class HttpMonitoring:
    """Monitoring over the REST API (the server reads its own prediction log)."""

    def __init__(self, http: HttpBackend) -> None:
        self.b = http

    def _ref_url(self, project: str, name: str, version: int) -> str:
        ref = version_ref(version, None)
        return f"/api/v1/projects/{_q(project)}/models/{_q(name)}/versions/{ref}/reference"

    def put_reference(self, project: str, name: str, version: int, profile: dict[str, Any]) -> None:
        self.b._call("PUT", self._ref_url(project, name, version), json=profile)

    def get_reference(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        return self.b._call("GET", self._ref_url(project, name, version))  # type: ignore[no-any-return]

    def create_monitor(self, deployment: str, body: CreateMonitor) -> Monitor:
        url = f"/api/v1/deployments/{_q(deployment)}/monitors"
        return Monitor(**self.b._call("POST", url, json=body.model_dump(mode="json")))

    def list_monitors(self, deployment: str) -> list[Monitor]:
        return [Monitor(**m) for m in self.b._call("GET", f"/api/v1/deployments/{_q(deployment)}/monitors")]

    def delete_monitor(self, deployment: str, name: str) -> None:
        self.b._call("DELETE", f"/api/v1/deployments/{_q(deployment)}/monitors/{_q(name)}")

    def run(self, deployment: str, name: str, window: str | None) -> MonitorRun:
        url = f"/api/v1/deployments/{_q(deployment)}/monitors/{_q(name)}/run"
        return MonitorRun(**self.b._call("POST", url, json={"window": window}))

    def runs(self, deployment: str, monitor: str | None, limit: int) -> list[MonitorRun]:
        params: dict[str, Any] = {"limit": limit, **({"monitor": monitor} if monitor else {})}
        found = self.b._call("GET", f"/api/v1/deployments/{_q(deployment)}/monitor-runs", params=params)
        return [MonitorRun(**r) for r in found]

    def health(self, deployment: str) -> DeploymentHealth:
        return DeploymentHealth(**self.b._call("GET", f"/api/v1/deployments/{_q(deployment)}/health"))

    def create_rule(self, deployment: str, body: CreateAlertRule) -> AlertRule:
        url = f"/api/v1/deployments/{_q(deployment)}/alert-rules"
        return AlertRule(**self.b._call("POST", url, json=body.model_dump(mode="json")))

    def rules(self, deployment: str) -> list[AlertRule]:
        return [
            AlertRule(**r) for r in self.b._call("GET", f"/api/v1/deployments/{_q(deployment)}/alert-rules")
        ]

    def delete_rule(self, deployment: str, name: str) -> None:
        self.b._call("DELETE", f"/api/v1/deployments/{_q(deployment)}/alert-rules/{_q(name)}")

    def alerts(self, deployment: str, state: str | None) -> list[Alert]:
        params = {"state": state} if state else None
        found = self.b._call("GET", f"/api/v1/deployments/{_q(deployment)}/alerts", params=params)
        return [Alert(**a) for a in found]
