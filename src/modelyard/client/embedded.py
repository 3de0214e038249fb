"""The backend that calls the services in this process, on a local store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from modelyard.client.backend import iter_file
from modelyard.core.artifacts import ArtifactEntry
from modelyard.core.store import Store
from modelyard.projects.schemas import Experiment, Project, ProjectSummary
from modelyard.projects.service import ProjectService
from modelyard.tracking.schemas import (
    CreateRun,
    Dataset,
    DatasetIn,
    DatasetUse,
    Environment,
    MetricHistory,
    Run,
    RunsPage,
    RunStatus,
    SearchRuns,
)
from modelyard.tracking.service import TrackingService


class EmbeddedBackend:
    """Direct service calls on a SQLite or PostgreSQL store; no server involved."""

    def __init__(self, store: Store, uri: str) -> None:
        self.store = store
        self.uri = uri
        self.projects = ProjectService(store.db)
        self.tracking = TrackingService(store)

    def create_project(self, name: str, description: str) -> Project:
        return self.projects.create_project(name=name, description=description)

    def get_project(self, ref: str) -> Project:
        return self.projects.get_project(ref)

    def list_projects(self) -> list[ProjectSummary]:
        return self.projects.list_projects()

    def ensure_experiment(self, project: str, name: str) -> Experiment:
        self.projects.get_or_create_project(name=project)
        return self.projects.get_or_create_experiment(project=project, name=name)

    def create_experiment(self, project: str, name: str, description: str) -> Experiment:
        return self.projects.create_experiment(project=project, name=name, description=description)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.projects.get_experiment(experiment_id)

    def list_experiments(self, project: str) -> list[Experiment]:
        return self.projects.list_experiments(project=project)

    def create_run(self, req: CreateRun) -> Run:
        return self.tracking.create_run(req)

    def get_run(self, run_id: str) -> Run:
        return self.tracking.get_run(run_id)

    def update_run(
        self, run_id: str, status: RunStatus | None, end_time: int | None, name: str | None
    ) -> Run:
        return self.tracking.update_run(run_id, status=status, end_time=end_time, name=name)

    def delete_run(self, run_id: str) -> None:
        self.tracking.delete_run(run_id)

    def heartbeat(self, run_id: str) -> None:
        self.tracking.heartbeat(run_id)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]],
        params: dict[str, Any],
        tags: dict[str, Any],
        batch_id: str | None,
    ) -> None:
        self.tracking.log_batch(run_id, metrics_in=metrics, params_in=params, tags_in=tags, batch_id=batch_id)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        return self.tracking.get_metric_history(run_id, key)

    def search_runs(self, req: SearchRuns) -> RunsPage:
        return self.tracking.search_runs(**req.model_dump())

    def log_input(self, run_id: str, dataset: DatasetIn, context: str) -> Dataset:
        return self.tracking.log_input(run_id, dataset, context)

    def get_dataset(self, dataset_id: str) -> Dataset:
        return self.tracking.get_dataset(dataset_id)

    def list_datasets(self, project: str, name: str | None, digest: str | None) -> list[Dataset]:
        return self.tracking.list_datasets(project=project, name=name, digest=digest)

    def get_dataset_runs(self, dataset_id: str) -> list[DatasetUse]:
        return self.tracking.get_dataset_runs(dataset_id)

    def put_environment(self, env: Environment) -> Environment:
        return self.tracking.put_environment(env)

    def get_environment(self, digest: str) -> Environment:
        return self.tracking.get_environment(digest)

    def upload_artifact(self, run_id: str, path: str, source: BinaryIO) -> None:
        self.tracking.write_artifact(run_id, path, iter_file(source))

    def download_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        return self.tracking.read_artifact(run_id, path)

    def list_artifacts(self, run_id: str, path: str) -> list[ArtifactEntry]:
        return self.tracking.list_artifacts(run_id, path)

    def close(self) -> None:
        self.store.close()
