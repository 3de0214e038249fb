"""The registry half of ``Client``: register, alias, inspect and load model versions."""

from __future__ import annotations

import getpass
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.client.governance_backends import EmbeddedGovernance, HttpGovernance
from modelyard.client.registry_backends import EmbeddedRegistry, HttpRegistry, version_ref
from modelyard.core.errors import InvalidArgument
from modelyard.governance.schemas import PromotionRequest
from modelyard.registry.schemas import (
    AliasMove,
    Lineage,
    ModelCardSections,
    ModelsPage,
    ModelVersion,
    RegisteredModel,
    RiskTier,
    VersionsPage,
)
from modelyard.registry.uris import parse_model_uri

if TYPE_CHECKING:
    from modelyard.core.settings import Settings
    from modelyard.models import LoadedModel

DEFAULT_PROJECT = "default"


class ModelInfo:
    """What ``log_model`` stored: where (``uri``, usable with ``register_model``) and its manifest."""

    def __init__(self, run_id: str, artifact_path: str, manifest: Any) -> None:
        self.run_id, self.artifact_path, self.manifest = run_id, artifact_path, manifest
        self.uri = f"runs:/{run_id}/{artifact_path}"

    def __repr__(self) -> str:
        return f"ModelInfo(uri={self.uri!r}, flavor={self.manifest.flavor!r})"


