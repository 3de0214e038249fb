"""Where the serving process learns what to serve, and gets the models.

``RegistrySource`` reads deployments (or one pinned in memory, for ``modelyard serve
--model``) and models through a ``modelyard.Client``: an embedded store or a server.
``LocalSource`` serves from a JSON spec and local model folders, without any metadata store
(an exported build context). Every method here blocks; the runtime calls them in a thread.

The local spec file (``deployment.json``)::

    {"name": "credit", "project": "default",
     "model_uri": "models:/credit-default@champion", ...any DeploymentSpec field...,
     "models": {"models:/credit-default@champion":
                    {"path": "model", "name": "credit-default", "version": 3, "trusted": false,
                     "profile": "profile.json"}}}

``path`` and ``profile`` are relative to the spec file (``profile`` may also be the profile
itself). Without ``models``, the one folder given as ``model_dir`` answers for the primary URI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.core.ids import now_ms
from modelyard.registry.uris import parse_model_uri
from modelyard.serving.runtime.scoring import ModelRef
from modelyard.serving.schemas import CanaryProgress, Deployment, check_deployment_name

if TYPE_CHECKING:
    from modelyard.client.client import Client
    from modelyard.models.loaded import LoadedModel

log = logging.getLogger("modelyard.serving")


class Source(Protocol):
    """What the runtime needs from wherever deployments and models live."""

    def deployments(self) -> list[Deployment]:
        """The deployments to host now."""
        ...

    def resolve(self, uri: str, project: str) -> ModelRef:
        """The version a model URI names now."""
        ...

    def load(self, ref: ModelRef) -> LoadedModel:
        """Load a version (verified against its manifest, trusted as its record says)."""
        ...

    def reference_profile(self, ref: ModelRef) -> dict[str, Any] | None:
        """The version's training profile (ranges, categories), if one was recorded."""
        ...

    def report_canary(self, name: str, progress: CanaryProgress) -> None:
        """Record a canary's progress where the deployment lives."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def pinned_deployment(name: str, model_uri: str, *, project: str = "default", **spec: Any) -> Deployment:
    """A deployment that exists only in this process (``serve --model``): no record anywhere."""
    check_deployment_name(name)
    now = now_ms()
    return Deployment(
        id=f"local-{name}",
        name=name,
        project_id="",
        project=project,
        revision=0,
        created_at=now,
        updated_at=now,
        model_uri=model_uri,
        **spec,
    )


class RegistrySource:
    """Deployments and models through a ``Client`` (embedded store or server)."""

    def __init__(
        self, client: Client, *, deployment: str | None = None, pinned: list[Deployment] | None = None
    ) -> None:
        self.client = client
        self.only = deployment
        self.pinned = pinned
        self._warned: set[str] = set()

    def deployments(self) -> list[Deployment]:
        """Pinned deployments, the one named, or every active one."""
        if self.pinned is not None:
            return list(self.pinned)
        if self.only is not None:
            getter = self._method("get_deployment")
            try:
                return [getter(self.only)]
            except NotFound:  # deleted (or not created yet): nothing to serve, /ready says so
                return []
        return list(self._method("list_deployments")())

    def resolve(self, uri: str, project: str) -> ModelRef:
        """Ask the registry which version ``uri`` names now."""
        proj, name, ref = parse_model_uri(uri, project)
        if ref.startswith("@"):
            v = self.client.get_model_version(name, alias=ref[1:], project=proj)
        elif ref == "latest":
            v = self.client.get_model_version(name, project=proj)
        else:
            v = self.client.get_model_version(name, int(ref), project=proj)
        if v.status != "ready":
            raise InvalidArgument(f"{uri} is version {v.version}, which is {v.status}, not ready.")
        return ModelRef(proj, name, v.version, v.digest or v.id, trusted=v.trusted, uri=uri)

    def load(self, ref: ModelRef) -> LoadedModel:
        """Download (once per digest, into the local cache) and load."""
        from modelyard import models

        path, version = self.client.download_model(f"models:/{ref.name}/{ref.version}", project=ref.project)
        return models.load(path, trust=version.trusted)

    def reference_profile(self, ref: ModelRef) -> dict[str, Any] | None:
        """The profile the registry keeps for the version (None when there is none)."""
        getter = getattr(self.client, "get_reference_profile", None)
        if getter is None:
            self._warn_once("get_reference_profile", "humility rules use only the ranges the rules give")
            return None
        try:
            return getter(ref.project, ref.name, ref.version)  # type: ignore[no-any-return]
        except NotFound:
            return None
        except Exception as exc:  # a profile is a hint; serving goes on without it
            log.warning("No reference profile for %s v%s: %s", ref.name, ref.version, exc)
            return None

    def report_canary(self, name: str, progress: CanaryProgress) -> None:
        """Record progress on the deployment (pinned deployments have no record: log only)."""
        if self.pinned is not None:
            _log_canary(name, progress)
            return
        reporter = getattr(self.client, "report_canary", None)
        if reporter is None:
            self._warn_once(
                "report_canary", "canary progress stays in this process and is not recorded on the deployment"
            )
            return
        reporter(name, progress)

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    def _method(self, name: str) -> Any:
        method = getattr(self.client, name, None)
        if method is None:
            raise InvalidArgument(
                f"This Modelyard client has no {name}(): it cannot read deployments. Serve one model with "
                "'modelyard serve --model models:/<name>@<alias>' instead, or upgrade modelyard."
            )
        return method

    def _warn_once(self, what: str, consequence: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("The Modelyard client has no %s(): %s.", what, consequence)


@dataclass(frozen=True)
class LocalModel:
    """A model folder standing in for a model URI."""

    path: Path
    name: str
    version: int
    trusted: bool = False
    profile: dict[str, Any] | None = None


class LocalSource:
    """Deployments from memory or a spec file, models from local folders: no metadata store."""

    def __init__(self, deployments: list[Deployment], models: dict[str, LocalModel]) -> None:
        self._deployments = deployments
        self.models = models

    @classmethod
    def from_files(cls, spec_file: str | Path, model_dir: str | Path | None = None) -> LocalSource:
        """Read ``deployment.json`` (see the module docstring) and its model folders."""
        spec_path = Path(spec_file)
        try:
            doc = orjson.loads(spec_path.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"No deployment spec at {str(spec_path)!r}.") from None
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(
                f"The deployment spec {str(spec_path)!r} is not valid JSON: {exc}."
            ) from None
        if not isinstance(doc, dict) or "name" not in doc or "model_uri" not in doc:
            raise InvalidArgument(
                f"The deployment spec {str(spec_path)!r} needs at least 'name' and 'model_uri'."
            )
        base = spec_path.parent
        entries = doc.pop("models", None) or {}
        known = {"id", "project_id", "revision", "created_at", "updated_at", "status", "created_by"}
        spec = {k: v for k, v in doc.items() if k not in known | {"name", "project", "model_uri"}}
        deployment = pinned_deployment(
            doc["name"], doc["model_uri"], project=doc.get("project") or "default", **spec
        )
        models: dict[str, LocalModel] = {}
        for uri, entry in entries.items():
            models[uri] = _local_model(base, uri, entry)
        if deployment.model_uri not in models:
            if model_dir is None:
                raise InvalidArgument(
                    f"The deployment spec names no folder for {deployment.model_uri}: add it under 'models' "
                    "or pass the model folder."
                )
            models[deployment.model_uri] = _local_model(base, deployment.model_uri, {"path": str(model_dir)})
        return cls([deployment], models)

    @classmethod
    def from_mapping(cls, deployments: list[Deployment], folders: dict[str, str]) -> LocalSource:
        """Deployments whose model URIs stand for the given folders (not trusted: no pickles)."""
        return cls(
            deployments, {uri: _local_model(Path("."), uri, {"path": p}) for uri, p in folders.items()}
        )

    def deployments(self) -> list[Deployment]:
        """The deployments given."""
        return list(self._deployments)

    def resolve(self, uri: str, project: str) -> ModelRef:
        """The folder standing in for ``uri``."""
        model = self.models.get(uri)
        if model is None:
            raise NotFound(f"No model folder is given for {uri}.")
        return ModelRef(project, model.name, model.version, str(model.path), trusted=model.trusted, uri=uri)

    def load(self, ref: ModelRef) -> LoadedModel:
        """Load the folder (checked against its manifest)."""
        from modelyard import models

        return models.load(Path(ref.key), trust=ref.trusted)

    def reference_profile(self, ref: ModelRef) -> dict[str, Any] | None:
        """The profile shipped with the folder, if any."""
        model = self.models.get(ref.uri)
        return model.profile if model else None

    def report_canary(self, name: str, progress: CanaryProgress) -> None:
        """No store to write to: the progress lives in this process."""
        _log_canary(name, progress)

    def close(self) -> None:
        """Nothing to release."""


def _log_canary(name: str, progress: CanaryProgress) -> None:
    log.info("Canary of %s: %s at step %d %s", name, progress.state, progress.step, progress.reason)


def _local_model(base: Path, uri: str, entry: Any) -> LocalModel:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise InvalidArgument(f"The model entry for {uri} needs a 'path' (a model folder).")
    path = Path(entry["path"])
    path = path if path.is_absolute() else base / path
    name, version = entry.get("name"), entry.get("version")
    if name is None or version is None:
        try:
            _, parsed_name, ref = parse_model_uri(uri, "default")
        except InvalidArgument:
            parsed_name, ref = path.name, "1"
        name = name or parsed_name
        version = version if version is not None else (int(ref) if ref.isdigit() else 1)
    profile = entry.get("profile")
    if isinstance(profile, str):
        file = base / profile
        try:
            profile = orjson.loads(file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InvalidArgument(f"The profile {str(file)!r} for {uri} cannot be read: {exc}.") from None
    return LocalModel(
        path=path,
        name=str(name),
        version=int(version),
        trusted=bool(entry.get("trusted", False)),
        profile=profile if isinstance(profile, dict) else None,
    )
