"""The promotion workflow and the gate that keeps protected aliases behind it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from modelyard.audit.record import record_change
from modelyard.core.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from modelyard.core.ids import new_id, now_ms
from modelyard.core.sql import insert_for
from modelyard.core.store import Store
from modelyard.governance.gate import current_policies
from modelyard.governance.policy import TierPolicy, dump_policy, evidence_report, parse_policies
from modelyard.governance.schemas import PromotionRequest, Review
from modelyard.governance.tables import (
    check_results,
    governance_policies,
    promotion_requests,
    promotion_reviews,
)
from modelyard.registry.schemas import ModelVersion, check_alias
from modelyard.registry.service import RegistryService

_DAY_MS = 86_400_000


class GovernanceService:
    """Policies per risk tier, promotion requests and their reviews."""

    def __init__(self, store: Store, registry: RegistryService | None = None) -> None:
        self.store = store
        self.db = store.db
        self.registry = registry or RegistryService(store)

    # ------------------------------------------------------------- policies
    def policies(self) -> dict[str, TierPolicy]:
        """The policy in force for each tier (admin overrides on top of the defaults)."""
        return current_policies(self.db)

    def set_policies(self, document: str, *, actor: str) -> dict[str, TierPolicy]:
        """Replace the policy of every tier the YAML document names."""
        parsed = parse_policies(document)
        with self.db.write() as conn:
            for tier, policy in parsed.items():
                text = dump_policy(tier, policy)
                stmt = insert_for(conn, governance_policies)
                conn.execute(
                    stmt.values(
                        tier=tier, document=text, updated_by=actor, updated_at=now_ms()
                    ).on_conflict_do_update(
                        index_elements=["tier"],
                        set_={
                            "document": stmt.excluded.document,
                            "updated_by": stmt.excluded.updated_by,
                            "updated_at": stmt.excluded.updated_at,
                        },
                    )
                )
            record_change(
                conn,
                type="governance.policy_changed",
                project_id=None,
                subject_type="policy",
                subject_id=",".join(sorted(parsed)),
                actor=actor,
                payload={"tiers": sorted(parsed)},
            )
        return self.policies()

    # ------------------------------------------------------------- workflow
    def request_promotion(
        self, *, project: str, model: str, version: int, alias: str, actor: str, reason: str = ""
    ) -> PromotionRequest:
        """Ask for ``alias`` to move to ``version``; low-tier requests with passing evidence apply at once."""
        check_alias(alias)
        v = self.registry.get_version(project=project, name=model, version=version)
        m = self.registry.get_model(project=project, name=model)
        tier = m.risk_tier.value
        policy = self.policies()[tier]
        if alias not in policy.protected_aliases:
            raise InvalidArgument(
                f"Alias {alias!r} is not protected for {tier}-risk models: move it directly."
            )
        evidence = self._evidence(v, policy)
        now = now_ms()
        request_id = new_id()
        with self.db.write() as conn:
            conn.execute(
                promotion_requests.insert().values(
                    id=request_id,
                    project_id=v.project_id,
                    model_id=v.model_id,
                    version_id=v.id,
                    alias=alias,
                    tier=tier,
                    policy=policy.model_dump(),
                    status="pending",
                    requested_by=actor,
                    reason=reason,
                    evidence=evidence,
                    outcome="",
                    created_at=now,
                    expires_at=now + int(policy.expires_in_days * _DAY_MS),
                    decided_at=None,
                )
            )
            record_change(
                conn,
                type="promotion.requested",
                project_id=v.project_id,
                subject_type="promotion",
                subject_id=request_id,
                actor=actor,
                payload={
                    "model": model,
                    "version": version,
                    "alias": alias,
                    "tier": tier,
                    "reviewers": policy.approvals.roles,
                    "approvals_needed": policy.approvals.count,
                    "evidence_passed": all(e["passed"] for e in evidence),
                },
            )
        self._maybe_apply(request_id)
        return self.get_request(request_id)

    def review(
        self, request_id: str, *, reviewer: str, roles: set[str], approve: bool, comment: str = ""
    ) -> PromotionRequest:
        """Approve or reject a pending request; the alias moves once the policy is satisfied."""
        self.expire_due()
        req = self._row(request_id)
        if req["status"] != "pending":
            raise Conflict(f"Promotion request {request_id} is already {req['status']}.")
        policy = TierPolicy.model_validate(req["policy"])
        version = self._version_row(req)
        if policy.separation_of_duties and reviewer in (req["requested_by"], version.created_by):
            who = "requested this promotion" if reviewer == req["requested_by"] else "registered this version"
            raise PermissionDenied(
                f"Separation of duties: {reviewer} {who} and cannot review it; another reviewer must."
            )
        allowed = [r for r in policy.approvals.roles if r in roles]
        if not allowed:
            raise PermissionDenied(
                f"Reviewing a {req['tier']}-risk promotion needs one of these project roles: "
                f"{', '.join(policy.approvals.roles)}."
            )
        with self.db.write() as conn:
            done = conn.execute(
                select(promotion_reviews.c.id).where(
                    promotion_reviews.c.request_id == request_id, promotion_reviews.c.reviewer == reviewer
                )
            ).first()
            if done is not None:
                raise Conflict(f"{reviewer} has already reviewed promotion request {request_id}.")
            conn.execute(
                promotion_reviews.insert().values(
                    request_id=request_id,
                    reviewer=reviewer,
                    role=allowed[0],
                    decision="approve" if approve else "reject",
                    comment=comment,
                    at=now_ms(),
                )
            )
            if not approve:
                self._finish(
                    conn, req, "rejected", f"rejected by {reviewer}: {comment or 'no comment'}", reviewer
                )
            else:
                record_change(
                    conn,
                    type="promotion.approved",
                    project_id=req["project_id"],
                    subject_type="promotion",
                    subject_id=request_id,
                    actor=reviewer,
                    payload={"comment": comment, "alias": req["alias"]},
                )
        if approve:
            self._maybe_apply(request_id)
        return self.get_request(request_id)

    def expire_due(self, now: int | None = None) -> int:
        """End pending requests past their expiry, as their policy says (expired or rejected)."""
        now = now or now_ms()
        with self.db.write() as conn:
            due = (
                conn.execute(
                    select(promotion_requests).where(
                        promotion_requests.c.status == "pending", promotion_requests.c.expires_at <= now
                    )
                )
                .mappings()
                .all()
            )
            for req in due:
                status = "rejected" if req["policy"].get("on_expiry") == "reject" else "expired"
                self._finish(conn, req, status, "expired before the policy was satisfied", "system")
        return len(due)

    def record_check(
        self, version: ModelVersion, *, name: str, passed: bool, details: dict[str, Any], actor: str
    ) -> None:
        """Record the outcome of a named check (fairness, data_quality, ...) for a version."""
        with self.db.write() as conn:
            conn.execute(
                check_results.insert().values(
                    version_id=version.id,
                    name=name,
                    passed=passed,
                    details=details,
                    recorded_by=actor,
                    at=now_ms(),
                )
            )
            record_change(
                conn,
                type="check.recorded",
                project_id=version.project_id,
                subject_type="model_version",
                subject_id=version.id,
                actor=actor,
                payload={
                    "check": name,
                    "passed": passed,
                    "model": version.model_name,
                    "version": version.version,
                },
            )
        self.reevaluate(version.id)

    def reevaluate(self, version_id: str) -> None:
        """Judge a version's pending requests again (its card, checks or run changed)."""
        with self.db.read() as conn:
            pending = conn.execute(
                select(promotion_requests.c.id).where(
                    promotion_requests.c.version_id == version_id, promotion_requests.c.status == "pending"
                )
            ).scalars()
            ids = list(pending)
        for request_id in ids:
            self._maybe_apply(request_id)

    def get_request(self, request_id: str) -> PromotionRequest:
        """A promotion request with its reviews."""
        return self._request(self._row(request_id))

    def list_requests(self, *, project_id: str, status: str | None = None) -> list[PromotionRequest]:
        """A project's promotion requests, newest first."""
        self.expire_due()
        stmt = select(promotion_requests).where(promotion_requests.c.project_id == project_id)
        if status:
            stmt = stmt.where(promotion_requests.c.status == status)
        with self.db.read() as conn:
            rows = conn.execute(stmt.order_by(promotion_requests.c.created_at.desc())).mappings().all()
        return [self._request(r) for r in rows]

    # -------------------------------------------------------------- helpers
    def _maybe_apply(self, request_id: str) -> None:
        req = self._row(request_id)
        if req["status"] != "pending":
            return
        policy = TierPolicy.model_validate(req["policy"])
        approvals = self._approvals(request_id)
        if approvals < policy.approvals.count or (policy.approvals.count == 0 and not policy.auto_approve):
            return  # checked first: it is one count, while evidence reads the run and its artifacts
        version = self._version_row(req)
        evidence = self._evidence(version, policy)  # judged again now: the run or card may have changed
        if not all(e["passed"] for e in evidence):
            return
        self.registry.set_alias(
            project=version.project_id,
            name=version.model_name,
            alias=req["alias"],
            version=version.version,
            actor=req["requested_by"],
            reason=f"{req['reason']} (promotion {request_id})"
            if req["reason"]
            else f"promotion {request_id}",
            governed=True,
        )
        how = (
            "auto-approved: all evidence passed"
            if policy.approvals.count == 0
            else f"{approvals} approval(s) and all evidence passed"
        )
        with self.db.write() as conn:
            conn.execute(
                update(promotion_requests)
                .where(promotion_requests.c.id == request_id)
                .values(evidence=evidence)
            )
            self._finish(conn, req, "applied", how, "system")

    def _finish(self, conn: Connection, req: Any, status: str, outcome: str, actor: str) -> None:
        conn.execute(
            update(promotion_requests)
            .where(promotion_requests.c.id == req["id"])
            .values(status=status, outcome=outcome, decided_at=now_ms())
        )
        record_change(
            conn,
            type=f"promotion.{status}",
            project_id=req["project_id"],
            subject_type="promotion",
            subject_id=req["id"],
            actor=actor,
            payload={"alias": req["alias"], "outcome": outcome},
        )

    def _evidence(self, v: ModelVersion, policy: TierPolicy) -> list[dict[str, Any]]:
        metrics = None
        artifacts: set[str] = set()
        if v.run_id:
            tracking = self.registry.tracking
            metrics = tracking.get_run(v.run_id).metrics
            base = tracking.artifact_base(v.run_id)
            artifacts = set(self.store.artifacts.walk_files(base))
        card = self.registry.get_card_sections(v).model_dump()
        with self.db.read() as conn:
            latest: dict[str, bool] = {}
            for name, passed in conn.execute(
                select(check_results.c.name, check_results.c.passed)
                .where(check_results.c.version_id == v.id)
                .order_by(check_results.c.id)
            ):
                latest[name] = passed
        return evidence_report(policy, metrics=metrics, artifacts=artifacts, card=card, checks=latest)

    def _approvals(self, request_id: str) -> int:
        with self.db.read() as conn:
            return len(
                conn.execute(
                    select(promotion_reviews.c.id).where(
                        promotion_reviews.c.request_id == request_id,
                        promotion_reviews.c.decision == "approve",
                    )
                ).all()
            )

    def _row(self, request_id: str) -> Any:
        with self.db.read() as conn:
            row = (
                conn.execute(select(promotion_requests).where(promotion_requests.c.id == request_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"No promotion request {request_id!r}.")
        return row

    def _version_row(self, req: Any) -> ModelVersion:
        return self.registry.get_version_by_id(req["version_id"])

    def _request(self, row: Any) -> PromotionRequest:
        v = self._version_row(row)
        with self.db.read() as conn:
            reviews = [
                Review(reviewer=r.reviewer, role=r.role, decision=r.decision, comment=r.comment, at=r.at)
                for r in conn.execute(
                    select(promotion_reviews)
                    .where(promotion_reviews.c.request_id == row["id"])
                    .order_by(promotion_reviews.c.id)
                )
            ]
        return PromotionRequest(
            id=row["id"],
            project_id=row["project_id"],
            model_name=v.model_name,
            version=v.version,
            alias=row["alias"],
            tier=row["tier"],
            status=row["status"],
            requested_by=row["requested_by"],
            reason=row["reason"],
            evidence=row["evidence"],
            approvals_needed=row["policy"]["approvals"]["count"],
            approvals=sum(1 for r in reviews if r.decision == "approve"),
            outcome=row["outcome"],
            reviews=reviews,
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            decided_at=row["decided_at"],
        )
