"""The one typed settings object.

Values come from the environment (``MODELYARD_*``), then from a TOML config file
(``$MODELYARD_HOME/config.toml``), then from the defaults below. No other module
reads the environment.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".modelyard"


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``config.toml`` from the Modelyard home folder, if there is one."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        import os

        home = Path(os.environ.get("MODELYARD_HOME") or _default_home())
        path = home / "config.toml"
        if not path.is_file():
            return {}
        with path.open("rb") as f:
            return dict(tomllib.load(f))


class Settings(BaseSettings):
    """Runtime configuration for the SDK, the CLI and the server."""

    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Folder for the embedded store.")
    tracking_uri: str = Field(
        default="",
        description="Where the SDK sends data: empty for the embedded store, http(s)://host:port for a "
        "server, or a database URI (sqlite:///..., postgresql://...) for an embedded store elsewhere.",
    )
    store_uri: str = Field(default="", description="Metadata database URI; default SQLite in `home`.")
    artifacts_uri: str = Field(
        default="", description="Artifact root (folder or s3://...); default in `home`."
    )
    token: str = Field(default="", description="API token sent to a server.")

    host: str = "127.0.0.1"
    port: int = 8080
    auth: bool = Field(default=False, description="Require sign-in (API tokens) on the server.")
    local_user: str = Field(default="local", description="Who a server without sign-in acts as.")

    # Client-side metric batching.
    flush_interval_s: float = 1.0
    max_batch_points: int = 5000
    retry_timeout_s: float = 30.0
    http_timeout_s: float = 60.0

    # Runs that stop sending heartbeats for this long are marked killed.
    heartbeat_interval_s: float = 30.0
    run_stale_after_s: float = 300.0

    allow_private_webhooks: bool = Field(
        default=False,
        description="Let webhooks (and other outbound calls) target private, loopback and link-local "
        "addresses. Off by default so a user cannot make the server call its own network (SSRF).",
    )

    # Serving: where predictions and actuals are kept, and how the serving process behaves.
    predictions_uri: str = Field(
        default="", description="Prediction log root (Parquet segments); default in `home`."
    )
    serve_poll_s: float = Field(default=2.0, description="How often serving re-reads deployments, aliases.")
    capture_queue_size: int = Field(default=100_000, description="Predictions waiting to be written.")
    capture_flush_rows: int = Field(default=50_000, description="Rows per Parquet segment (at most).")
    capture_flush_s: float = Field(default=5.0, description="Longest a captured prediction waits on disk.")

    # Alert e-mail (off unless smtp_host is set).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "modelyard@localhost"
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = Field(default="", repr=False)

    @property
    def resolved_predictions_uri(self) -> str:
        """The prediction log root, defaulting to a folder in the home folder."""
        return self.predictions_uri or str(self.home / "predictions")

    @property
    def resolved_store_uri(self) -> str:
        """The metadata database URI, defaulting to SQLite in the home folder."""
        if self.store_uri:
            return self.store_uri
        if self.tracking_uri and not self.tracking_uri.startswith(("http://", "https://")):
            return self.tracking_uri
        return f"sqlite:///{self.home / 'modelyard.db'}"

    @property
    def resolved_artifacts_uri(self) -> str:
        """The artifact root, defaulting to a folder in the home folder."""
        return self.artifacts_uri or str(self.home / "artifacts")

    @property
    def is_remote(self) -> bool:
        """True when the SDK talks to a server over HTTP."""
        return self.tracking_uri.startswith(("http://", "https://"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
