"""Registry operations over the embedded store or the REST API (same results, same errors)."""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelyard.client.backend import iter_file
from modelyard.client.http import HttpBackend, _q, raise_for_error
from modelyard.core.errors import Unavailable
from modelyard.registry.cards import render_card
from modelyard.registry.lineage import build_lineage
from modelyard.registry.schemas import (
    AliasMove,
    Lineage,
    ModelCardSections,
    ModelsPage,
    ModelVersion,
    RegisteredModel,
    VersionsPage,
    check_alias,
)
from modelyard.registry.service import RegistryService


def version_ref(version: int | str | None, alias: str | None) -> str:
    """The path segment naming a version: a number, ``latest`` or ``@alias``."""
    if alias is not None:
        return f"@{alias}"
    return "latest" if version is None else str(int(version))


class EmbeddedRegistry:
    """Direct calls to the registry service."""

    def __init__(self, store: Any) -> None:
        self.svc = RegistryService(store)

    def create_model(self, project: str, name: str, **kw: Any) -> RegisteredModel:
        return self.svc.create_model(project=project, name=name, **kw)

    def get_model(self, project: str, name: str) -> RegisteredModel:
        return self.svc.get_model(project=project, name=name)

    def list_models(self, project: str, include_archived: bool) -> list[RegisteredModel]:
        return self.svc.list_models(project=project, include_archived=include_archived)

    def update_model(self, project: str, name: str, **kw: Any) -> RegisteredModel:
        return self.svc.update_model(project=project, name=name, **kw)

    def delete_model(self, project: str, name: str) -> None:
        self.svc.delete_model(project=project, name=name)

    def set_model_tag(self, project: str, name: str, key: str, value: str) -> None:
        self.svc.set_model_tag(project=project, name=name, key=key, value=value)

    def version_from_run(
        self, project: str, name: str, source: str, description: str, tags: dict[str, str], actor: str
    ) -> ModelVersion:
        return self.svc.create_version(
            project=project, name=name, source=source, description=description, tags=tags, actor=actor
        )

    def version_from_folder(
        self, project: str, name: str, folder: Path, description: str, actor: str
    ) -> ModelVersion:
        return self.svc.create_version(
            project=project,
            name=name,
            source=str(folder),
            model_dir=folder,
            description=description,
            actor=actor,
        )

    def get_version(self, project: str, name: str, ref: str) -> ModelVersion:
        if ref.startswith("@"):
            return self.svc.get_version(project=project, name=name, alias=ref[1:])
        return self.svc.get_version(project=project, name=name, version=None if ref == "latest" else int(ref))

    def list_versions(self, project: str, name: str) -> list[ModelVersion]:
        return self.svc.list_versions(project=project, name=name)

    def set_version_tag(self, project: str, name: str, version: int, key: str, value: str) -> None:
        self.svc.set_version_tag(project=project, name=name, version=version, key=key, value=value)

    def set_trusted(self, project: str, name: str, version: int, trusted: bool) -> ModelVersion:
        return self.svc.set_trusted(project=project, name=name, version=version, trusted=trusted)

    def set_alias(
        self, project: str, name: str, alias: str, version: int, reason: str, actor: str
    ) -> ModelVersion:
        return self.svc.set_alias(
            project=project, name=name, alias=alias, version=version, reason=reason, actor=actor
        )

    def delete_alias(self, project: str, name: str, alias: str) -> None:
        self.svc.delete_alias(project=project, name=name, alias=alias)

    def alias_history(self, project: str, name: str, alias: str | None) -> list[AliasMove]:
        return self.svc.alias_history(project=project, name=name, alias=alias)

    def lineage(self, project: str, name: str, ref: str) -> Lineage:
        return build_lineage(self.svc, self.get_version(project, name, ref))

    def card(self, project: str, name: str, ref: str, fmt: str) -> str:
        return render_card(self.svc, self.get_version(project, name, ref), html=fmt == "html")

    def put_card(
        self, project: str, name: str, version: int, sections: ModelCardSections
    ) -> ModelCardSections:
        v = self.svc.get_version(project=project, name=name, version=version)
        return self.svc.put_card_sections(v, sections)

    def download_file(self, project: str, name: str, ref: str, path: str) -> Iterator[bytes]:
        return self.svc.read_version_file(self.get_version(project, name, ref), path)

    def search(self, project: str, what: str, body: dict[str, Any]) -> ModelsPage | VersionsPage:
        fn = self.svc.search_models if what == "models" else self.svc.search_versions
        return fn(project=project, **body)


