"""Request and response shapes for the model registry."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from modelyard.core.errors import InvalidArgument


class RiskTier(StrEnum):
    """Materiality of a model (SR 11-7): decides which sign-offs a promotion needs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,99}$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_alias(alias: str) -> str:
    """Aliases are 1-100 characters: lower-case letters, digits, '_' and '-', starting with a letter."""
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias) or alias in ("latest",):
        raise InvalidArgument(
            f"Alias {alias!r} is not valid: use 1-100 lower-case letters, digits, '_' or '-', starting "
            "with a letter (e.g. 'champion', 'challenger-2'); 'latest' is reserved."
        )
    return alias


def check_model_name(name: str) -> str:
    """Model names are 1-200 characters of letters, digits, '_', '.', '-'."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name):
        raise InvalidArgument(
            f"Model name {name!r} is not valid: use 1-200 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit."
        )
    return name


class RegisteredModel(BaseModel):
    """A named model in a project, with its aliases."""

    id: str
    project_id: str
    name: str
    description: str = ""
    owner: str = ""
    risk_tier: RiskTier = RiskTier.MEDIUM
    status: str = "active"
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, int] = Field(default_factory=dict)
    latest_version: int | None = None
    created_at: int
    updated_at: int


class ModelVersion(BaseModel):
    """One immutable version of a registered model."""

    id: str
    model_id: str
    model_name: str
    project_id: str
    version: int
    status: str
    status_message: str = ""
    provenance: str
    source: str
    run_id: str | None = None
    storage_uri: str
    flavor: str = ""
    digest: str = ""
    size_bytes: int = 0
    unsafe: bool = False
    trusted: bool = False
    manifest: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    created_by: str = ""
    created_at: int
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)


class ModelsPage(BaseModel):
    """One page of a model search."""

    models: list[RegisteredModel]
    next_page_token: str | None = None


class VersionsPage(BaseModel):
    """One page of a model-version search."""

    versions: list[ModelVersion]
    next_page_token: str | None = None


class SearchRegistry(BaseModel):
    """Body of the model and version search routes (same filter language as runs)."""

    filter: str | None = Field(default=None, max_length=10_000)
    order_by: list[str] = Field(default_factory=list)
    max_results: int = Field(default=100, ge=1, le=10_000)
    page_token: str | None = None


class AliasMove(BaseModel):
    """One entry of an alias's history."""

    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str = ""
    at: int


class LineageNode(BaseModel):
    """A node of a lineage graph."""

    id: str
    type: str  # dataset | run | environment | model_version | alias
    label: str
    data: dict[str, Any] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    """A directed edge: ``source`` fed or points at ``target``."""

    source: str
    target: str
    relation: str


class Lineage(BaseModel):
    """Where a version came from and what points at it."""

    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class CreateModel(BaseModel):
    """Body of ``POST /api/v1/projects/{project}/models``."""

    name: str
    description: str = Field(default="", max_length=20_000)
    owner: str = Field(default="", max_length=200)
    risk_tier: str = Field(default="medium", description="low, medium, high or critical")
    tags: dict[str, str] = Field(default_factory=dict)


class UpdateModel(BaseModel):
    """Body of ``PATCH /api/v1/projects/{project}/models/{name}``."""

    description: str | None = Field(default=None, max_length=20_000)
    owner: str | None = Field(default=None, max_length=200)
    risk_tier: str | None = Field(default=None, description="low, medium, high or critical")
    status: str | None = Field(default=None, pattern="^(active|archived)$")


class CreateVersionFromRun(BaseModel):
    """Body of ``POST /api/v1/projects/{project}/models/{name}/versions``."""

    source: str = Field(description="runs:/<run-id>/<path to the model folder>")
    description: str = Field(default="", max_length=20_000)
    tags: dict[str, str] = Field(default_factory=dict)


class SetAlias(BaseModel):
    """Body of ``PUT /api/v1/projects/{project}/models/{name}/aliases/{alias}``."""

    version: int = Field(ge=1)
    reason: str = Field(default="", max_length=2_000)


class ModelCardSections(BaseModel):
    """User-written sections of a model card (Markdown allowed)."""

    intended_use: str = Field(default="", max_length=50_000)
    limitations: str = Field(default="", max_length=50_000)
    ethical_considerations: str = Field(default="", max_length=50_000)
    other: dict[str, str] = Field(default_factory=dict)


class SetTrusted(BaseModel):
    """Body of ``PUT /api/v1/.../versions/{version}/trusted``."""

    trusted: bool
