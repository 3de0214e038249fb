"""Alert rules on monitor results: deduplicated, stateful (firing, resolved), announced as events.

A rule is a condition on one of a run's values (``MonitorRun.values``), written like a
governance evidence rule: ``"drift.share >= 0.5"``, ``"performance.accuracy < 0.8"``,
``"health >= 2"`` (red). While it holds, one alert stays firing (its count and last value
are updated; no new event); when it stops holding, the alert resolves. Fired and resolved
alerts become events (webhooks), land in the audit trail, and go out by email when SMTP is
configured.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Connection, select, update

from modelyard.audit.record import record_change
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import new_id, now_ms
from modelyard.core.settings import Settings
from modelyard.governance.policy import _METRIC_RULE, _OPS
from modelyard.monitoring.schemas import Alert, AlertRule, MonitorRun
from modelyard.monitoring.tables import alert_rules, alerts

log = logging.getLogger("modelyard.alerts")


def parse_condition(condition: str) -> tuple[str, str, float]:
    """``"drift.share >= 0.5"`` → ("drift.share", ">=", 0.5)."""
    m = _METRIC_RULE.match(condition or "")
    if m is None:
        raise InvalidArgument(
            f"Alert condition {condition!r} is not valid: write a value, a comparison and a number, "
            "e.g. 'drift.share >= 0.5', 'performance.accuracy < 0.8' or 'health >= 2' (red)."
        )
    return m[1].strip(), m[2], float(m[3])


def evaluate(conn: Connection, run: MonitorRun, project_id: str) -> list[dict[str, Any]]:
    """Fire, refresh or resolve the deployment's alerts for ``run``; returns what changed."""
    changes = []
    rules = (
        conn.execute(select(alert_rules).where(alert_rules.c.deployment == run.deployment)).mappings().all()
    )
    for rule in rules:
        name, op, bound = parse_condition(rule["condition"])
        value = run.values.get(name)
        holds = value is not None and _OPS[op](value, bound)
        open_alert = (
            conn.execute(select(alerts).where(alerts.c.rule_id == rule["id"], alerts.c.state == "firing"))
            .mappings()
            .first()
        )
        now = now_ms()
        if holds and open_alert is not None:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == open_alert["id"])
                .values(count=open_alert["count"] + 1, value=value, last_seen_at=now, run_id=run.id)
            )
        elif holds:
            message = f"{rule['name']}: {name} is {value:.4g} ({rule['condition']}) on {run.deployment}"
            alert_id = new_id()
            conn.execute(
                alerts.insert().values(
                    id=alert_id,
                    rule_id=rule["id"],
                    deployment=run.deployment,
                    state="firing",
                    value=value,
                    message=message,
                    count=1,
                    fired_at=now,
                    last_seen_at=now,
                    run_id=run.id,
                )
            )
            changes.append(_announce(conn, "alert.fired", rule, alert_id, project_id, message, value, run))
        elif open_alert is not None:
            conn.execute(
                update(alerts)
                .where(alerts.c.id == open_alert["id"])
                .values(state="resolved", resolved_at=now)
            )
            shown = "no value" if value is None else f"{value:.4g}"
            message = f"{rule['name']} resolved: {name} is {shown} on {run.deployment}"
            changes.append(
                _announce(conn, "alert.resolved", rule, open_alert["id"], project_id, message, value, run)
            )
    return changes


def _announce(
    conn: Connection,
    kind: str,
    rule: Any,
    alert_id: str,
    project_id: str,
    message: str,
    value: float | None,
    run: MonitorRun,
) -> dict[str, Any]:
    payload = {
        "alert_id": alert_id,
        "rule": rule["name"],
        "deployment": run.deployment,
        "severity": rule["severity"],
        "condition": rule["condition"],
        "value": value,
        "message": message,
        "monitor_run": run.id,
    }
    record_change(
        conn,
        type=kind,
        project_id=project_id,
        subject_type="alert",
        subject_id=alert_id,
        actor="monitor",
        payload=payload,
    )
    return {**payload, "type": kind, "email": list(rule["email"] or [])}


def send_emails(settings: Settings, changes: list[dict[str, Any]]) -> int:
    """Mail each fired or resolved alert to its rule's addresses; returns messages sent.

    Does nothing without ``smtp_host``. A mail server that fails is logged, never raised:
    the alert is already recorded and delivered as an event.
    """
    if not settings.smtp_host:
        return 0
    sent = 0
    for change in changes:
        if not change["email"]:
            continue
        msg = EmailMessage()
        state = "FIRING" if change["type"] == "alert.fired" else "resolved"
        msg["Subject"] = (
            f"[Modelyard {change['severity']}] {state}: {change['rule']} on {change['deployment']}"
        )
        msg["From"] = settings.smtp_from
        msg["To"] = ", ".join(change["email"])
        msg.set_content(
            f"{change['message']}\n\nCondition: {change['condition']}\nMonitor run: {change['monitor_run']}\n"
        )
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                smtp.send_message(msg)
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("Could not mail alert %s to %s: %s", change["alert_id"], msg["To"], exc)
    return sent


def to_alert(row: Any, rule: Any) -> Alert:
    """An ``Alert`` from its row and its rule's row."""
    return Alert(
        **{k: row[k] for k in ("id", "rule_id", "deployment", "state", "value", "message", "count")},
        **{k: row[k] for k in ("fired_at", "last_seen_at", "resolved_at", "run_id")},
        rule=rule["name"],
        severity=rule["severity"],
    )


def to_rule(row: Any) -> AlertRule:
    """An ``AlertRule`` from its row."""
    return AlertRule(**dict(row))
