"""A store: the metadata database and the artifact root, opened and migrated together."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.core.artifacts import ArtifactStore
from modelyard.core.db import Database, create_db_engine
from modelyard.core.migrate import upgrade
from modelyard.core.settings import Settings


@dataclass
class Store:
    """Everything the domain services persist to."""

    db: Database
    artifacts: ArtifactStore

    @classmethod
    def open(cls, store_uri: str, artifacts_uri: str, *, migrate: bool = True) -> Store:
        """Open (and by default upgrade) a store."""
        engine = create_db_engine(store_uri)
        if migrate:
            upgrade(engine)
        return cls(db=Database(engine), artifacts=ArtifactStore(artifacts_uri))

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """Open the store the settings name."""
        return cls.open(settings.resolved_store_uri, settings.resolved_artifacts_uri)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()
