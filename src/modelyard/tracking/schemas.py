"""Request and response shapes for tracking, shared by the REST API and the SDK."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class RunStatus(StrEnum):
    """Lifecycle of a run."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


TERMINAL_STATUSES = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})


class Dataset(BaseModel):
    """A dataset version: content digest, schema, size and a compact profile."""

    id: str
    project_id: str
    name: str
    digest: str
    source_type: str
    source: str = ""
    num_rows: int | None = None
    num_columns: int | None = None
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    profile: dict[str, Any] = Field(default_factory=dict)
    created_at: int

    model_config = {"populate_by_name": True}


class RunInput(BaseModel):
    """A dataset a run consumed, and in what role (training, validation, ...)."""

    dataset: Dataset
    context: str


class DatasetUse(BaseModel):
    """A run that consumed a dataset (the other side of lineage)."""

    run_id: str
    run_name: str
    experiment_id: str
    status: RunStatus
    context: str


class Run(BaseModel):
    """A run with everything it recorded (metrics are each key's latest value)."""

    id: str
    name: str
    experiment_id: str
    project_id: str
    status: RunStatus
    user: str = ""
    start_time: int
    end_time: int | None = None
    entry_point: str = ""
    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str = ""
    host: str = ""
    env_digest: str | None = None
    artifact_uri: str
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: list[RunInput] | None = Field(
        default=None, description="Dataset inputs; None in search results (use get_run to load them)."
    )


class RunsPage(BaseModel):
    """One page of search results; pass ``next_page_token`` back for the next one."""

    runs: list[Run]
    next_page_token: str | None = None


class CreateRun(BaseModel):
    """Body of ``POST /api/v1/runs``: the run and the context captured by the client."""

    experiment_id: str
    name: str | None = Field(default=None, max_length=250)
    start_time: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    user: str = Field(default="", max_length=200)
    host: str = Field(default="", max_length=255)
    pid: int | None = None
    entry_point: str = Field(default="", max_length=1000)
    git_commit: str | None = Field(default=None, max_length=64)
    git_dirty: bool | None = None
    python_version: str = Field(default="", max_length=32)
    env_digest: str | None = Field(default=None, max_length=64)


class UpdateRun(BaseModel):
    """Body of ``PATCH /api/v1/runs/{id}``."""

    status: RunStatus | None = None
    end_time: int | None = None
    name: str | None = Field(default=None, max_length=250)


class MetricPoint(BaseModel):
    """One metric value; NaN travels as null."""

    key: str
    value: float | None
    step: int = 0
    timestamp: int | None = None


class LogBatch(BaseModel):
    """Body of ``POST /api/v1/runs/{id}/batch``. ``batch_id`` makes retries idempotent."""

    metrics: list[MetricPoint] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, Any] = Field(default_factory=dict)
    batch_id: str | None = Field(default=None, max_length=64)


class MetricHistory(BaseModel):
    """A metric's full history in columns (compact on the wire)."""

    key: str
    steps: list[int]
    values: list[float | None]
    timestamps: list[int]


class SearchRuns(BaseModel):
    """Body of ``POST /api/v1/runs/search``."""

    project: str | None = None
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = Field(default=None, max_length=10_000)
    order_by: list[str] = Field(default_factory=list)
    max_results: int = Field(default=100, ge=1, le=10_000)
    page_token: str | None = None
    include_deleted: bool = False


class DatasetIn(BaseModel):
    """A dataset description computed by the client (data never leaves the client)."""

    name: str = Field(min_length=1, max_length=250)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_type: str = Field(max_length=32)
    source: str = Field(default="", max_length=1000)
    num_rows: int | None = None
    num_columns: int | None = None
    schema_: list[dict[str, Any]] = Field(default_factory=list, alias="schema")
    profile: dict[str, Any] = Field(default_factory=dict)

    model_config = {"populate_by_name": True}


class LogInput(BaseModel):
    """Body of ``POST /api/v1/runs/{id}/inputs``."""

    dataset: DatasetIn
    context: str = Field(default="training", min_length=1, max_length=100)


class Environment(BaseModel):
    """An environment snapshot, stored once per content digest."""

    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    python_version: str = Field(max_length=32)
    platform: str = Field(default="", max_length=200)
    packages: list[str] = Field(default_factory=list, max_length=20_000)
    created_at: int | None = None


class ArtifactInfo(BaseModel):
    """One entry of an artifact listing."""

    path: str
    is_dir: bool
    size: int | None = None
