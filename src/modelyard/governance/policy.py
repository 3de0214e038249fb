"""Promotion policies per risk tier, written in YAML, and how evidence is judged against them."""

from __future__ import annotations

import operator
import re
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from modelyard.core.errors import InvalidArgument

DEFAULT_POLICIES = """\
# What moving a version onto a protected alias requires, per risk tier (SR 11-7 materiality).
low:
  protected_aliases: [production, champion]
  evidence:
    metrics: []
  approvals: {count: 0, roles: [validator, owner]}
  auto_approve: true          # applied at once when every piece of evidence passes
  expires_in_days: 14
  on_expiry: expire
medium:
  protected_aliases: [production, champion]
  evidence:
    metrics: ["auc >= 0.70"]
    card_sections: [intended_use]
  approvals: {count: 1, roles: [validator, owner]}
  separation_of_duties: true
  expires_in_days: 14
  on_expiry: expire
high:
  protected_aliases: [production, champion]
  evidence:
    metrics: ["auc >= 0.75"]
    card_sections: [intended_use, limitations]
  approvals: {count: 1, roles: [validator]}
  separation_of_duties: true
  expires_in_days: 7
  on_expiry: reject
critical:
  protected_aliases: [production, champion]
  evidence:
    metrics: ["auc >= 0.80"]
    card_sections: [intended_use, limitations, ethical_considerations]
    checks: [fairness, data_quality]
  approvals: {count: 2, roles: [validator]}
  separation_of_duties: true
  expires_in_days: 7
  on_expiry: reject
"""

_METRIC_RULE = re.compile(r"^\s*([A-Za-z0-9_\-./: ]+?)\s*(>=|<=|>|<|==|=)\s*(-?[0-9.]+(?:[eE][-+]?\d+)?)\s*$")
_OPS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "=": operator.eq,
}
TIERS = ("low", "medium", "high", "critical")


class Evidence(BaseModel):
    """What must be true of a version before it may be promoted."""

    metrics: list[str] = Field(default_factory=list, description='e.g. "auc >= 0.75" on the source run')
    artifacts: list[str] = Field(default_factory=list, description="files that must exist in the source run")
    card_sections: list[str] = Field(
        default_factory=list, description="model card sections that must be filled"
    )
    checks: list[str] = Field(default_factory=list, description="named checks that must have passed")

    @field_validator("metrics")
    @classmethod
    def _rules(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if not _METRIC_RULE.match(rule):
                raise ValueError(f"metric rule {rule!r} must look like 'auc >= 0.75'")
        return rules


class Approvals(BaseModel):
    """How many approvals, from which project roles."""

    count: int = Field(default=1, ge=0, le=10)
    roles: list[str] = Field(default_factory=lambda: ["validator"])


class TierPolicy(BaseModel):
    """The policy for one risk tier."""

    protected_aliases: list[str] = Field(default_factory=lambda: ["production", "champion"])
    evidence: Evidence = Field(default_factory=Evidence)
    approvals: Approvals = Field(default_factory=Approvals)
    separation_of_duties: bool = True
    auto_approve: bool = False
    expires_in_days: float = Field(default=14, gt=0, le=365)
    on_expiry: str = Field(default="expire", pattern="^(expire|reject)$")

    model_config = {"extra": "forbid"}


def parse_policies(document: str) -> dict[str, TierPolicy]:
    """Parse and validate a policy document (all four tiers, or any subset to override)."""
    try:
        data = yaml.safe_load(document)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"The policy is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise InvalidArgument("The policy must map risk tiers (low, medium, high, critical) to their rules.")
    out = {}
    for tier, body in data.items():
        if tier not in TIERS:
            raise InvalidArgument(f"Unknown risk tier {tier!r} in the policy; use {', '.join(TIERS)}.")
        try:
            out[tier] = TierPolicy.model_validate(body or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidArgument(f"Policy for tier {tier!r}: {where}: {first['msg']}.") from None
    return out


def dump_policy(tier: str, policy: TierPolicy) -> str:
    """One tier's policy as YAML."""
    return yaml.safe_dump({tier: policy.model_dump()}, sort_keys=False)


def check_metric(rule: str, metrics: dict[str, float | None]) -> tuple[bool, str]:
    """Judge one metric rule against a run's latest metrics."""
    m = _METRIC_RULE.match(rule)
    assert m is not None  # validated when the policy was parsed
    name, op, threshold = m.group(1), m.group(2), float(m.group(3))
    value = metrics.get(name)
    if value is None:
        return False, f"metric {name} was not recorded on the source run (needs {op} {threshold:g})"
    ok = _OPS[op](value, threshold)
    return ok, f"{name} = {value:.4g} ({'meets' if ok else 'fails'} {op} {threshold:g})"


def evidence_report(
    policy: TierPolicy,
    *,
    metrics: dict[str, float | None] | None,
    artifacts: set[str],
    card: dict[str, Any],
    checks: dict[str, bool],
) -> list[dict[str, Any]]:
    """Each piece of evidence the policy asks for, and whether it holds."""
    items: list[dict[str, Any]] = []
    for rule in policy.evidence.metrics:
        if metrics is None:
            items.append(
                {
                    "kind": "metric",
                    "rule": rule,
                    "passed": False,
                    "detail": "the version has no source run, so no metrics to check",
                }
            )
        else:
            ok, detail = check_metric(rule, metrics)
            items.append({"kind": "metric", "rule": rule, "passed": ok, "detail": detail})
    for path in policy.evidence.artifacts:
        ok = path in artifacts
        items.append(
            {
                "kind": "artifact",
                "rule": path,
                "passed": ok,
                "detail": "present in the source run" if ok else "missing from the source run's artifacts",
            }
        )
    for section in policy.evidence.card_sections:
        text = card.get(section) or ""
        ok = bool(str(text).strip())
        items.append(
            {
                "kind": "card_section",
                "rule": section,
                "passed": ok,
                "detail": "written" if ok else "empty: write it in the model card",
            }
        )
    for name in policy.evidence.checks:
        state = checks.get(name)
        items.append(
            {
                "kind": "check",
                "rule": name,
                "passed": bool(state),
                "detail": "passed" if state else ("failed" if state is False else "no result recorded"),
            }
        )
    return items
