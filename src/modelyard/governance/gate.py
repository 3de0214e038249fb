"""The gate: a protected alias moves only through an approved promotion request.

It lives apart from the workflow so the registry can consult it on every alias move,
whichever way the move arrives (REST, SDK, CLI, deployments), without importing the
workflow itself.
"""

from __future__ import annotations

from sqlalchemy import select

from modelyard.core.db import Database
from modelyard.core.errors import PermissionDenied
from modelyard.governance.policy import DEFAULT_POLICIES, TierPolicy, parse_policies
from modelyard.governance.tables import governance_policies


def current_policies(db: Database) -> dict[str, TierPolicy]:
    """The policy in force for each tier: the defaults, overridden by what admins stored."""
    merged = parse_policies(DEFAULT_POLICIES)
    with db.read() as conn:
        for tier, document in conn.execute(
            select(governance_policies.c.tier, governance_policies.c.document)
        ):
            merged[tier] = parse_policies(document)[tier]
    return merged


def check_gate(db: Database, *, tier: str, alias: str, model_name: str) -> str:
    """Decide a direct move: "open" (not protected), "auto" (protected, but the tier needs no
    approvals and auto-approves, so the move becomes a promotion judged on evidence alone),
    or refuse it."""
    policy = current_policies(db)[tier]
    if alias not in policy.protected_aliases:
        return "open"
    if policy.approvals.count == 0 and policy.auto_approve:
        return "auto"
    approvals = policy.approvals
    need = (
        f"{approvals.count} approval(s) from: {', '.join(approvals.roles)}"
        if approvals.count
        else "its evidence to pass"
    )
    raise PermissionDenied(
        f"Alias {alias!r} of {model_name!r} ({tier} risk) is protected: request a promotion "
        f"(my.request_promotion, or: modelyard governance request) and get {need}."
    )
