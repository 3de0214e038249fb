"""The module-level API: ``my.set_project``, ``my.start_run``, ``my.log_metric``, ...

It keeps one Client per process (embedded by default, a server when the tracking URI is
``http(s)://``), the current project and experiment, and a stack of active runs.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelyard.client.client import Client, MetricHistory, RunList
from modelyard.client.registry_client import ModelInfo
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.governance.schemas import PromotionRequest
from modelyard.registry.schemas import ModelVersion
from modelyard.tracking.schemas import Dataset, Environment, Run, RunStatus

if TYPE_CHECKING:
    from modelyard.models import LoadedModel

DEFAULT_PROJECT = "default"
DEFAULT_EXPERIMENT = "default"

_lock = threading.RLock()
_client: Client | None = None
_tracking_uri: str | None = None
_project = DEFAULT_PROJECT
_experiment = DEFAULT_EXPERIMENT
_experiment_id: str | None = None
_runs: list[ActiveRun] = []
_environments: set[tuple[str, str]] = set()


class ActiveRun:
    """The run a ``with my.start_run():`` block records into."""

    def __init__(self, run: Run, client: Client) -> None:
        self.info = run
        self._client = client

    @property
    def id(self) -> str:
        """The run id."""
        return self.info.id

    @property
    def name(self) -> str:
        """The run name."""
        return self.info.name

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        end_run(status, _run=self)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"


def get_client() -> Client:
    """The process-wide client (created on first use)."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(_tracking_uri)
        return _client


def set_tracking_uri(uri: str | None) -> None:
    """Send data to ``uri`` from now on: ``http(s)://host:port``, a database URI, or None for the default."""
    global _client, _tracking_uri, _experiment_id
    with _lock:
        if _runs:
            raise InvalidArgument("End the active run before changing the tracking URI.")
        if _client is not None:
            _client.close()
        _client, _tracking_uri, _experiment_id = None, uri, None
        _environments.clear()


def get_tracking_uri() -> str:
    """Where data goes now."""
    return get_client().uri


def set_project(name: str) -> None:
    """Record into this project (created on first use); the experiment goes back to "default"."""
    global _project, _experiment, _experiment_id
    with _lock:
        _project, _experiment, _experiment_id = name, DEFAULT_EXPERIMENT, None


def set_experiment(name: str) -> str:
    """Record into this experiment of the current project (created on first use); returns its id."""
    global _experiment, _experiment_id
    with _lock:
        _experiment = name
        _experiment_id = get_client().get_or_create_experiment(_project, name).id
        return _experiment_id


def _current_experiment_id() -> str:
    global _experiment_id
    if _experiment_id is None:
        _experiment_id = get_client().get_or_create_experiment(_project, _experiment).id
    return _experiment_id


def start_run(
    name: str | None = None,
    *,
    tags: dict[str, Any] | None = None,
    run_id: str | None = None,
    nested: bool = False,
) -> ActiveRun:
    """Start (or with ``run_id``, resume) a run and make it the active one.

    Captures user, host, entry point, git commit and dirty diff, Python version and an
    environment snapshot. Use as a context manager: the run ends FINISHED, or FAILED if
    the block raises.
    """
    from modelyard.tracking.capture import capture_run_context, environment_snapshot

    with _lock:
        if _runs and not nested:
            raise InvalidArgument(
                f"Run {_runs[-1].id} is already active: end it first, or pass nested=True for a child run."
            )
        client = get_client()
        if run_id is not None:
            run = client._backend.update_run(run_id, RunStatus.RUNNING, None, None)
        else:
            ctx = capture_run_context()
            env = environment_snapshot()
            if (client.uri, env.digest) not in _environments:
                client.log_environment(Environment(**env.to_dict()))
                _environments.add((client.uri, env.digest))
            all_tags = dict(tags or {})
            if _runs:
                all_tags["parent_run_id"] = _runs[-1].id
            run = client.create_run(
                _current_experiment_id(),
                name=name,
                tags=all_tags,
                user=ctx.user,
                host=ctx.host,
                pid=ctx.pid,
                entry_point=ctx.entry_point,
                git_commit=ctx.git_commit,
                git_dirty=ctx.git_dirty,
                python_version=ctx.python_version,
                env_digest=env.digest,
            )
            if ctx.git_diff:
                client.log_text(run.id, ctx.git_diff, "code/git.diff")
        active = ActiveRun(run, client)
        _runs.append(active)
        client._buffer.watch(run.id)
        return active


