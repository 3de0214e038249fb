"""Monitors per deployment: run on demand or on a cron schedule, keep their history, roll up
to a green/yellow/red health, and drive alerts and governance checks."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, func, select, update

from modelyard.audit.record import record_change
from modelyard.core.errors import AlreadyExists, InvalidArgument, ModelyardError, NotFound
from modelyard.core.ids import new_id, now_ms
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.governance.service import GovernanceService
from modelyard.monitoring import alerts as alerting
from modelyard.monitoring.references import ReferenceService
from modelyard.monitoring.runner import run_checks, window_bounds
from modelyard.monitoring.schemas import (
    Alert,
    AlertRule,
    CreateAlertRule,
    CreateMonitor,
    DeploymentHealth,
    Monitor,
    MonitorRun,
    MonitorSpec,
    parse_window,
)
from modelyard.monitoring.tables import alert_rules, alerts, monitor_runs, monitors
from modelyard.registry.service import RegistryService
from modelyard.serving.gate import resolve
from modelyard.serving.schemas import Deployment
from modelyard.serving.service import DeploymentService

log = logging.getLogger("modelyard.monitoring")
_RANK = {"unknown": 0, "green": 1, "yellow": 2, "red": 3, "failed": 3}


class MonitorService:
    """Monitors, their runs, alert rules and alerts."""

    def __init__(self, store: Store, settings: Settings, registry: RegistryService | None = None) -> None:
        self.db = store.db
        self.settings = settings
        self.registry = registry or RegistryService(store)
        self.deployments = DeploymentService(store, self.registry)
        self.references = ReferenceService(store, self.registry)
        self.governance = GovernanceService(store, self.registry)

    # ------------------------------------------------------------ monitors
    def create(self, deployment: str, body: CreateMonitor, *, actor: str = "") -> Monitor:
        """A new monitor on ``deployment``."""
        dep = self.deployments.get(deployment)
        now = now_ms()
        spec = MonitorSpec(**body.model_dump(exclude={"name"}))
        with self.db.write() as conn:
            exists = conn.execute(
                select(monitors.c.id).where(monitors.c.deployment == deployment, monitors.c.name == body.name)
            ).first()
            if exists:
                raise AlreadyExists(f"Deployment {deployment!r} already has a monitor named {body.name!r}.")
            mid = new_id()
            conn.execute(
                monitors.insert().values(
                    id=mid,
                    project_id=dep.project_id,
                    deployment=deployment,
                    name=body.name,
                    spec=spec.model_dump(mode="json"),
                    next_run_at=_next_run(spec.schedule, now),
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            record_change(
                conn,
                type="monitor.created",
                project_id=dep.project_id,
                subject_type="monitor",
                subject_id=mid,
                actor=actor,
                payload={"deployment": deployment, "monitor": body.name, "schedule": spec.schedule},
            )
        return self.get(deployment, body.name)

    def get(self, deployment: str, name: str = "default") -> Monitor:
        """A monitor by deployment and name."""
        with self.db.read() as conn:
            row = (
                conn.execute(
                    select(monitors).where(monitors.c.deployment == deployment, monitors.c.name == name)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"Deployment {deployment!r} has no monitor named {name!r}.")
        return _monitor(row)

    def list(self, deployment: str) -> list[Monitor]:
        """The monitors of a deployment."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(monitors).where(monitors.c.deployment == deployment).order_by(monitors.c.name)
            ).mappings()
            return [_monitor(r) for r in rows]

    def delete(self, deployment: str, name: str, *, actor: str = "") -> None:
        """Remove a monitor and its history."""
        mon = self.get(deployment, name)
        with self.db.write() as conn:
            conn.execute(delete(monitors).where(monitors.c.id == mon.id))
            record_change(
                conn,
                type="monitor.deleted",
                project_id=mon.project_id,
                subject_type="monitor",
                subject_id=mon.id,
                actor=actor,
                payload={"deployment": deployment, "monitor": name},
            )

    # ----------------------------------------------------------------- runs
    def run(
        self,
        deployment: str,
        name: str = "default",
        *,
        window: str | None = None,
        trigger: str = "manual",
        actor: str = "",
        due_at: int | None = None,
    ) -> MonitorRun:
        """Run a monitor now (the ``default`` one is created on first use) and keep the result."""
        dep = self.deployments.get(deployment)
        try:
            mon = self.get(deployment, name)
        except NotFound:
            if name != "default":
                raise
            mon = self.create(deployment, CreateMonitor(), actor=actor)
        spec = mon.spec_only()
        if window:
            try:
                parse_window(window)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            spec = spec.model_copy(update={"window": window.strip()})
        root = self.settings.resolved_predictions_uri
        started = now_ms()
        version = resolve(self.registry, dep.project, dep.model_uri)
        try:
            start, end = window_bounds(spec, root, deployment, started)
            profile = self.references.get(version)
            result = run_checks(
                spec, root=root, deployment=deployment, profile=profile, start_ms=start, end_ms=end
            )
        except ModelyardError as exc:
            start, end, result = started, started, {"health": "failed", "error": exc.message, "rows": 0}
        except Exception as exc:  # a broken segment or a bug must not stop the schedule; keep the record
            log.exception("Monitor %s/%s failed", deployment, name)
            start, end, result = (
                started,
                started,
                {"health": "failed", "error": f"{type(exc).__name__}: {exc}"},
            )
        result.update(model=version.model_name, version=version.version, window=spec.window)
        run = MonitorRun(
            id=new_id(),
            monitor_id=mon.id,
            monitor=name,
            deployment=deployment,
            health=result["health"],
            window_start=start,
            window_end=end,
            rows=int(result.get("rows", 0)),
            trigger=trigger,
            started_at=started,
            finished_at=now_ms(),
            result=result,
        )
        changes = self._store_run(run, mon, dep, actor, max(run.finished_at, due_at or 0))
        alerting.send_emails(self.settings, changes)
        if spec.record_checks and run.health != "failed":
            self._record_governance_checks(run, version, spec)
        return run

    def _store_run(
        self, run: MonitorRun, mon: Monitor, dep: Deployment, actor: str, slot_ms: int
    ) -> list[dict[str, Any]]:
        previous = self.health(dep.name).health
        with self.db.write() as conn:
            conn.execute(
                monitor_runs.insert().values(
                    **run.model_dump(
                        include={
                            "id",
                            "monitor_id",
                            "deployment",
                            "health",
                            "window_start",
                            "window_end",
                            "rows",
                            "trigger",
                            "started_at",
                            "finished_at",
                        }
                    ),
                    result=run.result,
                )
            )
            if mon.schedule:
                conn.execute(
                    update(monitors)
                    .where(monitors.c.id == mon.id)
                    .values(next_run_at=_next_run(mon.schedule, slot_ms))
                )
            changes = alerting.evaluate(conn, run, dep.project_id)
        now = self.health(dep.name).health
        if now != previous:
            with self.db.write() as conn:
                record_change(
                    conn,
                    type="deployment.health_changed",
                    project_id=dep.project_id,
                    subject_type="deployment",
                    subject_id=dep.id,
                    actor=actor or "monitor",
                    payload={"deployment": dep.name, "from": previous, "to": now, "monitor_run": run.id},
                )
        return changes

    def _record_governance_checks(self, run: MonitorRun, version: Any, spec: MonitorSpec) -> None:
        checks = run.checks
        for kind, name, key, wanted in (
            ("quality", "data_quality", "issues", True),
            ("fairness", "fairness", "violations", bool(spec.fairness.attributes)),
        ):
            judged = [c for c in checks if c.check == kind and c.status != "skipped"]
            if not (judged and wanted):
                continue
            bad = [f"{c.name}: {c.detail}" for c in judged if c.status != "ok"]
            self.governance.record_check(
                version,
                name=name,
                passed=not bad,
                details={"deployment": run.deployment, "monitor_run": run.id, key: bad},
                actor="monitor",
            )

    def runs(self, deployment: str, *, monitor: str | None = None, limit: int = 100) -> list[MonitorRun]:
        """Recent runs, newest first."""
        stmt = (
            select(monitor_runs, monitors.c.name.label("monitor"))
            .join(monitors, monitors.c.id == monitor_runs.c.monitor_id)
            .where(monitor_runs.c.deployment == deployment)
            .order_by(monitor_runs.c.started_at.desc())
            .limit(max(1, min(limit, 10_000)))
        )
        if monitor is not None:
            stmt = stmt.where(monitors.c.name == monitor)
        with self.db.read() as conn:
            return [MonitorRun(**dict(r)) for r in conn.execute(stmt).mappings()]

    def health(self, deployment: str) -> DeploymentHealth:
        """The worst health among the latest run of each monitor, and the firing alerts."""
        newest = (
            select(monitor_runs.c.monitor_id, func.max(monitor_runs.c.started_at).label("at"))
            .where(monitor_runs.c.deployment == deployment)
            .group_by(monitor_runs.c.monitor_id)
            .subquery()
        )
        with self.db.read() as conn:
            latest: dict[str, tuple[int, str]] = {}
            rows = conn.execute(  # only each monitor's newest run, however long the history
                select(monitors.c.name, monitor_runs.c.health, monitor_runs.c.started_at)
                .join(monitors, monitors.c.id == monitor_runs.c.monitor_id)
                .join(
                    newest,
                    (newest.c.monitor_id == monitor_runs.c.monitor_id)
                    & (newest.c.at == monitor_runs.c.started_at),
                )
            )
            for name, health, at in rows:
                latest[name] = (at, health)
            firing = conn.execute(
                select(func.count())
                .select_from(alerts)
                .where(alerts.c.deployment == deployment, alerts.c.state == "firing")
            ).scalar_one()
        states = {n: h for n, (_, h) in latest.items()}
        worst = _worst(list(states.values()))
        return DeploymentHealth(
            deployment=deployment,
            health="red" if worst == "failed" else worst,  # type: ignore[arg-type]
            monitors=states,
            firing_alerts=int(firing),
            checked_at=max((at for at, _ in latest.values()), default=None),
        )

    def run_due(self, now: int | None = None) -> int:
        """Run every scheduled monitor whose time has come (the server's upkeep calls this)."""
        now = now or now_ms()
        with self.db.read() as conn:
            due = conn.execute(
                select(monitors.c.deployment, monitors.c.name).where(
                    monitors.c.next_run_at.is_not(None), monitors.c.next_run_at <= now
                )
            ).all()
        done = 0
        for deployment, name in due:
            try:
                self.run(deployment, name, trigger="schedule", actor="scheduler", due_at=now)
                done += 1
            except NotFound:  # the deployment is gone: stop scheduling its monitor
                with self.db.write() as conn:
                    conn.execute(
                        update(monitors)
                        .where(monitors.c.deployment == deployment, monitors.c.name == name)
                        .values(next_run_at=None)
                    )
        return done

    # --------------------------------------------------------------- alerts
    def create_rule(self, deployment: str, body: CreateAlertRule, *, actor: str = "") -> AlertRule:
        """A new alert rule on a deployment's monitor results."""
        alerting.parse_condition(body.condition)
        dep = self.deployments.get(deployment)
        rid = new_id()
        with self.db.write() as conn:
            if conn.execute(
                select(alert_rules.c.id).where(
                    alert_rules.c.deployment == deployment, alert_rules.c.name == body.name
                )
            ).first():
                raise AlreadyExists(
                    f"Deployment {deployment!r} already has an alert rule named {body.name!r}."
                )
            conn.execute(
                alert_rules.insert().values(
                    id=rid,
                    project_id=dep.project_id,
                    deployment=deployment,
                    name=body.name,
                    condition=body.condition,
                    severity=body.severity,
                    email=body.email,
                    created_by=actor,
                    created_at=now_ms(),
                )
            )
            record_change(
                conn,
                type="alert_rule.created",
                project_id=dep.project_id,
                subject_type="alert_rule",
                subject_id=rid,
                actor=actor,
                payload={"deployment": deployment, "rule": body.name, "condition": body.condition},
            )
        return next(r for r in self.rules(deployment) if r.id == rid)

    def rules(self, deployment: str) -> list[AlertRule]:
        """A deployment's alert rules."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(alert_rules).where(alert_rules.c.deployment == deployment).order_by(alert_rules.c.name)
            ).mappings()
            return [alerting.to_rule(r) for r in rows]

    def delete_rule(self, deployment: str, name: str, *, actor: str = "") -> None:
        """Remove an alert rule (its alerts go with it)."""
        with self.db.write() as conn:
            row = (
                conn.execute(
                    select(alert_rules).where(
                        alert_rules.c.deployment == deployment, alert_rules.c.name == name
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"Deployment {deployment!r} has no alert rule named {name!r}.")
            conn.execute(delete(alert_rules).where(alert_rules.c.id == row["id"]))
            record_change(
                conn,
                type="alert_rule.deleted",
                project_id=row["project_id"],
                subject_type="alert_rule",
                subject_id=row["id"],
                actor=actor,
                payload={"deployment": deployment, "rule": name},
            )

    def alerts(self, deployment: str, *, state: str | None = None) -> list[Alert]:
        """A deployment's alerts, newest first."""
        if state not in (None, "firing", "resolved"):
            raise InvalidArgument("state must be 'firing' or 'resolved'.")
        stmt = (
            select(alerts, alert_rules.c.name, alert_rules.c.severity)
            .join(alert_rules, alert_rules.c.id == alerts.c.rule_id)
            .where(alerts.c.deployment == deployment)
            .order_by(alerts.c.fired_at.desc())
        )
        if state:
            stmt = stmt.where(alerts.c.state == state)
        with self.db.read() as conn:
            return [alerting.to_alert(r, r) for r in conn.execute(stmt).mappings()]


def _monitor(row: Any) -> Monitor:
    return Monitor(
        **row["spec"],
        **{
            k: row[k]
            for k in (
                "id",
                "name",
                "deployment",
                "project_id",
                "next_run_at",
                "created_by",
                "created_at",
                "updated_at",
            )
        },
    )


def _next_run(schedule: str | None, after_ms: int) -> int | None:
    if not schedule:
        return None
    from datetime import UTC, datetime

    from croniter import croniter

    start = datetime.fromtimestamp(after_ms / 1000, tz=UTC)
    return int(croniter(schedule, start).get_next(datetime).timestamp() * 1000)


def _worst(healths: list[str]) -> str:
    return max(healths, key=lambda h: _RANK.get(h, 0), default="unknown")