class RegistryMixin:
    """Registry methods of ``Client`` (mixed in; uses its backend and settings)."""

    _registry: EmbeddedRegistry | HttpRegistry
    _governance: EmbeddedGovernance | HttpGovernance
    settings: Settings

    def log_model(
        self,
        run_id: str,
        model: Any,
        name: str = "model",
        *,
        input_example: Any = None,
        requirements: list[str] | None = None,
        allow_pickle: bool = True,
    ) -> ModelInfo:
        """Save a model in its flavor's safe format (with manifest and signature) as run artifacts."""
        from modelyard import models

        with tempfile.TemporaryDirectory(prefix="modelyard-log-model-") as tmp:
            folder = Path(tmp) / "model"
            manifest = models.save(
                model,
                folder,
                input_example=input_example,
                requirements=requirements,
                allow_pickle=allow_pickle,
            )
            self.log_artifacts(run_id, folder, artifact_path=name)  # type: ignore[attr-defined]
        return ModelInfo(run_id, name, manifest)

    def create_registered_model(
        self,
        name: str,
        *,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        owner: str = "",
        risk_tier: RiskTier | str = RiskTier.MEDIUM,
        tags: dict[str, str] | None = None,
    ) -> RegisteredModel:
        """Register a model name with its risk tier."""
        return self._registry.create_model(
            project, name, description=description, owner=owner, risk_tier=str(risk_tier), tags=tags or {}
        )

    def get_registered_model(self, name: str, *, project: str = DEFAULT_PROJECT) -> RegisteredModel:
        """A registered model with its aliases."""
        return self._registry.get_model(project, name)

    def list_registered_models(
        self, *, project: str = DEFAULT_PROJECT, include_archived: bool = False
    ) -> list[RegisteredModel]:
        """A project's models."""
        return self._registry.list_models(project, include_archived)

    def update_registered_model(
        self, name: str, *, project: str = DEFAULT_PROJECT, **changes: Any
    ) -> RegisteredModel:
        """Change description, owner, risk_tier or status ('active'/'archived')."""
        return self._registry.update_model(project, name, **changes)

    def delete_registered_model(self, name: str, *, project: str = DEFAULT_PROJECT) -> None:
        """Delete a model (its versions can no longer be loaded or aliased)."""
        self._registry.delete_model(project, name)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, project: str = DEFAULT_PROJECT
    ) -> None:
        """Tag a model."""
        self._registry.set_model_tag(project, name, key, str(value))

    def search_registered_models(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> ModelsPage:
        """Models matching a filter, e.g. ``"name LIKE 'credit%' and risk_tier = 'high'"``."""
        body = {
            "filter": filter,
            "order_by": order_by or [],
            "max_results": max_results,
            "page_token": page_token,
        }
        return self._registry.search(project, "models", body)  # type: ignore[return-value]

    def search_model_versions(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> VersionsPage:
        """Versions matching a filter, e.g. ``"metrics.auc > 0.8 and alias = 'champion'"``."""
        body = {
            "filter": filter,
            "order_by": order_by or [],
            "max_results": max_results,
            "page_token": page_token,
        }
        return self._registry.search(project, "versions", body)  # type: ignore[return-value]

    def register_model(
        self,
        source: str | Path,
        name: str,
        *,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        tags: dict[str, str] | None = None,
        reference: Any = None,
        reference_target: str | None = None,
        reference_prediction: str | None = None,
    ) -> ModelVersion:
        """Add a version to ``name`` (created on first use) from a run, a folder or file, or MLflow.

        Args:
            source: ``runs:/<run-id>/<path>``; a Modelyard model folder; an MLflow model folder
                (one with an ``MLmodel`` file); or a single model file (.onnx, .skops, XGBoost
                .ubj/.json, LightGBM .txt, TorchScript .pt).
            reference: data the version is judged against in production (usually its training
                set): profiled and stored with the version for monitoring and humility rules
                (see ``set_reference``, which ``reference_target``/``reference_prediction`` feed).
        """
        version = self._register(source, name, project, description, tags)
        if reference is not None:
            self.set_reference(  # type: ignore[attr-defined]
                name,
                version.version,
                reference,
                target=reference_target,
                prediction=reference_prediction,
                project=project,
            )
        return version

    def _register(
        self, source: str | Path, name: str, project: str, description: str, tags: dict[str, str] | None
    ) -> ModelVersion:
        actor = getpass.getuser()
        if isinstance(source, str) and source.startswith("runs:/"):
            return self._registry.version_from_run(project, name, source, description, tags or {}, actor)
        if isinstance(source, str) and "://" in source:
            raise InvalidArgument(
                f"Cannot register from {source!r}: use runs:/..., or a local folder or file."
            )
        path = Path(source)
        if not path.exists():
            raise InvalidArgument(f"Nothing to register at {str(path)!r}: no such file or folder.")
        with tempfile.TemporaryDirectory(prefix="modelyard-register-") as tmp:
            folder = _as_model_folder(path, Path(tmp) / "model")
            version = self._registry.version_from_folder(project, name, folder, description, actor)
        for k, v in (tags or {}).items():
            self._registry.set_version_tag(project, name, version.version, k, str(v))
        return self._registry.get_version(project, name, str(version.version)) if tags else version

    def get_model_version(
        self,
        name: str,
        version: int | None = None,
        *,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> ModelVersion:
        """A version by number, by alias, or the latest."""
        return self._registry.get_version(project, name, version_ref(version, alias))

    def list_model_versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> list[ModelVersion]:
        """Every version of a model, newest first."""
        return self._registry.list_versions(project, name)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, project: str = DEFAULT_PROJECT
    ) -> None:
        """Tag a version."""
        self._registry.set_version_tag(project, name, version, key, str(value))

    def set_model_version_trusted(
        self, name: str, version: int, trusted: bool = True, *, project: str = DEFAULT_PROJECT
    ) -> ModelVersion:
        """Mark a pickle-based version as safe to load (or withdraw that)."""
        return self._registry.set_trusted(project, name, version, trusted)

    def set_model_alias(
        self, name: str, alias: str, version: int, *, project: str = DEFAULT_PROJECT, reason: str = ""
    ) -> ModelVersion:
        """Move an alias (``champion``, ``production``, ...) to a version."""
        return self._registry.set_alias(project, name, alias, int(version), reason, getpass.getuser())

    def delete_model_alias(self, name: str, alias: str, *, project: str = DEFAULT_PROJECT) -> None:
        """Remove an alias."""
        self._registry.delete_alias(project, name, alias)

    def get_alias_history(
        self, name: str, alias: str | None = None, *, project: str = DEFAULT_PROJECT
    ) -> list[AliasMove]:
        """Every move of a model's aliases, oldest first."""
        return self._registry.alias_history(project, name, alias)

    def get_model_lineage(
        self,
        name: str,
        version: int | None = None,
        *,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Lineage:
        """Datasets → run → version → aliases, as a graph."""
        return self._registry.lineage(project, name, version_ref(version, alias))

    def get_model_card(
        self,
        name: str,
        version: int | None = None,
        *,
        alias: str | None = None,
        format: str = "md",
        project: str = DEFAULT_PROJECT,
    ) -> str:
        """The model card as Markdown (``format="md"``) or a self-contained HTML page (``"html"``)."""
        if format not in ("md", "html"):
            raise InvalidArgument("Model card format must be 'md' or 'html'.")
        return self._registry.card(project, name, version_ref(version, alias), format)

    def set_model_card(
        self, name: str, version: int, *, project: str = DEFAULT_PROJECT, **sections: Any
    ) -> ModelCardSections:
        """Write card sections: intended_use, limitations, ethical_considerations, other={title: text}."""
        return self._registry.put_card(project, name, version, ModelCardSections(**sections))

    # ----------------------------------------------------------- governance
    def request_promotion(
        self, name: str, version: int, alias: str, *, project: str = DEFAULT_PROJECT, reason: str = ""
    ) -> PromotionRequest:
        """Ask for a protected alias to move to a version; it moves once the tier's policy is met."""
        return self._governance.request(project, name, int(version), alias, reason)

    def approve_promotion(self, request_id: str, comment: str = "") -> PromotionRequest:
        """Approve a promotion request (as a reviewer with a role the policy accepts)."""
        return self._governance.review(request_id, True, comment)

    def reject_promotion(self, request_id: str, comment: str = "") -> PromotionRequest:
        """Reject a promotion request, recording why."""
        return self._governance.review(request_id, False, comment)

    def get_promotion(self, request_id: str) -> PromotionRequest:
        """A promotion request with its evidence and reviews."""
        return self._governance.get(request_id)

    def list_promotions(
        self, *, project: str = DEFAULT_PROJECT, status: str | None = None
    ) -> list[PromotionRequest]:
        """A project's promotion requests, newest first."""
        return self._governance.list(project, status)

    def record_check(
        self,
        name: str,
        version: int,
        check: str,
        passed: bool,
        *,
        project: str = DEFAULT_PROJECT,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record a named check's outcome (fairness, data_quality, ...) for a version."""
        self._governance.record_check(project, name, int(version), check, passed, details or {})

    def get_policies(self) -> str:
        """The promotion policies of every risk tier, as YAML."""
        return self._governance.policies()

    def set_policies(self, document: str) -> str:
        """Replace the policies of the tiers the YAML names (admins only); returns them all."""
        return self._governance.set_policies(document)

    def download_model(self, uri: str, *, project: str = DEFAULT_PROJECT) -> tuple[Path, ModelVersion]:
        """Fetch a registered version into the local cache (once per content digest)."""
        proj, name, ref = parse_model_uri(uri, project)
        version = self._registry.get_version(proj, name, ref)
        if version.status != "ready":
            raise InvalidArgument(f"Version {version.version} of {name!r} is {version.status}, not ready.")
        cache = Path(self.settings.home) / "cache" / "models" / version.digest
        if not (cache / "MODEL.json").is_file():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=cache.parent))
            try:
                for rel in ["MODEL.json", *sorted(version.manifest.get("files", {}))]:
                    target = tmp / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with target.open("wb") as f:
                        for chunk in self._registry.download_file(proj, name, str(version.version), rel):
                            f.write(chunk)
                if cache.exists():  # another process finished first
                    shutil.rmtree(tmp)
                else:
                    tmp.rename(cache)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return cache, version

    def load_model(self, uri: str, *, trust: bool = False, project: str = DEFAULT_PROJECT) -> LoadedModel:
        """Load ``models:/name@alias``, ``models:/name/3``, ``runs:/<id>/<path>`` or a local model folder."""
        from modelyard import models

        if uri.startswith("models:/"):
            path, version = self.download_model(uri, project=project)
            return models.load(path, trust=trust or version.trusted)
        if uri.startswith("runs:/"):
            from modelyard.registry.sources import parse_runs_uri

            run_id, rel = parse_runs_uri(uri)
            tmp = Path(tempfile.mkdtemp(prefix="modelyard-run-model-"))
            try:
                for entry in self._walk_artifacts(run_id, rel):  # type: ignore[attr-defined]
                    self.download_artifact(run_id, entry, _ensure_parent(tmp / Path(entry).relative_to(rel)))  # type: ignore[attr-defined]
                return models.load(tmp, trust=trust)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return models.load(Path(uri), trust=trust)

    def _walk_artifacts(self, run_id: str, rel: str) -> list[str]:
        out: list[str] = []
        for e in self.list_artifacts(run_id, rel):  # type: ignore[attr-defined]
            out.extend(self._walk_artifacts(run_id, e.path) if e.is_dir else [e.path])
        return out


def _search_body(
    filter: str | None, order_by: list[str] | None, max_results: int, page_token: str | None
) -> dict[str, Any]:
    return {
        "filter": filter,
        "order_by": order_by or [],
        "max_results": max_results,
        "page_token": page_token,
    }


def _ensure_parent(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _as_model_folder(path: Path, staging: Path) -> Path:
    """A Modelyard model folder for ``path``: as is, converted from MLflow, or wrapped from a file."""
    from modelyard import models

    if path.is_dir():
        if (path / "MODEL.json").is_file():
            return path
        if (path / "MLmodel").is_file():
            models.import_mlflow(path, staging)
            return staging
        raise InvalidArgument(
            f"{str(path)!r} is neither a Modelyard model folder (MODEL.json) nor an MLflow model (MLmodel)."
        )
    models.save_file(path, staging)
    return staging
