"""``Client``: every tracking operation with explicit ids, on a local store or a server."""

from __future__ import annotations

import atexit
import math
import os
import socket
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, overload

from modelyard.client.backend import Backend, local_files
from modelyard.client.buffer import MetricBuffer
from modelyard.client.deployment_backends import EmbeddedDeployments, HttpDeployments
from modelyard.client.deployments_client import DeploymentsMixin
from modelyard.client.embedded import EmbeddedBackend
from modelyard.client.governance_backends import EmbeddedGovernance, HttpGovernance
from modelyard.client.http import HttpBackend
from modelyard.client.monitoring_backends import EmbeddedMonitoring, HttpMonitoring
from modelyard.client.monitoring_client import MonitoringMixin
from modelyard.client.registry_backends import EmbeddedRegistry, HttpRegistry
from modelyard.client.registry_client import RegistryMixin
from modelyard.core.artifacts import ArtifactEntry, safe_relpath
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.core.settings import Settings, get_settings
from modelyard.core.store import Store
from modelyard.projects.schemas import Experiment, Project, ProjectSummary
from modelyard.tracking import limits
from modelyard.tracking.schemas import (
    CreateRun,
    Dataset,
    DatasetIn,
    DatasetUse,
    Environment,
    Run,
    RunStatus,
    SearchRuns,
)

_LIVE_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


class Metric:
    """One recorded value of a metric."""

    __slots__ = ("key", "step", "timestamp", "value")

    def __init__(self, key: str, value: float, step: int, timestamp: int) -> None:
        self.key, self.value, self.step, self.timestamp = key, value, step, timestamp

    def __repr__(self) -> str:
        return f"Metric(key={self.key!r}, value={self.value!r}, step={self.step}, timestamp={self.timestamp})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metric) and (self.key, self.value, self.step, self.timestamp) == (
            other.key,
            other.value,
            other.step,
            other.timestamp,
        )


class MetricHistory(Sequence[Metric]):
    """A metric's history, stored as columns; items are ``Metric`` objects made on access.

    ``steps``, ``values`` and ``timestamps`` are plain lists (NaN for missing values),
    cheap to hand to NumPy or pandas: ``pd.DataFrame({"step": h.steps, "value": h.values})``.
    """

    __slots__ = ("key", "steps", "timestamps", "values")

    def __init__(self, key: str, steps: list[int], values: list[float], timestamps: list[int]) -> None:
        self.key, self.steps, self.values, self.timestamps = key, steps, values, timestamps

    def __len__(self) -> int:
        return len(self.steps)

    @overload
    def __getitem__(self, i: int) -> Metric: ...
    @overload
    def __getitem__(self, i: slice) -> list[Metric]: ...
    def __getitem__(self, i: int | slice) -> Metric | list[Metric]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return Metric(self.key, self.values[i], self.steps[i], self.timestamps[i])

    def __repr__(self) -> str:
        return f"MetricHistory(key={self.key!r}, points={len(self)})"


class RunList(list[Run]):
    """A page of runs; ``next_page_token`` fetches the next page."""

    next_page_token: str | None = None