class HttpRegistry:
    """The registry over the REST API."""

    def __init__(self, http: HttpBackend) -> None:
        self.b = http

    def _base(self, project: str, name: str | None = None) -> str:
        base = f"/api/v1/projects/{_q(project)}/models"
        return base if name is None else f"{base}/{_q(name)}"

    def create_model(self, project: str, name: str, **kw: Any) -> RegisteredModel:
        kw.pop("actor", None)
        body = {"name": name, **{k: v for k, v in kw.items() if v is not None}}
        return RegisteredModel(**self.b._call("POST", self._base(project), json=body))

    def search(self, project: str, what: str, body: dict[str, Any]) -> ModelsPage | VersionsPage:
        path = "/search" if what == "models" else "/versions/search"
        data = self.b._call("POST", f"{self._base(project)}{path}", json=body)
        return ModelsPage(**data) if what == "models" else VersionsPage(**data)

    def get_model(self, project: str, name: str) -> RegisteredModel:
        return RegisteredModel(**self.b._call("GET", self._base(project, name)))

    def list_models(self, project: str, include_archived: bool) -> list[RegisteredModel]:
        found = self.b._call("GET", self._base(project), params={"include_archived": include_archived})
        return [RegisteredModel(**m) for m in found]

    def update_model(self, project: str, name: str, **kw: Any) -> RegisteredModel:
        kw.pop("actor", None)
        return RegisteredModel(**self.b._call("PATCH", self._base(project, name), json=kw))

    def delete_model(self, project: str, name: str) -> None:
        self.b._call("DELETE", self._base(project, name))

    def set_model_tag(self, project: str, name: str, key: str, value: str) -> None:
        self.b._call("PUT", f"{self._base(project, name)}/tags/{_q(key)}", content=value.encode())

    def version_from_run(
        self, project: str, name: str, source: str, description: str, tags: dict[str, str], actor: str
    ) -> ModelVersion:
        body = {"source": source, "description": description, "tags": tags}
        return ModelVersion(**self.b._call("POST", f"{self._base(project, name)}/versions", json=body))

    def version_from_folder(
        self, project: str, name: str, folder: Path, description: str, actor: str
    ) -> ModelVersion:
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for p in sorted(folder.rglob("*")):
                    if p.is_file() and not p.is_symlink():
                        tar.add(p, arcname=p.relative_to(folder).as_posix())
            archive.seek(0)
            data = self.b._call(
                "POST",
                f"{self._base(project, name)}/versions/upload",
                params={"description": description},
                content=iter_file(archive),
            )  # type: ignore[arg-type]
        return ModelVersion(**data)

    def get_version(self, project: str, name: str, ref: str) -> ModelVersion:
        return ModelVersion(**self.b._call("GET", f"{self._base(project, name)}/versions/{_q(ref)}"))

    def list_versions(self, project: str, name: str) -> list[ModelVersion]:
        return [ModelVersion(**v) for v in self.b._call("GET", f"{self._base(project, name)}/versions")]

    def set_version_tag(self, project: str, name: str, version: int, key: str, value: str) -> None:
        self.b._call(
            "PUT",
            f"{self._base(project, name)}/versions/{int(version)}/tags/{_q(key)}",
            content=value.encode(),
        )

    def set_trusted(self, project: str, name: str, version: int, trusted: bool) -> ModelVersion:
        url = f"{self._base(project, name)}/versions/{int(version)}/trusted"
        return ModelVersion(**self.b._call("PUT", url, json={"trusted": trusted}))

    def set_alias(
        self, project: str, name: str, alias: str, version: int, reason: str, actor: str
    ) -> ModelVersion:
        check_alias(alias)  # a "/" in an alias would otherwise change the URL itself
        url = f"{self._base(project, name)}/aliases/{_q(alias)}"
        return ModelVersion(**self.b._call("PUT", url, json={"version": version, "reason": reason}))

    def delete_alias(self, project: str, name: str, alias: str) -> None:
        self.b._call("DELETE", f"{self._base(project, name)}/aliases/{_q(alias)}")

    def alias_history(self, project: str, name: str, alias: str | None) -> list[AliasMove]:
        params = {"alias": alias} if alias is not None else None
        return [
            AliasMove(**m)
            for m in self.b._call("GET", f"{self._base(project, name)}/aliases/history", params=params)
        ]

    def lineage(self, project: str, name: str, ref: str) -> Lineage:
        return Lineage(**self.b._call("GET", f"{self._base(project, name)}/versions/{_q(ref)}/lineage"))

    def card(self, project: str, name: str, ref: str, fmt: str) -> str:
        url = f"{self._base(project, name)}/versions/{_q(ref)}/card"
        try:
            resp = self.b.http.get(url, params={"format": fmt})
        except Exception as exc:
            raise Unavailable(f"Cannot reach the Modelyard server at {self.b.uri}: {exc}") from exc
        raise_for_error(resp)
        return resp.text

    def put_card(
        self, project: str, name: str, version: int, sections: ModelCardSections
    ) -> ModelCardSections:
        url = f"{self._base(project, name)}/versions/{int(version)}/card"
        return ModelCardSections(**self.b._call("PUT", url, json=sections.model_dump()))

    def download_file(self, project: str, name: str, ref: str, path: str) -> Iterator[bytes]:
        url = f"{self._base(project, name)}/versions/{_q(ref)}/files/{_q(path)}"
        with self.b.http.stream("GET", url) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise_for_error(resp)
            yield from resp.iter_bytes(1024 * 1024)