def active_run() -> ActiveRun | None:
    """The innermost active run, if any."""
    return _runs[-1] if _runs else None


def end_run(status: str | RunStatus = RunStatus.FINISHED, *, _run: ActiveRun | None = None) -> None:
    """End the active run (its pending metrics are stored first)."""
    with _lock:
        run = _run or (_runs[-1] if _runs else None)
        if run is None:
            return
        if run in _runs:
            _runs.remove(run)
        run.info = run._client.set_terminated(run.id, status, now_ms())


def _run_id() -> str:
    run = active_run()
    if run is None:
        run = start_run()
    return run.id


def log_param(key: str, value: Any) -> None:
    """Record a param on the active run."""
    get_client().log_param(_run_id(), key, value)


def log_params(params: dict[str, Any]) -> None:
    """Record several params on the active run."""
    get_client().log_params(_run_id(), params)


def log_metric(key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
    """Record a metric point on the active run (queued, sent in the background)."""
    get_client().log_metric(_run_id(), key, value, step=step, timestamp=timestamp)


def log_metrics(metrics: dict[str, float], step: int = 0, timestamp: int | None = None) -> None:
    """Record several metrics at one step on the active run."""
    get_client().log_metrics(_run_id(), metrics, step=step, timestamp=timestamp)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    get_client().set_tag(_run_id(), key, value)


def set_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the active run."""
    get_client().set_tags(_run_id(), tags)


def log_input(data: Any, *, name: str | None = None, context: str = "training") -> Dataset:
    """Link a dataset (DataFrame, array or file path) to the active run, with digest and profile."""
    return get_client().log_input(_run_id(), data, name=name, context=context)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> str:
    """Upload a file to the active run's artifacts."""
    return get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> list[str]:
    """Upload a folder to the active run's artifacts."""
    return get_client().log_artifacts(_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_path: str) -> None:
    """Store a string as an artifact of the active run."""
    get_client().log_text(_run_id(), text, artifact_path)


def flush() -> None:
    """Wait until every queued metric is stored."""
    get_client().flush()


def get_run(run_id: str) -> Run:
    """A run by id."""
    return get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> MetricHistory:
    """Every value of a metric of a run."""
    return get_client().get_metric_history(run_id, key)


def search_runs(
    filter: str | None = None,
    *,
    order_by: list[str] | None = None,
    max_results: int = 100,
    project: str | None = None,
    experiments: list[str] | None = None,
    page_token: str | None = None,
) -> RunList:
    """Search the current project's runs (or ``project``'s), optionally within named experiments."""
    client = get_client()
    proj = project or _project
    exp_ids = [client.get_or_create_experiment(proj, e).id for e in experiments or []]
    return client.search_runs(
        proj,
        experiment_ids=exp_ids,
        filter=filter,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
    )


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    requirements: list[str] | None = None,
    allow_pickle: bool = True,
) -> ModelInfo:
    """Save a model (safe format for its flavor, with manifest and signature) into the active run."""
    return get_client().log_model(
        _run_id(),
        model,
        name,
        input_example=input_example,
        requirements=requirements,
        allow_pickle=allow_pickle,
    )


def register_model(
    source: str | Path, name: str, *, description: str = "", tags: dict[str, str] | None = None
) -> ModelVersion:
    """Add a version of ``name`` in the current project (from ``runs:/...``, a folder or file, or MLflow)."""
    return get_client().register_model(source, name, project=_project, description=description, tags=tags)


def set_model_alias(name: str, alias: str, version: int, *, reason: str = "") -> ModelVersion:
    """Point an alias (``champion``, ``production``, ...) of a model in the current project at a version."""
    return get_client().set_model_alias(name, alias, version, project=_project, reason=reason)


def request_promotion(name: str, version: int, alias: str, *, reason: str = "") -> PromotionRequest:
    """Ask for a protected alias of a model in the current project to move to a version."""
    return get_client().request_promotion(name, version, alias, project=_project, reason=reason)


def load_model(uri: str, *, trust: bool = False) -> LoadedModel:
    """Load ``models:/name@alias``, ``models:/name/3``, ``runs:/<id>/model`` or a local folder."""
    return get_client().load_model(uri, trust=trust, project=_project)


@atexit.register
def _end_runs_at_exit() -> None:
    while _runs:
        try:
            end_run(RunStatus.FINISHED)
        except Exception as exc:
            import sys

            print(f"modelyard: could not end run at exit: {exc}", file=sys.stderr)
            _runs.pop()
