"""Tables for reference profiles, monitors, their runs, alert rules and alerts."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from modelyard.core.metadata import metadata

# One profile per version: what its reference (training) data looked like.
reference_profiles = Table(
    "reference_profiles",
    metadata,
    Column("version_id", String(32), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("profile", JSON, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("deployment", String(63), nullable=False),
    Column("name", String(100), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("next_run_at", BigInteger, nullable=True),  # set when the monitor has a schedule
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("deployment", "name"),
    Index("ix_monitors_next_run", "next_run_at"),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("monitor_id", String(32), ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("deployment", String(63), nullable=False),
    Column("health", String(16), nullable=False),  # green | yellow | red | unknown | failed
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("result", JSON, nullable=False),
    Column("trigger", String(16), nullable=False),  # schedule | manual
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Index("ix_monitor_runs_monitor_time", "monitor_id", "started_at"),
    Index("ix_monitor_runs_deployment_time", "deployment", "started_at"),
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("deployment", String(63), nullable=False),
    Column("name", String(100), nullable=False),
    Column("condition", Text, nullable=False),  # e.g. "drift.share >= 0.3"
    Column("severity", String(16), nullable=False),  # info | warning | critical
    Column("email", JSON, nullable=False),  # addresses notified over SMTP, when configured
    Column("created_by", String(200), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("deployment", "name"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("rule_id", String(32), ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    Column("deployment", String(63), nullable=False),
    Column("state", String(16), nullable=False),  # firing | resolved
    Column("value", JSON, nullable=True),  # the value that fired it (last seen while firing)
    Column("message", Text, nullable=False),
    Column("count", Integer, nullable=False),  # monitor runs that saw it firing
    Column("fired_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("run_id", String(32), nullable=True),
    Index("ix_alerts_rule_state", "rule_id", "state"),
    Index("ix_alerts_deployment_state", "deployment", "state"),
)
