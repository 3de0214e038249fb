"""Request and response shapes for governance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Review(BaseModel):
    """One reviewer's decision on a promotion request."""

    reviewer: str
    role: str
    decision: str
    comment: str = ""
    at: int


class PromotionRequest(BaseModel):
    """A request to move a protected alias to a version, with its evidence and reviews."""

    id: str
    project_id: str
    model_name: str
    version: int
    alias: str
    tier: str
    status: str  # pending | applied | rejected | expired
    requested_by: str
    reason: str = ""
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    approvals_needed: int
    approvals: int
    outcome: str = ""
    reviews: list[Review] = Field(default_factory=list)
    created_at: int
    expires_at: int
    decided_at: int | None = None


class CreatePromotion(BaseModel):
    """Body of ``POST /api/v1/projects/{project}/promotions``."""

    model: str
    version: int = Field(ge=1)
    alias: str
    reason: str = Field(default="", max_length=5_000)


class ReviewBody(BaseModel):
    """Body of ``POST /api/v1/promotions/{request_id}/approve`` and ``/reject``."""

    comment: str = Field(default="", max_length=5_000)


class CheckResult(BaseModel):
    """Body of ``POST .../checks``: the outcome of a named check (fairness, data_quality, ...)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,99}$")
    passed: bool
    details: dict[str, Any] = Field(default_factory=dict)
