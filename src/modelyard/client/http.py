"""The backend that talks to a Modelyard server over its REST API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
import orjson

from modelyard import __version__
from modelyard.client.backend import iter_file
from modelyard.core.artifacts import ArtifactEntry
from modelyard.core.errors import ModelyardError, Unavailable, error_from_dict
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


def _q(segment: str) -> str:
    return quote(segment, safe="")


def raise_for_error(resp: httpx.Response) -> None:
    """Turn an error response into the typed error the server raised."""
    if resp.status_code < 400:
        return
    try:
        body = orjson.loads(resp.content)["error"]
        err = error_from_dict(body, resp.status_code)
    except Exception:
        err = (Unavailable if resp.status_code in (502, 503, 504) else ModelyardError)(
            f"Server answered HTTP {resp.status_code}: {resp.text[:200]}"
        )
    raise err


class HttpBackend:
    """REST calls with keep-alive; errors come back as the same typed exceptions."""

    def __init__(self, uri: str, *, token: str = "", timeout_s: float = 60.0) -> None:
        self.uri = uri.rstrip("/")
        headers = {"User-Agent": f"modelyard-python/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.uri, headers=headers, timeout=timeout_s)

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: Any = None,
    ) -> Any:
        try:
            if json is not None:
                resp = self.http.request(
                    method,
                    path,
                    content=orjson.dumps(json),
                    params=params,
                    headers={"Content-Type": "application/json"},
                )
            else:
                resp = self.http.request(method, path, params=params, content=content)
        except httpx.TransportError as exc:
            raise Unavailable(f"Cannot reach the Modelyard server at {self.uri}: {exc}") from exc
        raise_for_error(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        return orjson.loads(resp.content)

    # projects
    def create_project(self, name: str, description: str) -> Project:
        return Project(
            **self._call("POST", "/api/v1/projects", json={"name": name, "description": description})
        )

    def get_project(self, ref: str) -> Project:
        return Project(**self._call("GET", f"/api/v1/projects/{_q(ref)}"))

    def list_projects(self) -> list[ProjectSummary]:
        return [ProjectSummary(**p) for p in self._call("GET", "/api/v1/projects")]

    def ensure_experiment(self, project: str, name: str) -> Experiment:
        return Experiment(**self._call("PUT", f"/api/v1/projects/{_q(project)}/experiments/{_q(name)}"))

    def create_experiment(self, project: str, name: str, description: str) -> Experiment:
        body = {"name": name, "description": description}
        return Experiment(**self._call("POST", f"/api/v1/projects/{_q(project)}/experiments", json=body))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return Experiment(**self._call("GET", f"/api/v1/experiments/{_q(experiment_id)}"))

    def list_experiments(self, project: str) -> list[Experiment]:
        return [Experiment(**e) for e in self._call("GET", f"/api/v1/projects/{_q(project)}/experiments")]

    # runs
    def create_run(self, req: CreateRun) -> Run:
        return Run(**self._call("POST", "/api/v1/runs", json=req.model_dump()))

    def get_run(self, run_id: str) -> Run:
        return Run(**self._call("GET", f"/api/v1/runs/{_q(run_id)}"))

    def update_run(
        self, run_id: str, status: RunStatus | None, end_time: int | None, name: str | None
    ) -> Run:
        body = {"status": status, "end_time": end_time, "name": name}
        return Run(**self._call("PATCH", f"/api/v1/runs/{_q(run_id)}", json=body))

    def delete_run(self, run_id: str) -> None:
        self._call("DELETE", f"/api/v1/runs/{_q(run_id)}")

    def heartbeat(self, run_id: str) -> None:
        self._call("POST", f"/api/v1/runs/{_q(run_id)}/heartbeat")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]],
        params: dict[str, Any],
        tags: dict[str, Any],
        batch_id: str | None,
    ) -> None:
        body = {"metrics": list(metrics), "params": params, "tags": tags, "batch_id": batch_id}
        self._call("POST", f"/api/v1/runs/{_q(run_id)}/batch", json=body)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        data = self._call("GET", f"/api/v1/runs/{_q(run_id)}/metrics/history", params={"key": key})
        return MetricHistory.model_construct(**data)

    def search_runs(self, req: SearchRuns) -> RunsPage:
        return RunsPage(**self._call("POST", "/api/v1/runs/search", json=req.model_dump()))

    # lineage and environments
    def log_input(self, run_id: str, dataset: DatasetIn, context: str) -> Dataset:
        body = {"dataset": dataset.model_dump(by_alias=True), "context": context}
        return Dataset(**self._call("POST", f"/api/v1/runs/{_q(run_id)}/inputs", json=body))

    def get_dataset(self, dataset_id: str) -> Dataset:
        return Dataset(**self._call("GET", f"/api/v1/datasets/{_q(dataset_id)}"))

    def list_datasets(self, project: str, name: str | None, digest: str | None) -> list[Dataset]:
        params = {k: v for k, v in (("name", name), ("digest", digest)) if v is not None}
        found = self._call("GET", f"/api/v1/projects/{_q(project)}/datasets", params=params)
        return [Dataset(**d) for d in found]

    def get_dataset_runs(self, dataset_id: str) -> list[DatasetUse]:
        return [DatasetUse(**u) for u in self._call("GET", f"/api/v1/datasets/{_q(dataset_id)}/runs")]

    def put_environment(self, env: Environment) -> Environment:
        return Environment(**self._call("PUT", f"/api/v1/environments/{env.digest}", json=env.model_dump()))

    def get_environment(self, digest: str) -> Environment:
        return Environment(**self._call("GET", f"/api/v1/environments/{_q(digest)}"))

    # artifacts
    def _artifact_url(self, run_id: str, path: str) -> str:
        return f"/api/v1/runs/{_q(run_id)}/artifacts/{quote(path, safe='/')}"

    def upload_artifact(self, run_id: str, path: str, source: BinaryIO) -> None:
        self._call("PUT", self._artifact_url(run_id, path), content=iter_file(source))

    def download_artifact(self, run_id: str, path: str) -> Iterator[bytes]:
        try:
            with self.http.stream("GET", self._artifact_url(run_id, path)) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise_for_error(resp)
                yield from resp.iter_bytes(1024 * 1024)
        except httpx.TransportError as exc:
            raise Unavailable(f"Cannot reach the Modelyard server at {self.uri}: {exc}") from exc

    def list_artifacts(self, run_id: str, path: str) -> list[ArtifactEntry]:
        found = self._call("GET", f"/api/v1/runs/{_q(run_id)}/artifacts", params={"path": path})
        return [ArtifactEntry(**e) for e in found]

    def close(self) -> None:
        self.http.close()
