"""Build the serving app from a ``RuntimeConfig`` and run it under uvicorn (one or N workers).

With ``workers > 1`` uvicorn starts worker processes that import the app by name, so the
configuration travels as a JSON file (mode 0600, in a temporary folder removed at exit) whose
path is in ``MODELYARD_RUNTIME_CONFIG``; that variable and ``PROMETHEUS_MULTIPROC_DIR`` (so
``/metrics`` adds up every worker) are the only environment this module sets or reads.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from modelyard.core.errors import InvalidArgument
from modelyard.core.settings import Settings
from modelyard.serving.runtime.app import RuntimeApp
from modelyard.serving.runtime.metrics import Metrics
from modelyard.serving.runtime.sources import LocalSource, RegistrySource, Source, pinned_deployment

log = logging.getLogger("modelyard.serving")

CONFIG_ENV = "MODELYARD_RUNTIME_CONFIG"
SWITCH_INTERVAL_S = 0.001  # see RuntimeApp: keeps the capture thread from holding up requests
_SECRETS = ("token",)


@dataclass
class RuntimeConfig:
    """Everything a serving process (or each of its workers) needs to build its app.

    Modes: ``registry`` (deployments from the store or server at ``uri``; one if ``deployment``
    is set), ``model`` (one model URI served as deployment ``name``, no record needed) and
    ``local`` (``spec_file`` and ``model_dir``, no metadata store).
    """

    mode: str = "registry"
    uri: str | None = None  # store URI or server URL; None: the settings' default
    artifacts_uri: str | None = None
    deployment: str | None = None
    model_uri: str | None = None
    name: str | None = None
    project: str = "default"
    spec_file: str | None = None
    model_dir: str | None = None
    auth_store_uri: str | None = None  # where tokens are checked when the source is a server
    capture: bool = True  # mode "model": keep predictions in the prediction log
    settings: dict[str, Any] = field(default_factory=dict)
    metrics_dir: str | None = None

    @classmethod
    def with_settings(cls, settings: Settings, **fields: Any) -> RuntimeConfig:
        """A config carrying ``settings`` (secrets left out: workers read them as the parent did)."""
        dumped = settings.model_dump(mode="json", exclude=set(_SECRETS))
        return cls(settings=dumped, **fields)

    def load_settings(self) -> Settings:
        """The settings this config carries."""
        return Settings(**self.settings)

    def to_json(self) -> bytes:
        """Serialised for worker processes."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> RuntimeConfig:
        """Read back what ``to_json`` wrote."""
        return cls(**orjson.loads(raw))


def build_source(config: RuntimeConfig, settings: Settings) -> tuple[Source, set[str]]:
    """The source a config names, and the deployment names readiness waits for."""
    if config.mode == "local":
        if not config.spec_file:
            raise InvalidArgument("Serving from local files needs a deployment spec file.")
        source = LocalSource.from_files(config.spec_file, config.model_dir)
        return source, {d.name for d in source.deployments()}
    if config.mode == "model" and config.model_uri and not config.model_uri.startswith("models:/"):
        folder = Path(config.model_uri)
        if not folder.is_dir():
            raise InvalidArgument(
                f"{config.model_uri!r} is neither a models:/ URI nor a model folder: use "
                "models:/<name>@<alias>, models:/<name>/<version> or a folder with a MODEL.json."
            )
        uri = f"models:/{config.name or folder.name}/1"
        d = pinned_deployment(
            _name(config, folder.name), uri, project=config.project, capture={"enabled": config.capture}
        )
        return LocalSource.from_mapping([d], {uri: str(folder)}), {d.name}
    from modelyard.client.client import Client

    client = Client(config.uri, artifacts_uri=config.artifacts_uri, settings=settings)
    if config.mode == "model":
        if not config.model_uri:
            raise InvalidArgument("Serving one model needs its URI (models:/<name>@<alias>).")
        from modelyard.registry.uris import parse_model_uri

        project, model_name, _ = parse_model_uri(config.model_uri, config.project)
        d = pinned_deployment(
            _name(config, model_name), config.model_uri, project=project, capture={"enabled": config.capture}
        )
        return RegistrySource(client, pinned=[d]), {d.name}
    return RegistrySource(client, deployment=config.deployment), (
        {config.deployment} if config.deployment else set()
    )


