"""Tables for runs and what they record.

Metric history lives in ``metrics`` with a covering index on (run_id, key, step,
timestamp, value): fetching one metric's history is a single index range scan.
``latest_metrics`` keeps each run's last value per key, indexed by (key, value), so a
search that filters or orders on a metric walks that index instead of the history.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from modelyard.core.metadata import metadata


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.id", ondelete="CASCADE")


environments = Table(
    "environments",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("python_version", String(32), nullable=False),
    Column("platform", String(200), nullable=False, default=""),
    Column("packages", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("experiment_id", String(32), ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("user", String(200), nullable=False, default=""),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("entry_point", String(1000), nullable=False, default=""),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("python_version", String(32), nullable=False, default=""),
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=True),
    Column("env_digest", String(64), ForeignKey("environments.digest"), nullable=True),
    Column("artifact_uri", String(1000), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_project_start", "project_id", "start_time"),
    Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=True),  # NULL stands for NaN (SQLite cannot store NaN)
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_metrics_history", "run_id", "key", "step", "timestamp", "value"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), _run_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), _run_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), _run_fk(), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

ingest_batches = Table(
    "ingest_batches",
    metadata,
    # Client-chosen id of a log_batch request: a retried request is applied once.
    Column("id", String(64), primary_key=True),
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source_type", String(32), nullable=False),
    Column("source", String(1000), nullable=False, default=""),
    Column("num_rows", BigInteger, nullable=True),
    Column("num_columns", Integer, nullable=True),
    Column("schema", JSON, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project_id", "name", "digest"),
    Index("ix_datasets_digest", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), _run_fk(), primary_key=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("context", String(100), primary_key=True),
    Index("ix_run_inputs_dataset", "dataset_id"),
)
