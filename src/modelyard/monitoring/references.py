"""Reference profiles stored with model versions: what monitors and humility rules compare against."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from modelyard.audit.record import record_change
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import now_ms
from modelyard.core.sql import insert_for
from modelyard.core.store import Store
from modelyard.monitoring.tables import reference_profiles
from modelyard.registry.schemas import ModelVersion
from modelyard.registry.service import RegistryService

MAX_PROFILE_BYTES = 16 * 1024 * 1024


class ReferenceService:
    """Store and read the reference profile of a version (one per version; the last one wins)."""

    def __init__(self, store: Store, registry: RegistryService | None = None) -> None:
        self.db = store.db
        self.registry = registry or RegistryService(store)

    def put(self, version: ModelVersion, profile: dict[str, Any], *, actor: str = "") -> None:
        """Keep ``profile`` (made by ``build_profile``) as the reference of ``version``."""
        from modelyard.monitoring.profile import is_profile

        if not is_profile(profile):
            raise InvalidArgument(
                "A reference must be a profile made by modelyard.monitoring.build_profile "
                "(or pass the data itself to set_reference)."
            )
        rows = int(profile.get("n_rows") or 0)
        with self.db.write() as conn:
            stmt = insert_for(conn, reference_profiles)
            conn.execute(
                stmt.values(
                    version_id=version.id, profile=profile, rows=rows, created_by=actor, created_at=now_ms()
                ).on_conflict_do_update(
                    index_elements=["version_id"],
                    set_={
                        "profile": stmt.excluded.profile,
                        "rows": stmt.excluded.rows,
                        "created_by": stmt.excluded.created_by,
                        "created_at": stmt.excluded.created_at,
                    },
                )
            )
            record_change(
                conn,
                type="model_version.reference_set",
                project_id=version.project_id,
                subject_type="model_version",
                subject_id=version.id,
                actor=actor,
                payload={
                    "model": version.model_name,
                    "version": version.version,
                    "rows": rows,
                    "columns": sorted(profile.get("columns", {})),
                },
            )

    def get(self, version: ModelVersion) -> dict[str, Any] | None:
        """The reference profile of ``version``, or None when it has none."""
        with self.db.read() as conn:
            return conn.execute(
                select(reference_profiles.c.profile).where(reference_profiles.c.version_id == version.id)
            ).scalar()
