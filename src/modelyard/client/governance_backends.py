"""Governance operations over the embedded store or the REST API."""

from __future__ import annotations

import getpass
from typing import Any

from modelyard.access.roles import Role
from modelyard.client.http import HttpBackend, _q, raise_for_error
from modelyard.core.errors import Unavailable
from modelyard.governance.policy import TierPolicy, dump_policy
from modelyard.governance.schemas import PromotionRequest
from modelyard.governance.service import GovernanceService


class EmbeddedGovernance:
    """Direct calls. The OS user is the local admin and holds every project role; separation
    of duties still applies, so nobody approves their own request."""

    def __init__(self, store: Any) -> None:
        self.svc = GovernanceService(store)

    def request(self, project: str, model: str, version: int, alias: str, reason: str) -> PromotionRequest:
        return self.svc.request_promotion(
            project=project, model=model, version=version, alias=alias, actor=getpass.getuser(), reason=reason
        )

    def review(self, request_id: str, approve: bool, comment: str) -> PromotionRequest:
        return self.svc.review(
            request_id,
            reviewer=getpass.getuser(),
            roles={r.value for r in Role},
            approve=approve,
            comment=comment,
        )

    def get(self, request_id: str) -> PromotionRequest:
        return self.svc.get_request(request_id)

    def list(self, project: str, status: str | None) -> list[PromotionRequest]:
        return self.svc.list_requests(
            project_id=self.svc.registry.projects.get_project(project).id, status=status
        )

    def record_check(
        self, project: str, model: str, version: int, name: str, passed: bool, details: dict[str, Any]
    ) -> None:
        v = self.svc.registry.get_version(project=project, name=model, version=version)
        self.svc.record_check(v, name=name, passed=passed, details=details, actor=getpass.getuser())

    def policies(self) -> str:
        return "".join(dump_policy(t, p) for t, p in self.svc.policies().items())

    def set_policies(self, document: str) -> str:
        merged: dict[str, TierPolicy] = self.svc.set_policies(document, actor=getpass.getuser())
        return "".join(dump_policy(t, p) for t, p in merged.items())


class HttpGovernance:
    """Governance over the REST API."""

    def __init__(self, http: HttpBackend) -> None:
        self.b = http

    def request(self, project: str, model: str, version: int, alias: str, reason: str) -> PromotionRequest:
        body = {"model": model, "version": version, "alias": alias, "reason": reason}
        return PromotionRequest(
            **self.b._call("POST", f"/api/v1/projects/{_q(project)}/promotions", json=body)
        )

    def review(self, request_id: str, approve: bool, comment: str) -> PromotionRequest:
        verb = "approve" if approve else "reject"
        return PromotionRequest(
            **self.b._call("POST", f"/api/v1/promotions/{_q(request_id)}/{verb}", json={"comment": comment})
        )

    def get(self, request_id: str) -> PromotionRequest:
        return PromotionRequest(**self.b._call("GET", f"/api/v1/promotions/{_q(request_id)}"))

    def list(self, project: str, status: str | None) -> list[PromotionRequest]:
        params = {"status": status} if status else None
        found = self.b._call("GET", f"/api/v1/projects/{_q(project)}/promotions", params=params)
        return [PromotionRequest(**r) for r in found]

    def record_check(
        self, project: str, model: str, version: int, name: str, passed: bool, details: dict[str, Any]
    ) -> None:
        url = f"/api/v1/projects/{_q(project)}/models/{_q(model)}/versions/{int(version)}/checks"
        self.b._call("POST", url, json={"name": name, "passed": passed, "details": details})

    def _text(self, method: str, content: bytes | None = None) -> str:
        try:
            resp = self.b.http.request(method, "/api/v1/governance/policies", content=content)
        except Exception as exc:
            raise Unavailable(f"Cannot reach the Modelyard server at {self.b.uri}: {exc}") from exc
        raise_for_error(resp)
        return resp.text

    def policies(self) -> str:
        return self._text("GET")

    def set_policies(self, document: str) -> str:
        return self._text("PUT", document.encode())
