"""Business rules for the model registry: models, versions, aliases, tags, trust."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from modelyard.audit.record import record_change
from modelyard.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from modelyard.core.ids import new_id, now_ms
from modelyard.core.sql import insert_for
from modelyard.core.store import Store
from modelyard.governance.gate import check_gate
from modelyard.projects.service import ProjectService
from modelyard.registry import sources
from modelyard.registry.schemas import (
    AliasMove,
    ModelCardSections,
    ModelsPage,
    ModelVersion,
    RegisteredModel,
    RiskTier,
    VersionsPage,
    check_alias,
    check_model_name,
)
from modelyard.registry.search import search_model_ids, search_version_ids
from modelyard.registry.tables import (
    alias_history,
    model_aliases,
    model_cards,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)
from modelyard.tracking import limits
from modelyard.tracking.service import TrackingService


class RegistryService:
    """Registered models and their versions; every change is recorded as an event."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.projects = ProjectService(store.db)
        self.tracking = TrackingService(store)

    # --------------------------------------------------------------- models
    def create_model(
        self,
        *,
        project: str,
        name: str,
        description: str = "",
        owner: str = "",
        risk_tier: RiskTier | str = RiskTier.MEDIUM,
        tags: dict[str, str] | None = None,
        actor: str = "",
    ) -> RegisteredModel:
        """Register a new model name in a project."""
        check_model_name(name)
        tier = _tier(risk_tier)
        proj = self.projects.get_project(project)
        now = now_ms()
        row = {
            "id": new_id(),
            "project_id": proj.id,
            "name": name,
            "description": description,
            "owner": owner or actor,
            "risk_tier": tier.value,
            "status": "active",
            "next_version": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.db.write() as conn:
                conn.execute(registered_models.insert().values(**row))
                self._put_tags(conn, model_tags, "model_id", row["id"], tags or {})
                record_change(
                    conn,
                    type="model.created",
                    project_id=proj.id,
                    subject_type="model",
                    subject_id=row["id"],
                    actor=actor,
                    payload={"name": name, "risk_tier": tier.value},
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"Project {proj.name!r} already has a model named {name!r}.") from exc
        return self.get_model(project=project, name=name)

    def get_model(self, *, project: str, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version number."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            row = self._model_row(conn, proj.id, name)
            return self._model(conn, row)

    def list_models(self, *, project: str, include_archived: bool = False) -> list[RegisteredModel]:
        """A project's models, by name."""
        proj = self.projects.get_project(project)
        stmt = select(registered_models).where(registered_models.c.project_id == proj.id)
        states = ("active", "archived") if include_archived else ("active",)
        stmt = stmt.where(registered_models.c.status.in_(states)).order_by(registered_models.c.name)
        with self.db.read() as conn:
            return [self._model(conn, r) for r in conn.execute(stmt).mappings().all()]

    def update_model(
        self,
        *,
        project: str,
        name: str,
        description: str | None = None,
        owner: str | None = None,
        risk_tier: RiskTier | str | None = None,
        status: str | None = None,
        actor: str = "",
    ) -> RegisteredModel:
        """Change a model's description, owner, risk tier or archive state."""
        proj = self.projects.get_project(project)
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if owner is not None:
            values["owner"] = owner
        if risk_tier is not None:
            values["risk_tier"] = _tier(risk_tier).value
        if status is not None:
            if status not in ("active", "archived"):
                raise InvalidArgument(
                    "Model status must be 'active' or 'archived' (use delete to remove it)."
                )
            values["status"] = status
        with self.db.write() as conn:
            row = self._model_row(conn, proj.id, name)
            if values:
                values["updated_at"] = now_ms()
                conn.execute(
                    update(registered_models).where(registered_models.c.id == row["id"]).values(**values)
                )
                before = {k: row[k] for k in values if k != "updated_at"}
                kind = (
                    "model.archived"
                    if status == "archived" and row["status"] != "archived"
                    else "model.updated"
                )
                record_change(
                    conn,
                    type=kind,
                    project_id=proj.id,
                    subject_type="model",
                    subject_id=row["id"],
                    actor=actor,
                    payload={
                        "name": name,
                        "before": before,
                        "after": {k: v for k, v in values.items() if k != "updated_at"},
                    },
                )
        return self.get_model(project=project, name=name)

    def delete_model(self, *, project: str, name: str, actor: str = "") -> None:
        """Delete a model: it disappears from listings, its aliases go, its versions can no longer be used."""
        proj = self.projects.get_project(project)
        with self.db.write() as conn:
            row = self._model_row(conn, proj.id, name)
            conn.execute(delete(model_aliases).where(model_aliases.c.model_id == row["id"]))
            # Free the name for reuse while keeping the record for lineage and audit.
            conn.execute(
                update(registered_models)
                .where(registered_models.c.id == row["id"])
                .values(status="deleted", name=f"{name}.deleted-{row['id'][:8]}", updated_at=now_ms())
            )
            record_change(
                conn,
                type="model.deleted",
                project_id=proj.id,
                subject_type="model",
                subject_id=row["id"],
                actor=actor,
                payload={"name": name},
            )

    def set_model_tag(self, *, project: str, name: str, key: str, value: str, actor: str = "") -> None:
        """Set a tag on a model."""
        proj = self.projects.get_project(project)
        with self.db.write() as conn:
            row = self._model_row(conn, proj.id, name)
            self._put_tags(conn, model_tags, "model_id", row["id"], {key: value})
            record_change(
                conn,
                type="model.tag_set",
                project_id=proj.id,
                subject_type="model",
                subject_id=row["id"],
                actor=actor,
                payload={"name": name, "key": key, "value": value},
            )

    # ------------------------------------------------------------- versions
    def create_version(
        self,
        *,
        project: str,
        name: str,
        source: str,
        model_dir: Path | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        actor: str = "",
    ) -> ModelVersion:
        """Register a new version from ``runs:/<run-id>/<path>`` or a local model folder.

        Everything is checked before anything is written; the files are copied (digests
        verified) into the version's own storage, then one transaction numbers the
        version and records the event. If that fails, the copied files are removed.
        """
        check_model_name(name)
        proj = self.projects.get_or_create_project(name=project, created_by=actor)
        if model_dir is not None:
            src = sources.local_source(model_dir)
            provenance = "external"
        else:
            run_id, path = sources.parse_runs_uri(source)
            run = self.tracking.get_run(run_id)  # NotFound for a run that does not exist
            if run.project_id != proj.id:
                raise InvalidArgument(f"Run {run_id} belongs to another project; register it there.")
            src = sources.run_source(self.store.artifacts, self.tracking.artifact_base(run_id), run_id, path)
            provenance = "run"
        checked_tags = {
            limits.check_key("Tag", k): limits.check_tag_value(k, v) for k, v in (tags or {}).items()
        }
        model = self._ensure_model(proj.id, name, actor)
        version_id = new_id()
        dest = self.store.artifacts.location("models", proj.id, model["id"], version_id)
        manifest = src.manifest
        try:
            size = sources.copy_verified(src, self.store.artifacts, dest)
            with self.db.write() as conn:
                number = (
                    conn.execute(
                        update(registered_models)
                        .where(registered_models.c.id == model["id"])
                        .values(next_version=registered_models.c.next_version + 1, updated_at=now_ms())
                        .returning(registered_models.c.next_version)
                    ).scalar_one()
                    - 1
                )
                conn.execute(
                    model_versions.insert().values(
                        id=version_id,
                        model_id=model["id"],
                        version=number,
                        status="ready",
                        status_message="",
                        provenance=provenance,
                        source=src.description,
                        run_id=src.run_id,
                        storage_uri=dest,
                        flavor=str(manifest.get("flavor", "")),
                        digest=str(manifest.get("digest", "")),
                        size_bytes=int(manifest.get("size_bytes") or size),
                        unsafe=bool(manifest.get("unsafe")),
                        trusted=False,
                        manifest=manifest,
                        description=description,
                        created_by=actor,
                        created_at=now_ms(),
                    )
                )
                self._put_tags(conn, version_tags, "version_id", version_id, checked_tags)
                record_change(
                    conn,
                    type="model_version.created",
                    project_id=proj.id,
                    subject_type="model_version",
                    subject_id=version_id,
                    actor=actor,
                    payload={
                        "model": name,
                        "version": number,
                        "source": src.description,
                        "provenance": provenance,
                        "digest": manifest.get("digest"),
                    },
                )
        except BaseException:
            self.store.artifacts.remove_tree(dest)
            raise
        return self.get_version(project=project, name=name, version=number)

    def get_version(
        self, *, project: str, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """A version by number, by alias, or (neither given) the latest one."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            model = self._model_row(conn, proj.id, name)
            stmt = select(model_versions).where(model_versions.c.model_id == model["id"])
            if alias is not None:
                check_alias(alias)
                stmt = stmt.join(model_aliases, model_aliases.c.version_id == model_versions.c.id).where(
                    model_aliases.c.alias == alias
                )
                what = f"alias {alias!r}"
            elif version is not None:
                stmt = stmt.where(model_versions.c.version == int(version))
                what = f"version {version}"
            else:
                stmt = stmt.order_by(model_versions.c.version.desc()).limit(1)
                what = "any version"
            row = conn.execute(stmt).mappings().first()
            if row is None:
                raise NotFound(f"Model {name!r} has no {what}.")
            return self._versions(conn, [row], model)[0]

    def get_version_by_id(self, version_id: str) -> ModelVersion:
        """A version by its id."""
        with self.db.read() as conn:
            row = (
                conn.execute(select(model_versions).where(model_versions.c.id == version_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"No model version with id {version_id!r}.")
            model = (
                conn.execute(select(registered_models).where(registered_models.c.id == row["model_id"]))
                .mappings()
                .one()
            )
            return self._versions(conn, [row], model)[0]

    def list_versions(self, *, project: str, name: str) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            model = self._model_row(conn, proj.id, name)
            rows = (
                conn.execute(
                    select(model_versions)
                    .where(model_versions.c.model_id == model["id"])
                    .order_by(model_versions.c.version.desc())
                )
                .mappings()
                .all()
            )
            return self._versions(conn, list(rows), model)

    def set_version_tag(
        self, *, project: str, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None:
        """Set a tag on a version."""
        v = self.get_version(project=project, name=name, version=version)
        with self.db.write() as conn:
            self._put_tags(conn, version_tags, "version_id", v.id, {key: value})
            record_change(
                conn,
                type="model_version.tag_set",
                project_id=v.project_id,
                subject_type="model_version",
                subject_id=v.id,
                actor=actor,
                payload={"model": name, "version": version, "key": key, "value": value},
            )

    def set_trusted(
        self, *, project: str, name: str, version: int, trusted: bool, actor: str = ""
    ) -> ModelVersion:
        """Mark a pickle-based version as safe to load (or withdraw that)."""
        v = self.get_version(project=project, name=name, version=version)
        with self.db.write() as conn:
            conn.execute(update(model_versions).where(model_versions.c.id == v.id).values(trusted=trusted))
            record_change(
                conn,
                type="model_version.trust_changed",
                project_id=v.project_id,
                subject_type="model_version",
                subject_id=v.id,
                actor=actor,
                payload={"model": name, "version": version, "trusted": trusted},
            )
        return self.get_version(project=project, name=name, version=version)

    def version_files(self, version: ModelVersion) -> list[str]:
        """The files of a version (manifest first)."""
        return [sources.MANIFEST, *sorted(version.manifest.get("files", {}))]

    def read_version_file(self, version: ModelVersion, path: str) -> Iterator[bytes]:
        """Stream one file of a version."""
        if path not in self.version_files(version):
            raise NotFound(f"Version {version.version} of {version.model_name!r} has no file {path!r}.")
        return self.store.artifacts.iter_read(version.storage_uri, path)

    # ------------------------------------------------------------- searching
    def search_models(
        self,
        *,
        project: str,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> ModelsPage:
        """Models matching a filter such as ``name LIKE 'credit%' and tags.domain = 'retail'``."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            ids, token = search_model_ids(
                conn,
                project_id=proj.id,
                filter_text=filter,
                order_by=order_by,
                max_results=max_results,
                page_token=page_token,
            )
            rows = {
                r["id"]: r
                for r in conn.execute(
                    select(registered_models).where(registered_models.c.id.in_(ids))
                ).mappings()
            }
            found = [self._model(conn, rows[i]) for i in ids if i in rows]
        return ModelsPage(models=found, next_page_token=token)

    def search_versions(
        self,
        *,
        project: str,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> VersionsPage:
        """Versions matching a filter such as ``metrics.auc > 0.8 and alias = 'champion'``."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            ids, token = search_version_ids(
                conn,
                project_id=proj.id,
                filter_text=filter,
                order_by=order_by,
                max_results=max_results,
                page_token=page_token,
            )
            rows = conn.execute(select(model_versions).where(model_versions.c.id.in_(ids))).mappings().all()
            models = {
                m["id"]: m
                for m in conn.execute(
                    select(registered_models).where(registered_models.c.id.in_({r["model_id"] for r in rows}))
                ).mappings()
            }
            by_id = {v.id: v for r in rows for v in self._versions(conn, [r], models[r["model_id"]])}
        return VersionsPage(versions=[by_id[i] for i in ids if i in by_id], next_page_token=token)

    # ---------------------------------------------------------- model cards
    def get_card_sections(self, version: ModelVersion) -> ModelCardSections:
        """The written sections of a version's model card (empty ones when none yet)."""
        with self.db.read() as conn:
            sections = conn.execute(
                select(model_cards.c.sections).where(model_cards.c.version_id == version.id)
            ).scalar()
        return ModelCardSections(**(sections or {}))

    def put_card_sections(
        self, version: ModelVersion, sections: ModelCardSections, actor: str = ""
    ) -> ModelCardSections:
        """Replace the written sections of a version's model card."""
        with self.db.write() as conn:
            stmt = insert_for(conn, model_cards)
            conn.execute(
                stmt.values(
                    version_id=version.id,
                    sections=sections.model_dump(),
                    updated_by=actor,
                    updated_at=now_ms(),
                ).on_conflict_do_update(
                    index_elements=["version_id"],
                    set_={
                        "sections": stmt.excluded.sections,
                        "updated_by": stmt.excluded.updated_by,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )
            record_change(
                conn,
                type="model_version.card_updated",
                project_id=version.project_id,
                subject_type="model_version",
                subject_id=version.id,
                actor=actor,
                payload={
                    "model": version.model_name,
                    "version": version.version,
                    "sections": sorted(k for k, v in sections.model_dump().items() if v),
                },
            )
        from modelyard.governance.service import GovernanceService

        GovernanceService(self.store, self).reevaluate(version.id)  # a pending promotion may now pass
        return sections

    # -------------------------------------------------------------- aliases
    def set_alias(
        self,
        *,
        project: str,
        name: str,
        alias: str,
        version: int,
        actor: str = "",
        reason: str = "",
        governed: bool = False,
    ) -> ModelVersion:
        """Point an alias at a version (atomically), keeping the move in the alias history.

        A protected alias (per the model's risk-tier policy) moves only when the governance
        workflow applies an approved promotion (``governed=True``); the REST API never
        passes that flag, so every other way in meets the gate.
        """
        check_alias(alias)
        proj = self.projects.get_project(project)
        if not governed:
            with self.db.read() as conn:
                model = self._model_row(conn, proj.id, name)
            if check_gate(self.db, tier=model["risk_tier"], alias=alias, model_name=name) == "auto":
                return self._auto_promote(proj.name, name, alias, version, actor, reason)
        with self.db.write() as conn:
            model = self._model_row(conn, proj.id, name)
            target = conn.execute(
                select(model_versions.c.id, model_versions.c.status).where(
                    model_versions.c.model_id == model["id"], model_versions.c.version == int(version)
                )
            ).first()
            if target is None:
                raise NotFound(f"Model {name!r} has no version {version}.")
            if target.status != "ready":
                raise InvalidArgument(f"Version {version} of {name!r} is {target.status}, not ready.")
            current = self._alias_version(conn, model["id"], alias)
            stmt = insert_for(conn, model_aliases)
            conn.execute(
                stmt.values(
                    model_id=model["id"],
                    alias=alias,
                    version_id=target.id,
                    updated_by=actor,
                    updated_at=now_ms(),
                ).on_conflict_do_update(
                    index_elements=["model_id", "alias"],
                    set_={
                        "version_id": stmt.excluded.version_id,
                        "updated_by": stmt.excluded.updated_by,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )
            conn.execute(
                alias_history.insert().values(
                    model_id=model["id"],
                    alias=alias,
                    from_version=current,
                    to_version=int(version),
                    actor=actor,
                    reason=reason,
                    at=now_ms(),
                )
            )
            record_change(
                conn,
                type="model_alias.moved",
                project_id=proj.id,
                subject_type="model",
                subject_id=model["id"],
                actor=actor,
                payload={"model": name, "alias": alias, "from_version": current, "to_version": int(version)},
            )
        return self.get_version(project=project, name=name, alias=alias)

    def _auto_promote(
        self, project: str, name: str, alias: str, version: int, actor: str, reason: str
    ) -> ModelVersion:
        """A protected alias on a tier that needs no approvals: a promotion judged on evidence."""
        from modelyard.governance.service import GovernanceService

        req = GovernanceService(self.store, self).request_promotion(
            project=project, model=name, version=version, alias=alias, actor=actor, reason=reason
        )
        if req.status != "applied":
            failed = "; ".join(e["detail"] for e in req.evidence if not e["passed"])
            raise PermissionDenied(
                f"Alias {alias!r} of {name!r} is protected and version {version} does not meet its evidence: "
                f"{failed}. Promotion request {req.id} stays pending until it does."
            )
        return self.get_version(project=project, name=name, alias=alias)

    def delete_alias(self, *, project: str, name: str, alias: str, actor: str = "", reason: str = "") -> None:
        """Remove an alias (recorded in its history)."""
        check_alias(alias)
        proj = self.projects.get_project(project)
        with self.db.write() as conn:
            model = self._model_row(conn, proj.id, name)
            current = self._alias_version(conn, model["id"], alias)
            if current is None:
                raise NotFound(f"Model {name!r} has no alias {alias!r}.")
            conn.execute(
                delete(model_aliases).where(
                    model_aliases.c.model_id == model["id"], model_aliases.c.alias == alias
                )
            )
            conn.execute(
                alias_history.insert().values(
                    model_id=model["id"],
                    alias=alias,
                    from_version=current,
                    to_version=None,
                    actor=actor,
                    reason=reason,
                    at=now_ms(),
                )
            )
            record_change(
                conn,
                type="model_alias.deleted",
                project_id=proj.id,
                subject_type="model",
                subject_id=model["id"],
                actor=actor,
                payload={"model": name, "alias": alias, "from_version": current},
            )

    def alias_history(self, *, project: str, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of a model's aliases (or of one alias), oldest first."""
        proj = self.projects.get_project(project)
        with self.db.read() as conn:
            model = self._model_row(conn, proj.id, name)
            stmt = select(alias_history).where(alias_history.c.model_id == model["id"])
            if alias is not None:
                stmt = stmt.where(alias_history.c.alias == check_alias(alias))
            rows = conn.execute(stmt.order_by(alias_history.c.id)).mappings().all()
        return [
            AliasMove(
                alias=r["alias"],
                from_version=r["from_version"],
                to_version=r["to_version"],
                actor=r["actor"],
                reason=r["reason"],
                at=r["at"],
            )
            for r in rows
        ]

    # -------------------------------------------------------------- helpers
    def _ensure_model(self, project_id: str, name: str, actor: str) -> Any:
        with self.db.read() as conn:
            row = (
                conn.execute(
                    select(registered_models).where(
                        registered_models.c.project_id == project_id, registered_models.c.name == name
                    )
                )
                .mappings()
                .first()
            )
        if row is not None:
            if row["status"] != "active":
                raise InvalidArgument(
                    f"Model {name!r} is {row['status']}; restore it before adding versions."
                )
            return row
        project = self.projects.get_project(project_id)
        with contextlib.suppress(AlreadyExists):  # registered concurrently
            self.create_model(project=project.name, name=name, actor=actor)
        with self.db.read() as conn:
            return (
                conn.execute(
                    select(registered_models).where(
                        registered_models.c.project_id == project_id, registered_models.c.name == name
                    )
                )
                .mappings()
                .one()
            )

    def _model_row(self, conn: Connection, project_id: str, name: str) -> Any:
        row = (
            conn.execute(
                select(registered_models).where(
                    registered_models.c.project_id == project_id,
                    registered_models.c.name == name,
                    registered_models.c.status != "deleted",
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"No model named {name!r} in this project.")
        return row

    def _alias_version(self, conn: Connection, model_id: str, alias: str) -> int | None:
        return conn.execute(
            select(model_versions.c.version)
            .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
            .where(model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)
        ).scalar()

    def _put_tags(
        self, conn: Connection, table: Any, owner_col: str, owner_id: str, tags: dict[str, str]
    ) -> None:
        if not tags:
            return
        rows = [
            {owner_col: owner_id, "key": limits.check_key("Tag", k), "value": limits.check_tag_value(k, v)}
            for k, v in tags.items()
        ]
        stmt = insert_for(conn, table)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[owner_col, "key"], set_={"value": stmt.excluded.value}
            ),
            rows,
        )

    def _model(self, conn: Connection, row: Any) -> RegisteredModel:
        tags = dict(
            conn.execute(
                select(model_tags.c.key, model_tags.c.value).where(model_tags.c.model_id == row["id"])
            ).all()
        )
        aliases = dict(
            conn.execute(
                select(model_aliases.c.alias, model_versions.c.version)
                .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
                .where(model_aliases.c.model_id == row["id"])
            ).all()
        )
        latest = conn.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.model_id == row["id"])
        ).scalar()
        return RegisteredModel(
            id=row["id"],
            project_id=row["project_id"],
            name=row["name"],
            description=row["description"],
            owner=row["owner"],
            risk_tier=row["risk_tier"],
            status=row["status"],
            tags=tags,
            aliases=aliases,
            latest_version=latest,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def _versions(self, conn: Connection, rows: list[Any], model: Any) -> list[ModelVersion]:
        ids = [r["id"] for r in rows]
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for vid, k, v in conn.execute(
            select(version_tags.c.version_id, version_tags.c.key, version_tags.c.value).where(
                version_tags.c.version_id.in_(ids)
            )
        ):
            tags[vid][k] = v
        aliases: dict[str, list[str]] = {i: [] for i in ids}
        for vid, alias in conn.execute(
            select(model_aliases.c.version_id, model_aliases.c.alias)
            .where(model_aliases.c.version_id.in_(ids))
            .order_by(model_aliases.c.alias)
        ):
            aliases[vid].append(alias)
        return [
            ModelVersion(
                **{k: r[k] for k in r if k != "model_id"},
                model_id=model["id"],
                model_name=model["name"],
                project_id=model["project_id"],
                tags=tags[r["id"]],
                aliases=aliases[r["id"]],
            )
            for r in rows
        ]


def _tier(value: RiskTier | str) -> RiskTier:
    try:
        return RiskTier(str(value).lower())
    except ValueError:
        raise InvalidArgument(
            f"Risk tier {value!r} is not one of: {', '.join(t.value for t in RiskTier)}."
        ) from None
