"""Deployments: create, update, roll back and delete, with every revision kept.

A deployment names the models that answer its traffic by ``models:/`` URI. Nothing here
serves: the serving process (``serving/runtime``) reads active deployments and hosts them.
Production deployments meet the governance gate here (``serving/gate.py``), whichever way
the change arrives.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from modelyard.audit.record import record_change
from modelyard.core.errors import AlreadyExists, InvalidArgument, NotFound
from modelyard.core.ids import new_id, now_ms
from modelyard.core.store import Store
from modelyard.projects.tables import projects
from modelyard.registry.service import RegistryService
from modelyard.serving.gate import check_routes
from modelyard.serving.schemas import (
    CanaryProgress,
    CreateDeployment,
    Deployment,
    DeploymentRevision,
    DeploymentSpec,
)
from modelyard.serving.tables import deployment_revisions, deployments


class DeploymentService:
    """Deployments and their revisions."""

    def __init__(self, store: Store, registry: RegistryService | None = None) -> None:
        self.store = store
        self.db = store.db
        self.registry = registry or RegistryService(store)

    def create(self, *, project: str, body: CreateDeployment, actor: str = "") -> Deployment:
        """A new deployment; its name must not be taken by another active one."""
        proj = self.registry.projects.get_project(project)
        spec = DeploymentSpec(**body.model_dump(exclude={"name"}))
        check_routes(self.registry, proj.name, spec)
        now = now_ms()
        did = new_id()
        document = spec.model_dump(mode="json")
        with self.db.write() as conn:
            if self._find(conn, body.name) is not None:
                raise AlreadyExists(
                    f"A deployment named {body.name!r} already exists: update it, or pick another name."
                )
            conn.execute(
                deployments.insert().values(
                    id=did,
                    project_id=proj.id,
                    name=body.name,
                    status="active",
                    revision=1,
                    spec=document,
                    created_by=actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            self._keep_revision(conn, did, 1, document, actor, "created")
            record_change(
                conn,
                type="deployment.created",
                project_id=proj.id,
                subject_type="deployment",
                subject_id=did,
                actor=actor,
                payload={"deployment": body.name, **_summary(spec)},
            )
        return self.get(body.name)

    def get(self, name: str) -> Deployment:
        """The active deployment called ``name``."""
        with self.db.read() as conn:
            row = self._row(conn, name)
        return _deployment(row)

    def list(self, *, project: str | None = None) -> list[Deployment]:
        """Active deployments, in one project or everywhere, by name."""
        stmt = (
            select(deployments, projects.c.name.label("project"))
            .join(projects, projects.c.id == deployments.c.project_id)
            .where(deployments.c.status == "active")
            .order_by(deployments.c.name)
        )
        if project is not None:
            stmt = stmt.where(deployments.c.project_id == self.registry.projects.get_project(project).id)
        with self.db.read() as conn:
            return [_deployment(r) for r in conn.execute(stmt).mappings()]

    def update(self, name: str, spec: DeploymentSpec, *, actor: str = "", reason: str = "") -> Deployment:
        """Replace the spec (a new revision). A canary on the same model keeps its progress."""
        current = self.get(name)
        if spec.canary and current.canary and spec.canary.model_uri == current.canary.model_uri:
            progress = current.canary.model_dump(include={"state", "step", "reason"})
            spec = spec.model_copy(update={"canary": spec.canary.model_copy(update=progress)})
        return self._apply(current, spec, actor=actor, reason=reason, event="deployment.updated")

    def rollback(
        self, name: str, *, revision: int | None = None, actor: str = "", reason: str = ""
    ) -> Deployment:
        """Go back to an earlier revision's spec (the previous one by default), as a new revision."""
        current = self.get(name)
        target = revision if revision is not None else current.revision - 1
        if target < 1 or target >= current.revision:
            raise InvalidArgument(
                f"Deployment {name!r} is at revision {current.revision}: roll back to one of 1-"
                f"{current.revision - 1}."
                if current.revision > 1
                else f"Deployment {name!r} has no earlier revision."
            )
        with self.db.read() as conn:
            document = conn.execute(
                select(deployment_revisions.c.spec).where(
                    deployment_revisions.c.deployment_id == current.id,
                    deployment_revisions.c.revision == target,
                )
            ).scalar_one()
        spec = DeploymentSpec(**document)
        why = reason or f"rolled back to revision {target}"
        return self._apply(current, spec, actor=actor, reason=why, event="deployment.rolled_back")

    def delete(self, name: str, *, actor: str = "") -> None:
        """Stop serving ``name`` (its history stays, and the name is free again)."""
        with self.db.write() as conn:
            row = self._row(conn, name)
            conn.execute(
                update(deployments)
                .where(deployments.c.id == row["id"])
                .values(status="deleted", updated_at=now_ms())
            )
            record_change(
                conn,
                type="deployment.deleted",
                project_id=row["project_id"],
                subject_type="deployment",
                subject_id=row["id"],
                actor=actor,
                payload={"deployment": name},
            )

    def history(self, name: str) -> list[DeploymentRevision]:
        """Every revision of the active deployment ``name``, oldest first."""
        with self.db.read() as conn:
            row = self._row(conn, name)
            rows = conn.execute(
                select(deployment_revisions)
                .where(deployment_revisions.c.deployment_id == row["id"])
                .order_by(deployment_revisions.c.revision)
            ).mappings()
            return [
                DeploymentRevision(**{k: r[k] for k in ("revision", "spec", "actor", "reason", "at")})
                for r in rows
            ]

    def report_canary(self, name: str, progress: CanaryProgress, *, actor: str = "") -> Deployment:
        """Record a canary's step, roll-back or completion (sent by the serving process).

        On completion the canary's model becomes the primary one, through the same checks
        as any update, so a production deployment still meets the gate.
        """
        current = self.get(name)
        if current.canary is None:
            raise InvalidArgument(f"Deployment {name!r} has no canary.")
        if current.canary.state != "running":
            return current  # another serving worker reported first
        canary = current.canary.model_copy(update=progress.model_dump())
        spec = current.spec()
        if progress.state == "completed":
            spec = spec.model_copy(update={"model_uri": canary.model_uri, "canary": None})
        else:
            spec = spec.model_copy(update={"canary": canary})
        event = {"rolled_back": "deployment.canary_rolled_back", "completed": "deployment.canary_completed"}
        return self._apply(
            current,
            spec,
            actor=actor,
            reason=progress.reason or f"canary {progress.state}, step {progress.step}",
            event=event.get(progress.state, "deployment.canary_advanced"),
        )

    # -------------------------------------------------------------- helpers
    def _apply(
        self, current: Deployment, spec: DeploymentSpec, *, actor: str, reason: str, event: str
    ) -> Deployment:
        check_routes(self.registry, current.project, spec)
        document = spec.model_dump(mode="json")
        with self.db.write() as conn:
            row = self._row(conn, current.name)
            if row["revision"] != current.revision:
                raise InvalidArgument(
                    f"Deployment {current.name!r} changed while this update was prepared; try again."
                )
            revision = row["revision"] + 1
            conn.execute(
                update(deployments)
                .where(deployments.c.id == row["id"])
                .values(spec=document, revision=revision, updated_at=now_ms())
            )
            self._keep_revision(conn, row["id"], revision, document, actor, reason)
            record_change(
                conn,
                type=event,
                project_id=row["project_id"],
                subject_type="deployment",
                subject_id=row["id"],
                actor=actor,
                payload={
                    "deployment": current.name,
                    "revision": revision,
                    "reason": reason,
                    **_summary(spec),
                },
            )
        return self.get(current.name)

    @staticmethod
    def _keep_revision(
        conn: Connection, deployment_id: str, revision: int, document: dict[str, Any], actor: str, reason: str
    ) -> None:
        conn.execute(
            deployment_revisions.insert().values(
                deployment_id=deployment_id,
                revision=revision,
                spec=document,
                actor=actor,
                reason=reason,
                at=now_ms(),
            )
        )

    @staticmethod
    def _find(conn: Connection, name: str) -> Any:
        """The active deployment's row (with its project's name), or None."""
        return (
            conn.execute(
                select(deployments, projects.c.name.label("project"))
                .join(projects, projects.c.id == deployments.c.project_id)
                .where(deployments.c.name == name, deployments.c.status == "active")
            )
            .mappings()
            .first()
        )

    @classmethod
    def _row(cls, conn: Connection, name: str) -> Any:
        row = cls._find(conn, name)
        if row is None:
            raise NotFound(f"No deployment named {name!r}.")
        return row


def _deployment(row: Any) -> Deployment:
    return Deployment(
        **row["spec"],
        id=row["id"],
        name=row["name"],
        project_id=row["project_id"],
        project=row["project"],
        status=row["status"],
        revision=row["revision"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _summary(spec: DeploymentSpec) -> dict[str, Any]:
    return {
        "model_uri": spec.model_uri,
        "production": spec.production,
        "variants": [f"{v.name}:{v.mode}:{v.model_uri}" for v in spec.variants],
        "canary": spec.canary.model_uri if spec.canary else None,
    }
