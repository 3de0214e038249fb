"""What a deployment is: which models answer, how traffic splits, what is captured, and the
humility rules that guard its answers. The serving process and the REST API share these shapes."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEPLOYMENT_NAME = re.compile(r"^[a-z][a-z0-9\-]{0,62}$")
VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,62}$")
PRIMARY = "primary"
CANARY = "canary"


def check_deployment_name(name: str) -> str:
    """Deployment names are 1-63 lower-case letters, digits or '-', starting with a letter (DNS-safe)."""
    if not isinstance(name, str) or not DEPLOYMENT_NAME.match(name):
        raise ValueError(
            f"Deployment name {name!r} is not valid: use 1-63 lower-case letters, digits or '-', starting "
            "with a letter (e.g. 'credit', 'credit-eu')."
        )
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variant(_Strict):
    """Another model on the same traffic: an A/B arm that answers a share of requests, or a shadow
    that scores every request out of band (captured under the same prediction ids, never returned)."""

    name: str = Field(description="e.g. 'challenger'; unique within the deployment")
    model_uri: str = Field(description="models:/<name>@<alias> or models:/<name>/<version>")
    mode: Literal["ab", "shadow"] = "shadow"
    weight: float = Field(default=0.0, ge=0, le=100, description="percent of traffic (ab only)")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not VARIANT_NAME.match(v) or v in (PRIMARY, CANARY):
            raise ValueError(
                f"Variant name {v!r} is not valid: use lower-case letters, digits, '_' or '-' "
                f"('{PRIMARY}' and '{CANARY}' are reserved)."
            )
        return v

    @model_validator(mode="after")
    def _weight(self) -> Variant:
        if self.mode == "shadow" and self.weight:
            raise ValueError(f"Shadow variant {self.name!r} answers no traffic: give it no weight.")
        if self.mode == "ab" and not self.weight:
            raise ValueError(f"A/B variant {self.name!r} needs a weight (percent of traffic).")
        return self


class Canary(_Strict):
    """A new model that takes traffic in steps and is rolled back by itself on a breach."""

    model_uri: str
    steps: list[float] = Field(default_factory=lambda: [5.0, 25.0, 50.0, 100.0])
    step_seconds: float = Field(default=300.0, gt=0)
    min_requests: int = Field(default=50, ge=1, description="canary requests a step needs before it advances")
    max_error_rate: float = Field(default=0.02, ge=0, le=1)
    max_p99_ms: float = Field(default=250.0, gt=0)
    # Progress, written by the serving process.
    state: Literal["running", "rolled_back", "completed"] = "running"
    step: int = Field(default=0, ge=0)
    reason: str = ""

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < s <= 100 for s in v) or v != sorted(v):
            raise ValueError("Canary steps must be rising percentages in (0, 100], e.g. [5, 25, 50, 100].")
        return v

    @property
    def weight(self) -> float:
        """The share of traffic the canary takes now (percent)."""
        return self.steps[min(self.step, len(self.steps) - 1)] if self.state == "running" else 0.0


class HumilityRule(_Strict):
    """When not to trust an answer, and what to do then.

    ``uncertain``: the score falls inside [low, high]. ``out_of_range``: a numeric input lies
    outside the training range. ``unseen_category``: a categorical input was never seen in
    training. Ranges and categories come from the version's reference profile unless given.
    """

    rule: Literal["uncertain", "out_of_range", "unseen_category"]
    action: Literal["log", "override", "error"] = "log"
    low: float | None = None
    high: float | None = None
    features: list[str] | None = Field(default=None, description="limit the rule to these inputs")
    ranges: dict[str, tuple[float, float]] | None = None
    categories: dict[str, list[str]] | None = None
    value: Any = Field(default=None, description="the answer given instead (action 'override')")

    @model_validator(mode="after")
    def _complete(self) -> HumilityRule:
        if self.rule == "uncertain" and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("An 'uncertain' rule needs low <= high (the score band it distrusts).")
        if self.action == "override" and self.value is None:
            raise ValueError(f"Rule {self.rule!r} overrides the answer: give it a 'value'.")
        return self


class CaptureSettings(_Strict):
    """Which predictions are kept for monitoring."""

    enabled: bool = True
    sample_rate: float = Field(default=1.0, ge=0, le=1)


class DeploymentSpec(_Strict):
    """What a user asks for: the body of create and update."""

    model_uri: str = Field(
        description="the primary model: models:/<name>@<alias> or models:/<name>/<version>"
    )
    production: bool = Field(default=False, description="answering models must have passed governance")
    workers: int = Field(default=1, ge=1, le=64)
    variants: list[Variant] = Field(default_factory=list)
    canary: Canary | None = None
    humility: list[HumilityRule] = Field(default_factory=list)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    description: str = Field(default="", max_length=5_000)

    @model_validator(mode="after")
    def _traffic(self) -> DeploymentSpec:
        names = [v.name for v in self.variants]
        if len(names) != len(set(names)):
            raise ValueError("Variant names must be unique within a deployment.")
        if sum(v.weight for v in self.variants if v.mode == "ab") >= 100:
            raise ValueError(
                "A/B variants must leave the primary model some traffic (weights sum below 100)."
            )
        return self


class CreateDeployment(DeploymentSpec):
    """Body of ``POST /api/v1/projects/{project}/deployments``."""

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_deployment_name(v)


class Deployment(DeploymentSpec):
    """A deployment as stored: its spec plus identity and revision."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    project_id: str
    project: str
    status: Literal["active", "deleted"] = "active"
    revision: int
    created_by: str = ""
    created_at: int
    updated_at: int

    def spec(self) -> DeploymentSpec:
        """The user-facing part (what update and rollback take)."""
        return DeploymentSpec(**self.model_dump(include=set(DeploymentSpec.model_fields)))


class DeploymentRevision(BaseModel):
    """One stored revision of a deployment's spec."""

    revision: int
    spec: dict[str, Any]
    actor: str = ""
    reason: str = ""
    at: int


class CanaryProgress(_Strict):
    """Body of ``POST /api/v1/deployments/{name}/canary``: the serving process reports a step."""

    state: Literal["running", "rolled_back", "completed"]
    step: int = Field(ge=0)
    reason: str = Field(default="", max_length=2_000)
