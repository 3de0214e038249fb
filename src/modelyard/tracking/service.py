"""Business rules for runs: create, record, read, search, lineage, environments, artifacts."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.exc import IntegrityError

from modelyard.audit.record import record_change
from modelyard.core.artifacts import ArtifactEntry
from modelyard.core.errors import Conflict, InvalidArgument, NotFound
from modelyard.core.ids import new_id, now_ms
from modelyard.core.sql import driver_executemany, driver_fetchall, insert_for
from modelyard.core.store import Store
from modelyard.projects.service import ProjectService
from modelyard.tracking import limits
from modelyard.tracking.schemas import (
    TERMINAL_STATUSES,
    CreateRun,
    Dataset,
    DatasetIn,
    DatasetUse,
    Environment,
    MetricHistory,
    Run,
    RunInput,
    RunsPage,
    RunStatus,
)
from modelyard.tracking.search import search_run_ids
from modelyard.tracking.tables import (
    datasets,
    environments,
    ingest_batches,
    latest_metrics,
    params,
    run_inputs,
    runs,
    tags,
)

# Hot paths, run on the driver's cursor (see core.sql); the covering index
# ix_metrics_history answers the history query without touching the table.
_INSERT_METRICS = "INSERT INTO metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)"
_SELECT_HISTORY = (
    "SELECT step, value, timestamp FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, timestamp"
)
_RUN_COLUMNS = [c for c in runs.c if c.name not in ("deleted", "pid", "heartbeat_at")]


class TrackingService:
    """Everything a run records goes through here."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.projects = ProjectService(store.db)

    # ----------------------------------------------------------------- runs
    def create_run(self, req: CreateRun) -> Run:
        """Start a run in an experiment, with the context the client captured."""
        exp = self.projects.get_experiment(req.experiment_id)
        run_id = new_id()
        start = req.start_time if req.start_time is not None else now_ms()
        checked_tags = {limits.check_key("Tag", k): limits.check_tag_value(k, v) for k, v in req.tags.items()}
        row = {
            "id": run_id,
            "experiment_id": exp.id,
            "project_id": exp.project_id,
            "name": req.name or _default_run_name(run_id),
            "status": RunStatus.RUNNING.value,
            "user": req.user,
            "start_time": start,
            "end_time": None,
            "heartbeat_at": now_ms(),
            "entry_point": req.entry_point,
            "git_commit": req.git_commit,
            "git_dirty": req.git_dirty,
            "python_version": req.python_version,
            "host": req.host,
            "pid": req.pid,
            "env_digest": req.env_digest,
            "artifact_uri": self.store.artifacts.location(exp.project_id, run_id),
            "deleted": False,
        }
        try:
            with self.db.write() as conn:
                conn.execute(runs.insert().values(**row))
                if checked_tags:
                    conn.execute(
                        tags.insert(),
                        [{"run_id": run_id, "key": k, "value": v} for k, v in checked_tags.items()],
                    )
                record_change(
                    conn,
                    type="run.created",
                    project_id=exp.project_id,
                    subject_type="run",
                    subject_id=run_id,
                    actor=req.user,
                    payload={"name": row["name"], "experiment_id": exp.id},
                )
        except IntegrityError as exc:
            raise NotFound(f"No environment snapshot {req.env_digest!r}; upload it first.") from exc
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metrics, tags and inputs."""
        with self.db.read() as conn:
            found = self._load_runs(conn, [run_id], with_inputs=True)
        if not found:
            raise NotFound(f"No run with id {run_id!r}.")
        return found[0]

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        actor: str = "",
    ) -> Run:
        """Rename a run or change its status; a terminal status sets the end time."""
        values: dict[str, Any] = {}
        if name is not None:
            if not name.strip():
                raise InvalidArgument("Run name may not be empty.")
            values["name"] = name
        if status is not None:
            values["status"] = RunStatus(status).value
            if status in TERMINAL_STATUSES:
                values["end_time"] = end_time if end_time is not None else now_ms()
            else:
                values["end_time"] = None
        elif end_time is not None:
            values["end_time"] = end_time
        if values:
            values["heartbeat_at"] = now_ms()
            with self.db.write() as conn:
                run = self._require_run(conn, run_id)
                conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
                changed = {k: v for k, v in values.items() if k in ("status", "name", "end_time")}
                record_change(
                    conn,
                    type="run.updated",
                    project_id=run["project_id"],
                    subject_type="run",
                    subject_id=run_id,
                    actor=actor,
                    payload=changed,
                    notify="status" in changed,
                )
        return self.get_run(run_id)

    def delete_run(self, run_id: str, *, actor: str = "") -> None:
        """Hide a run from searches (its records stay for lineage and audit)."""
        with self.db.write() as conn:
            run = self._require_run(conn, run_id)
            conn.execute(update(runs).where(runs.c.id == run_id).values(deleted=True))
            record_change(
                conn,
                type="run.deleted",
                project_id=run["project_id"],
                subject_type="run",
                subject_id=run_id,
                actor=actor,
                payload={},
            )

    def heartbeat(self, run_id: str) -> None:
        """Record that the run's process is alive."""
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=now_ms()))

    def reap_lost_runs(self, *, stale_after_ms: int, local_host: str | None = None, alive: Any = None) -> int:
        """Mark running runs whose process is gone as KILLED; returns how many.

        A run is lost when it sent no heartbeat for ``stale_after_ms``, or, when
        ``local_host``/``alive`` are given, when it ran on this host and its pid is dead.
        """
        now = now_ms()
        with self.db.write() as conn:
            rows = conn.execute(
                select(runs.c.id, runs.c.host, runs.c.pid, runs.c.heartbeat_at).where(
                    runs.c.status == RunStatus.RUNNING.value
                )
            ).all()
            lost = [
                (r.id, r.heartbeat_at)
                for r in rows
                if now - r.heartbeat_at > stale_after_ms
                or (
                    local_host is not None
                    and alive is not None
                    and r.host == local_host
                    and r.pid is not None
                    and not alive(r.pid)
                )
            ]
            for run_id, last_seen in lost:
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, runs.c.status == RunStatus.RUNNING.value)
                    .values(status=RunStatus.KILLED.value, end_time=last_seen)
                )
        return len(lost)

    # ------------------------------------------------------------ recording
    def log_batch(
        self,
        run_id: str,
        *,
        metrics_in: Sequence[dict[str, Any]] = (),
        params_in: dict[str, Any] | None = None,
        tags_in: dict[str, Any] | None = None,
        batch_id: str | None = None,
        actor: str = "",
    ) -> None:
        """Record metrics, params and tags in one transaction: all of it lands or none.

        Params are immutable: the same value again is accepted, a different one is a
        Conflict. A ``batch_id`` seen before is acknowledged without writing twice.
        """
        params_in = params_in or {}
        tags_in = tags_in or {}
        limits.check_batch_size(len(metrics_in), len(params_in), len(tags_in))
        p_rows = {limits.check_key("Param", k): limits.check_param_value(k, v) for k, v in params_in.items()}
        t_rows = {limits.check_key("Tag", k): limits.check_tag_value(k, v) for k, v in tags_in.items()}
        m_rows, latest = _check_metrics(run_id, metrics_in)

        with self.db.write() as conn:
            if batch_id is not None:
                ins = insert_for(conn, ingest_batches).values(id=batch_id, run_id=run_id, created_at=now_ms())
                if conn.execute(ins.on_conflict_do_nothing()).rowcount == 0:
                    return  # a retry of a batch that already landed
            run = self._require_run(conn, run_id, touch=True)
            if p_rows:
                self._insert_params(conn, run_id, p_rows)
            if t_rows:
                stmt = insert_for(conn, tags)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}
                    ),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in t_rows.items()],
                )
            if m_rows:
                driver_executemany(conn, _INSERT_METRICS, m_rows)
                stmt = insert_for(conn, latest_metrics)
                newer = (stmt.excluded.step > latest_metrics.c.step) | and_(
                    stmt.excluded.step == latest_metrics.c.step,
                    stmt.excluded.timestamp >= latest_metrics.c.timestamp,
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "key"],
                        set_={
                            "value": stmt.excluded.value,
                            "step": stmt.excluded.step,
                            "timestamp": stmt.excluded.timestamp,
                        },
                        where=newer,
                    ),
                    list(latest.values()),
                )
            # Audited, not broadcast: a training loop sends a batch a second.
            record_change(
                conn,
                type="run.logged",
                project_id=run["project_id"],
                subject_type="run",
                subject_id=run_id,
                actor=actor,
                notify=False,
                payload={
                    "metrics": len(m_rows),
                    "metric_keys": sorted(latest)[:50],
                    "params": p_rows,
                    "tags": sorted(t_rows),
                },
            )

    def _insert_params(self, conn: Connection, run_id: str, p_rows: dict[str, str]) -> None:
        existing = dict(
            conn.execute(
                select(params.c.key, params.c.value).where(
                    params.c.run_id == run_id, params.c.key.in_(list(p_rows))
                )
            ).all()
        )
        for key, value in p_rows.items():
            if key in existing and existing[key] != value:
                raise Conflict(
                    f"Param {key!r} was already logged as {existing[key]!r}; params cannot change "
                    f"(tried {value!r}). Log the new value under another name or start a new run."
                )
        new = [{"run_id": run_id, "key": k, "value": v} for k, v in p_rows.items() if k not in existing]
        if new:
            conn.execute(params.insert(), new)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every recorded value of one metric, ordered by step then time: one index scan."""
        limits.check_key("Metric", key)
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            rows = driver_fetchall(conn, _SELECT_HISTORY, (run_id, key))
        return MetricHistory.model_construct(
            key=key,
            steps=[r[0] for r in rows],
            values=[r[1] for r in rows],
            timestamps=[r[2] for r in rows],
        )

    # ------------------------------------------------------------ searching
    def search_runs(
        self,
        *,
        project: str | None = None,
        experiment_ids: Sequence[str] = (),
        filter: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunsPage:
        """Runs matching a filter, ordered and paginated in SQL."""
        if not 1 <= max_results <= 10_000:
            raise InvalidArgument("max_results must be between 1 and 10000.")
        project_id = self.projects.get_project(project).id if project else None
        with self.db.read() as conn:
            ids, token = search_run_ids(
                conn,
                project_id=project_id,
                experiment_ids=list(experiment_ids),
                filter_text=filter,
                order_by=list(order_by),
                max_results=max_results,
                page_token=page_token,
                include_deleted=include_deleted,
            )
            found = self._load_runs(conn, ids, with_inputs=False)
        return RunsPage(runs=found, next_page_token=token)

    # -------------------------------------------------------------- lineage
    def log_input(
        self, run_id: str, dataset: DatasetIn, context: str = "training", *, actor: str = ""
    ) -> Dataset:
        """Link a dataset version to a run; the same content is stored once per project."""
        with self.db.write() as conn:
            run = self._require_run(conn, run_id)
            key = {"project_id": run["project_id"], "name": dataset.name, "digest": dataset.digest}
            stmt = insert_for(conn, datasets).values(
                id=new_id(),
                source_type=dataset.source_type,
                source=dataset.source,
                num_rows=dataset.num_rows,
                num_columns=dataset.num_columns,
                schema=dataset.schema_,
                profile=dataset.profile,
                created_at=now_ms(),
                **key,
            )
            conn.execute(stmt.on_conflict_do_nothing())
            row = conn.execute(select(datasets).filter_by(**key)).mappings().one()
            conn.execute(
                insert_for(conn, run_inputs)
                .values(run_id=run_id, dataset_id=row["id"], context=context)
                .on_conflict_do_nothing()
            )
            record_change(
                conn,
                type="run.input_logged",
                project_id=run["project_id"],
                subject_type="run",
                subject_id=run_id,
                actor=actor,
                notify=False,
                payload={"dataset": dataset.name, "digest": dataset.digest, "context": context},
            )
        return _dataset(row)

    def get_dataset(self, dataset_id: str) -> Dataset:
        """A dataset version by id."""
        with self.db.read() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
        if row is None:
            raise NotFound(f"No dataset with id {dataset_id!r}.")
        return _dataset(row)

    def list_datasets(
        self, *, project: str, name: str | None = None, digest: str | None = None
    ) -> list[Dataset]:
        """A project's dataset versions, optionally by name or digest."""
        project_id = self.projects.get_project(project).id
        stmt = select(datasets).where(datasets.c.project_id == project_id).order_by(datasets.c.created_at)
        if name is not None:
            stmt = stmt.where(datasets.c.name == name)
        if digest is not None:
            stmt = stmt.where(datasets.c.digest == digest)
        with self.db.read() as conn:
            return [_dataset(r) for r in conn.execute(stmt).mappings()]

    def get_dataset_runs(self, dataset_id: str) -> list[DatasetUse]:
        """The runs a dataset version fed, newest first."""
        self.get_dataset(dataset_id)
        stmt = (
            select(runs.c.id, runs.c.name, runs.c.experiment_id, runs.c.status, run_inputs.c.context)
            .join(run_inputs, run_inputs.c.run_id == runs.c.id)
            .where(run_inputs.c.dataset_id == dataset_id, runs.c.deleted.is_(False))
            .order_by(runs.c.start_time.desc())
        )
        with self.db.read() as conn:
            return [
                DatasetUse(
                    run_id=r.id,
                    run_name=r.name,
                    experiment_id=r.experiment_id,
                    status=r.status,
                    context=r.context,
                )
                for r in conn.execute(stmt)
            ]

    # --------------------------------------------------------- environments
    def put_environment(self, env: Environment) -> Environment:
        """Store an environment snapshot once per digest (identical ones are shared)."""
        with self.db.write() as conn:
            conn.execute(
                insert_for(conn, environments)
                .values(
                    digest=env.digest,
                    python_version=env.python_version,
                    platform=env.platform,
                    packages=env.packages,
                    created_at=now_ms(),
                )
                .on_conflict_do_nothing()
            )
        return self.get_environment(env.digest)

    def get_environment(self, digest: str) -> Environment:
        """An environment snapshot by digest."""
        with self.db.read() as conn:
            row = conn.execute(select(environments).where(environments.c.digest == digest)).mappings().first()
        if row is None:
            raise NotFound(f"No environment snapshot {digest!r}.")
        return Environment(**row)

    # ------------------------------------------------------------ artifacts
    def write_artifact(self, run_id: str, path: str, chunks: Iterable[bytes], *, actor: str = "") -> int:
        """Stream bytes into a run's artifact folder; returns the size written."""
        size = self.store.artifacts.write_stream(self.artifact_base(run_id), path, chunks)
        self.audit_artifact(run_id, path, size, actor=actor)
        return size

    def audit_artifact(self, run_id: str, path: str, size: int, *, actor: str = "") -> None:
        """Record an artifact upload in the audit trail."""
        with self.db.write() as conn:
            run = self._require_run(conn, run_id)
            record_change(
                conn,
                type="run.artifact_written",
                project_id=run["project_id"],
                subject_type="run",
                subject_id=run_id,
                actor=actor,
                notify=False,
                payload={"path": path, "size": size},
            )

    def artifact_writer(self, run_id: str, path: str) -> AbstractContextManager[BinaryIO]:
        """A file to stream one artifact into; it appears only once closed without error."""
        return self.store.artifacts.writer(self.artifact_base(run_id), path)

    def read_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        """Stream an artifact's bytes."""
        return self.store.artifacts.iter_read(self.artifact_base(run_id), path)

    def artifact_size(self, run_id: str, path: str) -> int:
        """An artifact's size in bytes."""
        return self.store.artifacts.size(self.artifact_base(run_id), path)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """A run's artifacts under ``path``."""
        return self.store.artifacts.list(self.artifact_base(run_id), path)

    def artifact_base(self, run_id: str) -> str:
        """The URI of a run's artifact folder."""
        with self.db.read() as conn:
            run = self._require_run(conn, run_id)
        return posixpath.join(self.store.artifacts.root, run["project_id"], run_id)

    # -------------------------------------------------------------- helpers
    def _require_run(self, conn: Connection, run_id: str, *, touch: bool = False) -> Any:
        row = (
            conn.execute(select(runs.c.id, runs.c.project_id, runs.c.deleted).where(runs.c.id == run_id))
            .mappings()
            .first()
        )
        if row is None or row["deleted"]:
            raise NotFound(f"No run with id {run_id!r}.")
        if touch:
            conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=now_ms()))
        return row

    def _load_runs(self, conn: Connection, ids: list[str], *, with_inputs: bool) -> list[Run]:
        if not ids:
            return []
        rows = {
            r["id"]: dict(r) for r in conn.execute(select(*_RUN_COLUMNS).where(runs.c.id.in_(ids))).mappings()
        }
        for r in rows.values():
            r.update(params={}, metrics={}, tags={}, inputs=[] if with_inputs else None)
        for table, field in ((params, "params"), (tags, "tags"), (latest_metrics, "metrics")):
            for run_id, key, value in conn.execute(
                select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(ids))
            ):
                rows[run_id][field][key] = value
        if with_inputs:
            for row in conn.execute(
                select(run_inputs.c.run_id, run_inputs.c.context, datasets)
                .join(datasets, datasets.c.id == run_inputs.c.dataset_id)
                .where(run_inputs.c.run_id.in_(ids))
            ).mappings():
                rows[row["run_id"]]["inputs"].append(RunInput(dataset=_dataset(row), context=row["context"]))
        return [Run(**rows[i]) for i in ids if i in rows]


