"""Risk-tier policies, the promotion workflow and the alias gate (service level, SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from modelyard.core.errors import Conflict, InvalidArgument, PermissionDenied
from modelyard.core.store import Store
from modelyard.events.service import EventService
from modelyard.governance.service import GovernanceService
from modelyard.registry.schemas import ModelCardSections
from modelyard.registry.service import RegistryService
from modelyard.tracking.schemas import CreateRun
from modelyard.tracking.service import TrackingService

HOUR_MS = 3_600_000


def _write_model(write, files: dict[str, bytes]) -> None:
    """Lay out a minimal model folder: the files plus a manifest listing their digests."""
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = {
        "flavor": "sklearn",
        "files": digests,
        "size_bytes": sum(map(len, files.values())),
        "digest": hashlib.sha256("".join(sorted(digests.values())).encode()).hexdigest(),
        "unsafe": False,
    }
    for name, data in files.items():
        write(name, data)
    write("MODEL.json", orjson.dumps(manifest))


@pytest.fixture
def env(store: Store, project: str):
    tracking = TrackingService(store)
    registry = RegistryService(store)
    gov = GovernanceService(store, registry)
    tracking.projects.get_or_create_project(name=project, created_by="alice")

    def version(model: str, *, tier: str = "high", auc: float = 0.8, author: str = "alice"):
        if model not in {m.name for m in registry.list_models(project=project)}:
            registry.create_model(project=project, name=model, risk_tier=tier, actor=author)
        exp = tracking.projects.get_or_create_experiment(project=project, name="e")
        run = tracking.create_run(CreateRun(experiment_id=exp.id, user=author))
        tracking.log_batch(run.id, metrics_in=[{"key": "auc", "value": auc}])
        _write_model(
            lambda name, data: tracking.write_artifact(run.id, f"model/{name}", [data]),
            {"weights.bin": b"w" * 100},
        )
        return registry.create_version(
            project=project, name=model, source=f"runs:/{run.id}/model", actor=author
        )

    return registry, gov, version, project


def _card(registry: RegistryService, v, **sections) -> None:
    registry.put_card_sections(v, ModelCardSections(**sections))


def test_protected_alias_cannot_be_moved_directly(env) -> None:
    registry, _, version, project = env
    v = version("pd-model")
    with pytest.raises(
        PermissionDenied, match=r"'champion' of 'pd-model' \(high risk\) is protected.*validator"
    ):
        registry.set_alias(
            project=project, name="pd-model", alias="champion", version=v.version, actor="alice"
        )
    moved = registry.set_alias(
        project=project, name="pd-model", alias="staging", version=v.version, actor="alice"
    )
    assert moved.aliases == ["staging"]  # unprotected aliases move freely


def test_high_tier_needs_evidence_and_a_validator(env) -> None:
    registry, gov, version, project = env
    v = version("pd-model", auc=0.81)
    req = gov.request_promotion(
        project=project,
        model="pd-model",
        version=v.version,
        alias="champion",
        actor="alice",
        reason="quarterly refresh",
    )
    assert req.status == "pending" and req.approvals_needed == 1
    evidence = {e["rule"]: e["passed"] for e in req.evidence}
    assert evidence == {"auc >= 0.75": True, "intended_use": False, "limitations": False}

    with pytest.raises(PermissionDenied, match="Separation of duties: alice requested"):
        gov.review(req.id, reviewer="alice", roles={"validator"}, approve=True)
    with pytest.raises(PermissionDenied, match="needs one of these project roles: validator"):
        gov.review(req.id, reviewer="bob", roles={"contributor"}, approve=True)

    after = gov.review(
        req.id, reviewer="vera", roles={"validator"}, approve=True, comment="numbers check out"
    )
    assert after.status == "pending" and after.approvals == 1  # approved, but the card is not written
    assert registry.get_model(project=project, name="pd-model").aliases == {}

    _card(registry, v, intended_use="Retail PD.", limitations="Not for SMEs.")
    done = gov.get_request(req.id)
    assert done.status == "applied" and "1 approval(s)" in done.outcome
    assert registry.get_model(project=project, name="pd-model").aliases == {"champion": v.version}
    history = registry.alias_history(project=project, name="pd-model", alias="champion")
    assert history[-1].to_version == v.version and req.id in history[-1].reason
    with pytest.raises(Conflict, match="already applied"):
        gov.review(req.id, reviewer="vic", roles={"validator"}, approve=True)


def test_version_author_cannot_approve(env) -> None:
    _, gov, version, project = env
    v = version("authored", author="carol")
    req = gov.request_promotion(
        project=project, model="authored", version=v.version, alias="champion", actor="alice"
    )
    with pytest.raises(PermissionDenied, match="carol registered this version"):
        gov.review(req.id, reviewer="carol", roles={"validator"}, approve=True)


def test_rejection_records_why(env) -> None:
    registry, gov, version, project = env
    v = version("rej")
    req = gov.request_promotion(
        project=project, model="rej", version=v.version, alias="production", actor="alice"
    )
    out = gov.review(req.id, reviewer="vera", roles={"validator"}, approve=False, comment="drift on income")
    assert out.status == "rejected" and "drift on income" in out.outcome
    assert [r.decision for r in out.reviews] == ["reject"]
    assert registry.get_model(project=project, name="rej").aliases == {}


def test_expiry_follows_the_policy(env) -> None:
    _, gov, version, project = env
    high = version("old-high", tier="high")
    medium = version("old-medium", tier="medium")
    r1 = gov.request_promotion(
        project=project, model="old-high", version=high.version, alias="champion", actor="alice"
    )
    r2 = gov.request_promotion(
        project=project, model="old-medium", version=medium.version, alias="champion", actor="alice"
    )
    assert gov.expire_due(now=r1.created_at + 8 * 24 * HOUR_MS) >= 1  # high expires after 7 days
    assert gov.get_request(r1.id).status == "rejected"  # high: on_expiry reject
    assert gov.get_request(r2.id).status == "pending"  # medium lives 14 days
    gov.expire_due(now=r2.created_at + 15 * 24 * HOUR_MS)
    ended = gov.get_request(r2.id)
    assert ended.status == "expired" and "expired before" in ended.outcome


def test_low_tier_auto_approves_when_evidence_passes(env) -> None:
    registry, gov, version, project = env
    v = version("low-model", tier="low")
    moved = registry.set_alias(
        project=project, name="low-model", alias="champion", version=v.version, actor="alice"
    )
    assert moved.aliases == ["champion"]
    [req] = gov.list_requests(project_id=v.project_id, status="applied")
    assert req.alias == "champion" and "auto-approved" in req.outcome

    gov.set_policies(
        "low:\n  evidence: {metrics: ['auc >= 0.99']}\n  approvals: {count: 0}\n  auto_approve: true\n",
        actor="admin",
    )
    v2 = version("low-model", tier="low", auc=0.8)
    with pytest.raises(PermissionDenied, match=r"auc = 0.8 \(fails >= 0.99\)"):
        registry.set_alias(
            project=project, name="low-model", alias="champion", version=v2.version, actor="alice"
        )
    assert registry.get_model(project=project, name="low-model").aliases == {"champion": v.version}
    gov.set_policies("low:\n  approvals: {count: 0}\n  auto_approve: true\n", actor="admin")


def test_critical_needs_named_checks_and_two_approvals(env) -> None:
    registry, gov, version, project = env
    v = version("crit", tier="critical", auc=0.9)
    _card(registry, v, intended_use="x", limitations="y", ethical_considerations="z")
    req = gov.request_promotion(
        project=project, model="crit", version=v.version, alias="production", actor="alice"
    )
    gov.review(req.id, reviewer="v1", roles={"validator"}, approve=True)
    gov.review(req.id, reviewer="v2", roles={"validator"}, approve=True)
    assert gov.get_request(req.id).status == "pending"  # fairness and data_quality not recorded yet
    gov.record_check(v, name="fairness", passed=True, details={"disparate_impact": 0.91}, actor="monitor")
    gov.record_check(v, name="data_quality", passed=False, details={}, actor="monitor")
    assert gov.get_request(req.id).status == "pending"
    gov.record_check(v, name="data_quality", passed=True, details={}, actor="monitor")
    assert gov.get_request(req.id).status == "applied"


def test_admins_replace_policies_and_bad_yaml_is_explained(env) -> None:
    _, gov, version, project = env
    with pytest.raises(InvalidArgument, match="Unknown risk tier 'extreme'"):
        gov.set_policies("extreme: {}", actor="admin")
    with pytest.raises(InvalidArgument, match=r"approvals.count"):
        gov.set_policies("high:\n  approvals: {count: -1}\n", actor="admin")
    with pytest.raises(InvalidArgument, match="metric rule 'auc is good'"):
        gov.set_policies("high:\n  evidence: {metrics: ['auc is good']}\n", actor="admin")
    try:
        gov.set_policies(
            "high:\n  protected_aliases: [production, champion, gold]\n  approvals: {count: 2, "
            "roles: [validator]}\n  evidence: {metrics: ['auc >= 0.75']}\n",
            actor="admin",
        )
        assert gov.policies()["high"].approvals.count == 2
        v = version("two-eyes")
        req = gov.request_promotion(
            project=project, model="two-eyes", version=v.version, alias="gold", actor="alice"
        )
        assert req.approvals_needed == 2
        assert gov.review(req.id, reviewer="v1", roles={"validator"}, approve=True).status == "pending"
        assert gov.review(req.id, reviewer="v2", roles={"validator"}, approve=True).status == "applied"
    finally:
        from modelyard.governance.policy import DEFAULT_POLICIES

        gov.set_policies(DEFAULT_POLICIES, actor="admin")


def test_reviewers_are_notified_by_event(env, store: Store) -> None:
    _, gov, version, project = env
    v = version("notify")
    req = gov.request_promotion(
        project=project, model="notify", version=v.version, alias="champion", actor="alice"
    )
    events = EventService(store.db).list_events(project_id=v.project_id, type="promotion.requested")
    mine = [e for e in events if e.subject_id == req.id]
    assert mine and mine[0].payload["reviewers"] == ["validator"] and mine[0].actor == "alice"
