"""Request and response shapes for monitors, their runs, alert rules and alerts."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_WINDOW = re.compile(r"^\s*(\d+)\s*(m|h|d|rows)\s*$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,99}$")
Health = Literal["green", "yellow", "red", "unknown"]


def parse_window(window: str) -> tuple[str, int]:
    """``"24h"`` → ("ms", 86400000); ``"50000 rows"`` → ("rows", 50000)."""
    m = _WINDOW.match(window) if isinstance(window, str) else None
    if m is None or int(m[1]) <= 0:
        raise ValueError(f"Window {window!r} is not valid: use e.g. '30m', '24h', '7d' or '50000 rows'.")
    n, unit = int(m[1]), m[2]
    return ("rows", n) if unit == "rows" else ("ms", n * _UNIT_MS[unit])


def _check_name(kind: str, v: str) -> str:
    if not NAME.match(v):
        raise ValueError(f"{kind} name {v!r} is not valid: lower-case letters, digits, '_' or '-'.")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DriftConfig(_Strict):
    """Feature and prediction drift against the deployed version's reference profile."""

    enabled: bool = True
    features: list[str] | None = Field(default=None, description="default: every profiled feature")
    methods: dict[str, str] = Field(default_factory=dict, description="feature → method (psi, js, ...)")
    thresholds: dict[str, float] = Field(default_factory=dict, description="method → drift threshold")
    importance: dict[str, float] | None = Field(default=None, description="feature → weight")
    share_threshold: float = Field(default=0.5, gt=0, le=1, description="dataset drift at this share")


class PerformanceConfig(_Strict):
    """Accuracy once actuals arrive, and the label-free estimate before they do."""

    enabled: bool = True
    minimum: dict[str, float] = Field(default_factory=dict, description='e.g. {"accuracy": 0.8}')
    maximum: dict[str, float] = Field(default_factory=dict, description='e.g. {"rmse": 2.5}')
    segments: list[str] = Field(default_factory=list, description="inputs to break accuracy down by")
    estimate: bool = Field(default=True, description="label-free estimate for classifiers")
    max_estimated_drop: float = Field(default=0.05, ge=0, le=1)


class QualityConfig(_Strict):
    """Data quality of the inputs against the reference."""

    enabled: bool = True
    max_missing_increase: float = Field(default=0.05, ge=0, le=1)
    max_out_of_range: float = Field(default=0.05, ge=0, le=1)
    max_unseen: float = Field(default=0.05, ge=0, le=1)


class FairnessConfig(_Strict):
    """Group fairness on named protected attributes (inputs of the model or captured alongside)."""

    attributes: list[str] = Field(default_factory=list)
    favorable: Any = Field(default=1, description="the prediction that is good for the person")
    min_disparate_impact: float = Field(default=0.8, ge=0, le=1, description="four-fifths rule")
    max_parity_difference: float = Field(default=0.1, ge=0, le=1)
    max_tpr_gap: float = Field(default=0.1, ge=0, le=1)


class ServiceConfig(_Strict):
    """Latency and error rate of the serving process, from the prediction log."""

    enabled: bool = True
    max_p99_ms: float = Field(default=100.0, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)


class MonitorSpec(_Strict):
    """What a monitor checks, over which window, and when it runs by itself."""

    window: str = "24h"
    schedule: str | None = Field(default=None, description="cron, e.g. '*/15 * * * *'")
    min_rows: int = Field(default=100, ge=1, description="fewer rows: health 'unknown', not red")
    drift: DriftConfig = Field(default_factory=DriftConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    record_checks: bool = Field(
        default=True, description="record data_quality and fairness as governance checks on the version"
    )

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        parse_window(v)
        return v.strip()

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from croniter import croniter

        if not croniter.is_valid(v):
            raise ValueError(f"Schedule {v!r} is not a valid cron expression (e.g. '0 * * * *').")
        return v


class CreateMonitor(MonitorSpec):
    """Body of ``POST /api/v1/deployments/{deployment}/monitors``."""

    name: str = "default"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name("Monitor", v)


class Monitor(MonitorSpec):
    """A monitor as stored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    deployment: str
    project_id: str
    next_run_at: int | None = None
    created_by: str = ""
    created_at: int
    updated_at: int

    def spec_only(self) -> MonitorSpec:
        """The monitor's settings without its identity."""
        return MonitorSpec(**self.model_dump(include=set(MonitorSpec.model_fields)))


class Check(BaseModel):
    """One verdict in a monitor run."""

    check: str  # drift | performance | estimate | quality | fairness | service
    name: str  # e.g. feature name, metric name, attribute
    status: Literal["ok", "warn", "fail", "skipped"]
    value: float | None = None
    threshold: float | None = None
    detail: str = ""


class MonitorRun(BaseModel):
    """What one run of a monitor found."""

    id: str
    monitor_id: str
    monitor: str
    deployment: str
    health: Health | Literal["failed"]
    window_start: int
    window_end: int
    rows: int
    trigger: str
    started_at: int
    finished_at: int
    result: dict[str, Any] = Field(default_factory=dict)

    @property
    def checks(self) -> list[Check]:
        """The run's verdicts."""
        return [Check(**c) for c in self.result.get("checks", [])]

    @property
    def values(self) -> dict[str, float]:
        """Every number the run produced, by dotted name (what alert rules test)."""
        return dict(self.result.get("values", {}))


class DeploymentHealth(BaseModel):
    """The worst health among a deployment's monitors' latest runs."""

    deployment: str
    health: Health
    monitors: dict[str, str] = Field(default_factory=dict)
    firing_alerts: int = 0
    checked_at: int | None = None


class CreateAlertRule(_Strict):
    """Body of ``POST /api/v1/deployments/{deployment}/alert-rules``."""

    name: str
    condition: str = Field(description='a value and a bound, e.g. "drift.share >= 0.5" or "health >= 2"')
    severity: Literal["info", "warning", "critical"] = "warning"
    email: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name("Alert rule", v)


class AlertRule(CreateAlertRule):
    """An alert rule as stored."""

    model_config = ConfigDict(extra="ignore")

    id: str
    deployment: str
    project_id: str
    created_by: str = ""
    created_at: int


class Alert(BaseModel):
    """One alert: firing until the condition clears, then resolved (never duplicated meanwhile)."""

    id: str
    rule_id: str
    rule: str
    deployment: str
    severity: str
    state: Literal["firing", "resolved"]
    value: Any = None
    message: str
    count: int
    fired_at: int
    last_seen_at: int
    resolved_at: int | None = None
    run_id: str | None = None
