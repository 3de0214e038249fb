"""Roles and the permissions they grant.

Project roles stack: each includes everything the ones before it may do, except that a
validator reviews rather than builds (it gets the viewer's reads plus reviewing).
Global roles: ``admin`` may do everything; ``auditor`` may read everything, including
the audit trail, and change nothing.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A member's role in one project."""

    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    MAINTAINER = "maintainer"
    VALIDATOR = "validator"
    OWNER = "owner"


READ = frozenset(
    {"project.read", "runs.read", "models.read", "events.read", "governance.read", "deployments.read"}
)
# Contributors deploy without waiting for anyone; production deployments meet the governance gate.
_CONTRIBUTE = frozenset(
    {
        "project.write",
        "runs.write",
        "models.write",
        "governance.request",
        "deployments.write",
        "deployments.predict",
    }
)
_MAINTAIN = frozenset({"models.manage", "models.alias", "webhooks.manage"})
_REVIEW = frozenset({"governance.review"})
_OWN = frozenset({"project.members", "project.manage"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: READ,
    Role.CONTRIBUTOR: READ | _CONTRIBUTE,
    Role.MAINTAINER: READ | _CONTRIBUTE | _MAINTAIN,
    Role.VALIDATOR: READ | _REVIEW,
    Role.OWNER: READ | _CONTRIBUTE | _MAINTAIN | _REVIEW | _OWN,
}

# Permissions that need no project: anyone signed in may create a project (becoming its
# owner) and list the ones they belong to; everything else global is for admins.
SIGNED_IN = frozenset(
    {
        "projects.create",
        "projects.list",
        "users.self",
        "tokens.self",
        "environments.write",
        "environments.read",
        "governance.policies.read",
    }
)
ADMIN_ONLY = frozenset({"users.admin", "governance.policies", "audit.read", "webhooks.global"})
AUDITOR_READS = READ | frozenset(
    {"audit.read", "projects.list", "users.self", "environments.read", "governance.policies.read"}
)
PUBLIC = frozenset({"auth.login"})


def roles_granting(permission: str) -> list[str]:
    """The project roles that include ``permission`` (for error messages)."""
    return [r.value for r, perms in ROLE_PERMISSIONS.items() if permission in perms]