class Client(RegistryMixin, DeploymentsMixin, MonitoringMixin):
    """Tracking operations with explicit ids.

    Args:
        uri: ``http(s)://host:port`` for a server, a database URI (``sqlite:///...``,
            ``postgresql://...``) for an embedded store, or None for the configured default.
        artifacts_uri: artifact root for an embedded store (default: next to the database,
            or the configured one).
        settings: overrides the process settings (mostly for tests).
    """

    _checked_keys: ClassVar[set[str]] = set()  # metric names already validated (validation is pure)

    def __init__(
        self,
        uri: str | None = None,
        *,
        artifacts_uri: str | None = None,
        token: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        uri = self.settings.tracking_uri if uri is None else uri
        self._backend: Backend
        if uri.startswith(("http://", "https://")):
            self._backend = HttpBackend(
                uri,
                token=token if token is not None else self.settings.token,
                timeout_s=self.settings.http_timeout_s,
            )
        else:
            store_uri = uri or self.settings.resolved_store_uri
            if artifacts_uri is None:
                artifacts_uri = self.settings.artifacts_uri or _artifacts_beside(store_uri, self.settings)
            store = Store.open(store_uri, artifacts_uri)
            self._backend = EmbeddedBackend(store, store_uri)
            self._registry = EmbeddedRegistry(store)
            self._governance = EmbeddedGovernance(store)
            self._deployments = EmbeddedDeployments(store)
            self._monitoring = EmbeddedMonitoring(store, self.settings)
            self._reap_local_runs()
        if isinstance(self._backend, HttpBackend):
            self._registry = HttpRegistry(self._backend)
            self._governance = HttpGovernance(self._backend)
            self._deployments = HttpDeployments(self._backend)
            self._monitoring = HttpMonitoring(self._backend)
        self._buffer = MetricBuffer(
            self._send_batch,
            flush_interval_s=self.settings.flush_interval_s,
            max_batch_points=self.settings.max_batch_points,
            retry_timeout_s=self.settings.retry_timeout_s,
            heartbeat=self._backend.heartbeat,
            heartbeat_interval_s=self.settings.heartbeat_interval_s,
        )
        _LIVE_CLIENTS.add(self)

    @property
    def uri(self) -> str:
        """Where this client's data lives."""
        return self._backend.uri

    @property
    def is_remote(self) -> bool:
        """True when talking to a server."""
        return isinstance(self._backend, HttpBackend)

    # ------------------------------------------------------------ projects
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project."""
        return self._backend.create_project(name, description)

    def get_project(self, name: str) -> Project:
        """A project by name or id."""
        return self._backend.get_project(name)

    def list_projects(self) -> list[ProjectSummary]:
        """All projects with counts."""
        return self._backend.list_projects()

    def create_experiment(self, project: str, name: str, description: str = "") -> Experiment:
        """Create an experiment in an existing project."""
        return self._backend.create_experiment(project, name, description)

    def get_or_create_experiment(self, project: str, name: str) -> Experiment:
        """The named experiment, created with its project on first use."""
        return self._backend.ensure_experiment(project, name)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """An experiment by id."""
        return self._backend.get_experiment(experiment_id)

    def list_experiments(self, project: str) -> list[Experiment]:
        """A project's experiments."""
        return self._backend.list_experiments(project)

    # ---------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        tags: dict[str, Any] | None = None,
        start_time: int | None = None,
        **context: Any,
    ) -> Run:
        """Start a run. ``context`` takes the captured fields of ``CreateRun`` (user, host, ...)."""
        req = CreateRun(
            experiment_id=experiment_id,
            name=name,
            start_time=start_time,
            tags={k: str(v) for k, v in (tags or {}).items()},
            **context,
        )
        return self._backend.create_run(req)

    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metrics, tags and inputs (pending metrics are sent first)."""
        self._buffer.flush()
        return self._backend.get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str | RunStatus = RunStatus.FINISHED, end_time: int | None = None
    ) -> Run:
        """End a run: flushes its pending metrics, then sets the final status."""
        self._buffer.unwatch(run_id)
        self._buffer.flush()
        return self._backend.update_run(run_id, RunStatus(str(status).upper()), end_time, None)

    def rename_run(self, run_id: str, name: str) -> Run:
        """Give a run a new name."""
        return self._backend.update_run(run_id, None, None, name)

    def delete_run(self, run_id: str) -> None:
        """Hide a run from searches."""
        self._backend.delete_run(run_id)

    # ----------------------------------------------------------- recording
    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Queue one metric point; it is sent in the background (see ``flush``).

        The key and value are checked here, so a bad one fails at this call.
        """
        if key not in self._checked_keys:
            limits.check_key("Metric", key)
            self._checked_keys.add(key)
        point = {
            "key": key,
            "value": limits.check_metric_value(key, value),
            "step": step if type(step) is int else limits.check_int64("Metric step", step),
            "timestamp": now_ms() if timestamp is None else limits.check_int64("Metric timestamp", timestamp),
        }
        self._buffer.add(run_id, point)

    def log_metrics(
        self, run_id: str, metrics: dict[str, float], step: int = 0, timestamp: int | None = None
    ) -> None:
        """Queue several metrics at one step."""
        ts = now_ms() if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(run_id, key, value, step=step, timestamp=ts)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Record a param now; a different value for a logged key raises Conflict."""
        self.log_batch(run_id, params={key: value})

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Record several params in one request."""
        self.log_batch(run_id, params=params)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag now (tags may change)."""
        self.log_batch(run_id, tags={key: value})

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Set several tags in one request."""
        self.log_batch(run_id, tags=tags)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Write metrics, params and tags synchronously in one request per 10,000 metrics.

        Each metric is ``{"key", "value", "step", "timestamp"}`` (step and timestamp optional).
        """
        # The SDK, like MLflow's, records any Python value by its str(); the wire takes strings.
        params = {k: limits.check_param_value(k, _text(v)) for k, v in (params or {}).items()}
        tags = {k: limits.check_tag_value(k, _text(v)) for k, v in (tags or {}).items()}
        points = [_point(m) for m in metrics]
        chunk = limits.MAX_BATCH_METRICS
        first = points[:chunk]
        self._send_batch(run_id, first, None, params=params, tags=tags)
        for i in range(chunk, len(points), chunk):
            self._send_batch(run_id, points[i : i + chunk], None)

    def flush(self, timeout_s: float | None = None) -> None:
        """Block until every queued metric is stored; raises if delivery failed."""
        self._buffer.flush(timeout_s)

    def _send_batch(
        self,
        run_id: str,
        points: Sequence[dict[str, Any]],
        batch_id: str | None,
        *,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self._backend.log_batch(run_id, points, params or {}, tags or {}, batch_id)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every value of a metric, by step (pending points are sent first)."""
        self._buffer.flush()
        h = self._backend.get_metric_history(run_id, key)
        values = h.values
        if None in values:
            values = [math.nan if v is None else v for v in values]
        return MetricHistory(key, h.steps, values, h.timestamps)

    def search_runs(
        self,
        project: str | None = None,
        *,
        experiment_ids: Iterable[str] = (),
        filter: str | None = None,
        order_by: Iterable[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunList:
        """Runs matching a filter, e.g. ``"metrics.auc > 0.9 and params.depth = '3'"``."""
        self._buffer.flush()
        req = SearchRuns(
            project=project,
            experiment_ids=list(experiment_ids),
            filter=filter,
            order_by=list(order_by or []),
            max_results=max_results,
            page_token=page_token,
            include_deleted=include_deleted,
        )
        page = self._backend.search_runs(req)
        out = RunList(page.runs)
        out.next_page_token = page.next_page_token
        return out

    # ------------------------------------------------------------- lineage
    def log_input(
        self, run_id: str, data: Any, *, name: str | None = None, context: str = "training"
    ) -> Dataset:
        """Describe a dataset (DataFrame, array or file: digest, schema, rows, profile) and link it."""
        from modelyard.tracking.datasets import describe_dataset

        desc = describe_dataset(data, name=name)
        return self._backend.log_input(run_id, DatasetIn(**desc.to_dict()), context)

    def get_dataset(self, dataset_id: str) -> Dataset:
        """A dataset version by id."""
        return self._backend.get_dataset(dataset_id)

    def list_datasets(
        self, project: str, *, name: str | None = None, digest: str | None = None
    ) -> list[Dataset]:
        """A project's dataset versions."""
        return self._backend.list_datasets(project, name, digest)

    def get_dataset_runs(self, dataset_id: str) -> list[DatasetUse]:
        """The runs a dataset version fed."""
        return self._backend.get_dataset_runs(dataset_id)

    def log_environment(self, env: Environment) -> Environment:
        """Store an environment snapshot (once per content digest)."""
        return self._backend.put_environment(env)

    def get_environment(self, digest: str) -> Environment:
        """An environment snapshot by digest."""
        return self._backend.get_environment(digest)

    # ----------------------------------------------------------- artifacts
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Upload a file (streamed); returns its path inside the run's artifacts."""
        src = Path(local_path)
        if not src.is_file():
            raise InvalidArgument(f"No file at {str(src)!r} to log as an artifact.")
        dest = safe_relpath(f"{artifact_path.strip('/')}/{src.name}" if artifact_path else src.name)
        with src.open("rb") as f:
            self._backend.upload_artifact(run_id, dest, f)
        return dest

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Upload every file under a folder, keeping its layout."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidArgument(f"No folder at {str(root)!r} to log as artifacts.")
        out = []
        for file in local_files(root):
            rel = file.relative_to(root).as_posix()
            dest = safe_relpath(f"{artifact_path.strip('/')}/{rel}" if artifact_path else rel)
            with file.open("rb") as f:
                self._backend.upload_artifact(run_id, dest, f)
            out.append(dest)
        return out

    def log_text(self, run_id: str, text: str, artifact_path: str) -> None:
        """Store a string as a UTF-8 artifact."""
        import io

        self._backend.upload_artifact(run_id, safe_relpath(artifact_path), io.BytesIO(text.encode()))

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactEntry]:
        """Files and folders under ``path``."""
        return self._backend.list_artifacts(run_id, path)

    def download_artifact(self, run_id: str, path: str, dst: str | os.PathLike[str]) -> Path:
        """Stream an artifact to a local file (or into a folder) and return its path."""
        target = Path(dst)
        if target.is_dir():
            target = target / Path(safe_relpath(path)).name
        tmp = target.with_name(target.name + ".part")
        try:
            with tmp.open("wb") as f:
                for chunk in self._backend.download_artifact(run_id, path):
                    f.write(chunk)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    # ----------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Flush pending metrics and release connections."""
        try:
            self._buffer.close()
        finally:
            self._backend.close()
            _LIVE_CLIENTS.discard(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reap_local_runs(self) -> None:
        """Embedded mode: runs started on this host whose process is gone are marked KILLED."""
        backend = self._backend
        assert isinstance(backend, EmbeddedBackend)
        backend.tracking.reap_lost_runs(
            stale_after_ms=int(self.settings.run_stale_after_s * 1000),
            local_host=socket.gethostname(),
            alive=_pid_alive,
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _point(m: dict[str, Any]) -> dict[str, Any]:
    """Check one metric for ``log_batch``; the common case (float value, int step) stays cheap."""
    if type(m) is not dict or "key" not in m or "value" not in m:
        raise InvalidArgument(f"Each metric must be a dict with 'key' and 'value'; got {m!r:.100}.")
    key, value = m["key"], m["value"]
    if key not in Client._checked_keys:
        limits.check_key("Metric", key)
        Client._checked_keys.add(key)
    if type(value) is not float or not -limits.MAX_FLOAT <= value <= limits.MAX_FLOAT:
        value = limits.check_metric_value(key, value)
    step, ts = m.get("step") or 0, m.get("timestamp")
    return {
        "key": key,
        "value": value,
        "step": step if type(step) is int else limits.check_int64("Metric step", step),
        "timestamp": now_ms()
        if ts is None
        else ts
        if type(ts) is int
        else limits.check_int64("Metric timestamp", ts),
    }


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _artifacts_beside(store_uri: str, settings: Settings) -> str:
    """Default artifact root: next to a SQLite file, else the configured default."""
    if store_uri.startswith("sqlite:///"):
        db = Path(store_uri[len("sqlite:///") :]).expanduser()
        if db.name and str(db) != ":memory:" and db != settings.home / "modelyard.db":
            return str(db.with_name(db.stem + "-artifacts"))
    return settings.resolved_artifacts_uri


@atexit.register
def _flush_all_clients() -> None:
    for client in list(_LIVE_CLIENTS):
        try:
            client._buffer.close(timeout_s=client.settings.retry_timeout_s)
        except Exception as exc:  # at exit there is no caller left to raise to
            import sys

            print(f"modelyard: could not deliver all metrics at exit: {exc}", file=sys.stderr)
