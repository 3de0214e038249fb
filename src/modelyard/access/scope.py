"""Find the project a request acts in, from its path (or, for a few routes, its body).

The authorizer needs the project before the route runs. Each kind of id that can appear
in a path maps to a lookup of its project; an id that does not exist resolves to None,
and the authorizer answers exactly as it does for a project the caller is not in, so a
404 never tells an outsider whether something exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select

from modelyard.core.db import Database
from modelyard.projects.tables import experiments, projects
from modelyard.tracking.tables import datasets, runs


@dataclass(frozen=True)
class Scope:
    """What a request names, and the project that owns it (None: unknown or nonexistent)."""

    kind: str
    ref: str
    project_id: str | None

    def not_found_message(self) -> str:
        """The same words the service uses when the object really does not exist."""
        return {
            "project": f"No project named {self.ref!r}.",
            "run": f"No run with id {self.ref!r}.",
            "experiment": f"No experiment with id {self.ref!r}.",
            "dataset": f"No dataset with id {self.ref!r}.",
            "promotion request": f"No promotion request {self.ref!r}.",
            "deployment": f"No deployment named {self.ref!r}.",
        }.get(self.kind, f"No {self.kind} {self.ref!r}.")


_BY_ID: dict[str, tuple[str, Table]] = {
    "run_id": ("run", runs),
    "experiment_id": ("experiment", experiments),
    "dataset_id": ("dataset", datasets),
}


def _extra_lookups() -> dict[str, tuple[str, Table]]:
    from modelyard.events.tables import webhooks
    from modelyard.governance.tables import promotion_requests

    return {"request_id": ("promotion request", promotion_requests), "webhook_id": ("webhook", webhooks)}


def project_of(db: Database, kind_table: tuple[str, Table], ref: str) -> Scope:
    """The project that owns the row with id ``ref``."""
    kind, table = kind_table
    with db.read() as conn:
        pid = conn.execute(select(table.c.project_id).where(table.c.id == ref)).scalar()
    return Scope(kind, ref, pid)


def resolve_scope(
    db: Database, path_params: dict[str, Any], body: Any = None, query: dict[str, Any] | None = None
) -> Scope | None:
    """The request's project scope, or None when the route is not about one project."""
    if "project" in path_params:
        ref = str(path_params["project"])
        with db.read() as conn:
            pid = conn.execute(
                select(projects.c.id).where((projects.c.name == ref) | (projects.c.id == ref))
            ).scalar()
        return Scope("project", ref, pid)
    if "deployment" in path_params:  # deployments are named in URLs, like projects
        from modelyard.serving.tables import deployments

        ref = str(path_params["deployment"])
        with db.read() as conn:
            pid = conn.execute(
                select(deployments.c.project_id).where(
                    deployments.c.name == ref, deployments.c.status == "active"
                )
            ).scalar()
        return Scope("deployment", ref, pid)
    for param, kind_table in {**_BY_ID, **_extra_lookups()}.items():
        if param in path_params:
            return project_of(db, kind_table, str(path_params[param]))
    if isinstance(body, dict):
        if isinstance(body.get("experiment_id"), str):
            return project_of(db, _BY_ID["experiment_id"], body["experiment_id"])
        for key in ("project", "project_id"):
            if isinstance(body.get(key), str):
                return resolve_scope(db, {"project": body[key]})
    if query and query.get("project"):
        return resolve_scope(db, {"project": query["project"]})
    return None