def _dataset(row: Any) -> Dataset:
    return Dataset(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        digest=row["digest"],
        source_type=row["source_type"],
        source=row["source"],
        num_rows=row["num_rows"],
        num_columns=row["num_columns"],
        schema=row["schema"],
        profile=row["profile"],
        created_at=row["created_at"],
    )


def _check_metrics(
    run_id: str, points: Sequence[Any]
) -> tuple[list[tuple[Any, ...]], dict[str, dict[str, Any]]]:
    """Validate metric points; returns insert rows and each key's newest point.

    This runs for every point ingested, so the common case (a float value, int step and
    timestamp) is checked inline and only unusual values go through ``limits``.
    """
    now = now_ms()
    seen_keys: set[str] = set()
    rows: list[tuple[Any, ...]] = []
    newest: dict[str, tuple[int, int, float | None]] = {}
    top = limits.MAX_FLOAT
    for p in points:
        if type(p) is not dict or "value" not in p:
            raise InvalidArgument(f"Each metric must be an object with 'key' and 'value'; got {p!r:.100}.")
        key = p.get("key")
        if key not in seen_keys:
            limits.check_key("Metric", key)
            seen_keys.add(key)
        value = p["value"]
        if type(value) is not float or not -top <= value <= top:  # NaN fails the range test too
            value = limits.check_metric_value(key, value, none_is_nan=True)
        step = p.get("step") or 0
        if type(step) is not int or not _I64_MIN <= step <= _I64_MAX:
            step = limits.check_int64("Metric step", step)
        ts = p.get("timestamp")
        if ts is None:
            ts = now
        elif type(ts) is not int or not _I64_MIN <= ts <= _I64_MAX:
            ts = limits.check_int64("Metric timestamp", ts)
        rows.append((run_id, key, value, step, ts))
        cur = newest.get(key)
        if cur is None or (step, ts) >= (cur[0], cur[1]):
            newest[key] = (step, ts, value)
    latest = {
        k: {"run_id": run_id, "key": k, "value": v, "step": st, "timestamp": ts}
        for k, (st, ts, v) in newest.items()
    }
    return rows, latest


_I64_MAX = 2**63 - 1
_I64_MIN = -_I64_MAX


def _default_run_name(run_id: str) -> str:
    return f"run-{run_id[:8]}"