def _name(config: RuntimeConfig, fallback: str) -> str:
    if config.name:
        return config.name
    import re

    cleaned = re.sub(r"[^a-z0-9\-]+", "-", fallback.lower()).strip("-")[:63] or "model"
    return cleaned if cleaned[0].isalpha() else f"m-{cleaned}"[:63]


def build_app(config: RuntimeConfig) -> RuntimeApp:
    """The serving app for a config (capture, token checks and metrics included)."""
    from modelyard.serving.runtime.capture_process import ProcessWriter

    settings = config.load_settings()
    source, expected = build_source(config, settings)
    gate = None
    if settings.auth:
        from modelyard.core.store import Store
        from modelyard.serving.runtime.auth import TokenGate

        gate = TokenGate(Store.open(_auth_store(config, settings), settings.resolved_artifacts_uri))
    capture = ProcessWriter(
        settings.resolved_predictions_uri,
        queue_size=settings.capture_queue_size,
        flush_rows=settings.capture_flush_rows,
        flush_s=settings.capture_flush_s,
    )
    return RuntimeApp(
        source,
        poll_s=settings.serve_poll_s,
        capture=capture,
        gate=gate,
        expected=expected,
        metrics=Metrics(config.metrics_dir),
        switch_interval_s=SWITCH_INTERVAL_S,
    )


def _auth_store(config: RuntimeConfig, settings: Settings) -> str:
    if config.auth_store_uri:
        return config.auth_store_uri
    uri = config.uri if config.uri is not None else settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        raise InvalidArgument(
            "With authentication on, the serving process checks API tokens in the metadata store: give it "
            "the store (--store sqlite:///... or postgresql://...) rather than a server URL."
        )
    return uri or settings.resolved_store_uri


def app_from_environment() -> RuntimeApp:
    """The uvicorn factory each worker process calls."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start workers through modelyard serve.")
    return build_app(RuntimeConfig.from_json(Path(path).read_bytes()))


def preflight(config: RuntimeConfig) -> list[str]:
    """Check a config before serving (source reachable, models named exist); returns what will be served."""
    settings = config.load_settings()
    source, _ = build_source(config, settings)
    try:
        served = []
        for d in source.deployments():
            ref = source.resolve(d.model_uri, d.project)
            served.append(f"{d.name}: {ref.name} v{ref.version} ({d.model_uri})")
        return served
    finally:
        source.close()


def uvicorn_options() -> dict[str, Any]:
    """The fastest HTTP parser and event loop installed."""
    options: dict[str, Any] = {}
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    return options


def run(config: RuntimeConfig, *, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Serve until interrupted; refuses to listen beyond loopback without authentication."""
    import uvicorn

    from modelyard.server.run import check_bind_address

    settings = config.load_settings()
    check_bind_address(host, auth=settings.auth)
    options = dict(
        host=host, port=port, access_log=False, log_level=log_level, lifespan="on", **uvicorn_options()
    )
    if workers <= 1:
        uvicorn.run(build_app(config), **options)
        return
    with tempfile.TemporaryDirectory(prefix="modelyard-serve-") as tmp:
        metrics_dir = Path(tmp) / "metrics"
        metrics_dir.mkdir()
        config = replace(config, metrics_dir=str(metrics_dir))
        path = Path(tmp) / "runtime.json"
        path.touch(mode=0o600)
        path.write_bytes(config.to_json())
        os.environ[CONFIG_ENV] = str(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        uvicorn.run(
            "modelyard.serving.runtime.server:app_from_environment", factory=True, workers=workers, **options
        )
