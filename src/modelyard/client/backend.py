"""The operations a Client needs from wherever the data lives.

``EmbeddedBackend`` calls the services in-process; ``HttpBackend`` calls the REST API.
Both return the same schema objects and raise the same typed errors, which is what
lets one test suite run against both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from modelyard.core.artifacts import ArtifactEntry
from modelyard.projects.schemas import Experiment, Project, ProjectSummary
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


class Backend(Protocol):
    """What both backends implement."""

    uri: str

    def create_project(self, name: str, description: str) -> Project: ...
    def get_project(self, ref: str) -> Project: ...
    def list_projects(self) -> list[ProjectSummary]: ...
    def ensure_experiment(self, project: str, name: str) -> Experiment: ...
    def create_experiment(self, project: str, name: str, description: str) -> Experiment: ...
    def get_experiment(self, experiment_id: str) -> Experiment: ...
    def list_experiments(self, project: str) -> list[Experiment]: ...

    def create_run(self, req: CreateRun) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def update_run(
        self, run_id: str, status: RunStatus | None, end_time: int | None, name: str | None
    ) -> Run: ...
    def delete_run(self, run_id: str) -> None: ...
    def heartbeat(self, run_id: str) -> None: ...
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]],
        params: dict[str, Any],
        tags: dict[str, Any],
        batch_id: str | None,
    ) -> None: ...
    def get_metric_history(self, run_id: str, key: str) -> MetricHistory: ...
    def search_runs(self, req: SearchRuns) -> RunsPage: ...

    def log_input(self, run_id: str, dataset: DatasetIn, context: str) -> Dataset: ...
    def get_dataset(self, dataset_id: str) -> Dataset: ...
    def list_datasets(self, project: str, name: str | None, digest: str | None) -> list[Dataset]: ...
    def get_dataset_runs(self, dataset_id: str) -> list[DatasetUse]: ...
    def put_environment(self, env: Environment) -> Environment: ...
    def get_environment(self, digest: str) -> Environment: ...

    def upload_artifact(self, run_id: str, path: str, source: BinaryIO) -> None: ...
    def download_artifact(self, run_id: str, path: str) -> Iterator[bytes]: ...
    def list_artifacts(self, run_id: str, path: str) -> list[ArtifactEntry]: ...

    def close(self) -> None: ...


def iter_file(f: BinaryIO, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
    """Read an open file in chunks."""
    while chunk := f.read(chunk_size):
        yield chunk


def local_files(folder: Path) -> Iterator[Path]:
    """Regular files under ``folder``, sorted, not following symlinked folders."""
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            yield p
