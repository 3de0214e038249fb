"""The monitoring half of ``Client``: reference profiles, monitors, health and alerts."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from modelyard.client.monitoring_backends import EmbeddedMonitoring, HttpMonitoring
from modelyard.core.errors import InvalidArgument
from modelyard.monitoring.schemas import (
    Alert,
    AlertRule,
    CreateAlertRule,
    CreateMonitor,
    DeploymentHealth,
    Monitor,
    MonitorRun,
)

DEFAULT_PROJECT = "default"


class MonitoringMixin:
    """Monitoring operations; mixed into ``Client``."""

    _monitoring: EmbeddedMonitoring | HttpMonitoring

    def set_reference(
        self,
        name: str,
        version: int,
        data: Any,
        *,
        target: str | None = None,
        prediction: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """Profile ``data`` (usually the training or validation set) as the version's reference.

        Only the profile leaves this process: histograms, quantiles, frequencies, missing
        rates and ranges per column, never rows. With ``target`` (labels) and ``prediction``
        (the model's score for the positive class), the profile also carries the calibration
        for label-free performance estimates; pass held-out data for that.

        Returns:
            The stored profile.
        """
        from modelyard.monitoring.profile import build_profile, is_profile

        if is_profile(data):
            profile = data
        else:
            profile = build_profile(data, target=target, prediction=prediction)
            if target and prediction:
                profile["confidence"] = _confidence(data, target, prediction)
        self._monitoring.put_reference(project, name, int(version), profile)
        return profile

    def get_reference_profile(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        """The reference profile of ``name`` version ``version`` in ``project``, or None."""
        return self._monitoring.get_reference(project, name, int(version))

    def create_monitor(self, deployment: str, name: str = "default", **spec: Any) -> Monitor:
        """Add a monitor (``window``, ``schedule`` cron, ``drift``, ``performance``, ``quality``,
        ``fairness``, ``service`` settings) to a deployment."""
        body = _checked("monitor", CreateMonitor, name=name, **spec)
        return self._monitoring.create_monitor(deployment, body)

    def list_monitors(self, deployment: str) -> list[Monitor]:
        """A deployment's monitors."""
        return self._monitoring.list_monitors(deployment)

    def delete_monitor(self, deployment: str, name: str = "default") -> None:
        """Remove a monitor and its history."""
        self._monitoring.delete_monitor(deployment, name)

    def run_monitor(self, deployment: str, name: str = "default", *, window: str | None = None) -> MonitorRun:
        """Run a monitor now (``window`` e.g. ``"24h"`` or ``"50000 rows"`` overrides its own)."""
        return self._monitoring.run(deployment, name, window)

    def monitor_runs(
        self, deployment: str, *, monitor: str | None = None, limit: int = 100
    ) -> list[MonitorRun]:
        """Recent monitor runs, newest first."""
        return self._monitoring.runs(deployment, monitor, limit)

    def deployment_health(self, deployment: str) -> DeploymentHealth:
        """Green, yellow or red: the worst of each monitor's latest run."""
        return self._monitoring.health(deployment)

    def create_alert_rule(
        self,
        deployment: str,
        name: str,
        condition: str,
        *,
        severity: str = "warning",
        email: list[str] | None = None,
    ) -> AlertRule:
        """Alert when a monitor value meets ``condition`` (e.g. ``"drift.share >= 0.5"``)."""
        body = _checked(
            "alert rule",
            CreateAlertRule,
            name=name,
            condition=condition,
            severity=severity,
            email=email or [],
        )
        return self._monitoring.create_rule(deployment, body)

    def list_alert_rules(self, deployment: str) -> list[AlertRule]:
        """A deployment's alert rules."""
        return self._monitoring.rules(deployment)

    def delete_alert_rule(self, deployment: str, name: str) -> None:
        """Remove an alert rule."""
        self._monitoring.delete_rule(deployment, name)

    def list_alerts(self, deployment: str, *, state: str | None = None) -> list[Alert]:
        """A deployment's alerts (``state``: ``firing`` or ``resolved``), newest first."""
        return self._monitoring.alerts(deployment, state)


def _checked(what: str, shape: type[Any], **fields: Any) -> Any:
    """Build a request body, turning pydantic's first complaint into ``InvalidArgument``."""
    try:
        return shape(**fields)
    except ValidationError as exc:
        raise InvalidArgument(f"Invalid {what}: {exc.errors()[0].get('msg', 'invalid')}.") from None


def _confidence(data: Any, target: str, prediction: str) -> dict[str, Any]:
    from modelyard.monitoring.performance import fit_confidence

    y_true = data[target].to_numpy() if hasattr(data[target], "to_numpy") else data[target]
    y_score = data[prediction].to_numpy() if hasattr(data[prediction], "to_numpy") else data[prediction]
    return fit_confidence(y_true, y_score)
