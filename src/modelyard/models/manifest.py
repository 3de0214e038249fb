"""The manifest of a model folder (``MODEL.json``) and the file digests it vouches for.

A model folder is a flat set of files plus ``MODEL.json``. The manifest lists every file
with its SHA-256; ``digest`` is the SHA-256 of the ``"<sha256>  <path>\\n"`` lines (the
``sha256sum`` format) sorted by path, so it names exactly these bytes under these names.
Loading checks every file against the manifest before any library reads it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelyard.core.artifacts import safe_relpath
from modelyard.core.errors import InvalidArgument, NotFound

MANIFEST_NAME = "MODEL.json"
FORMAT_VERSION = 1
_CHUNK = 1024 * 1024


class ColumnSpec(BaseModel):
    """One input or output: a column name and its type (``shape`` for array inputs)."""

    name: str
    type: str
    shape: list[int] | None = None


class Signature(BaseModel):
    """What a model takes and returns."""

    inputs: list[ColumnSpec] | None = None
    outputs: list[ColumnSpec] | None = None
    input_kind: Literal["dataframe", "array"] = "dataframe"

    @property
    def column_names(self) -> list[str] | None:
        """The input column names, when the model takes named columns."""
        if self.input_kind != "dataframe" or not self.inputs:
            return None
        return [c.name for c in self.inputs]


class ModelManifest(BaseModel):
    """Everything known about a saved model without loading it."""

    model_config = ConfigDict(extra="ignore")

    format_version: int = FORMAT_VERSION
    flavor: str
    library: str
    library_version: str
    python_version: str
    signature: Signature | None = None
    input_example: str | None = None
    requirements: list[str] = Field(default_factory=list)
    files: dict[str, str]
    digest: str
    size_bytes: int
    unsafe: bool
    created_at: int
    source: Literal["modelyard", "mlflow-import"] = "modelyard"
    has_predict_proba: bool = False
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _confined(cls, files: dict[str, str]) -> dict[str, str]:
        for rel, digest in files.items():
            try:
                clean = safe_relpath(rel)
            except InvalidArgument as exc:
                raise ValueError(f"file name {rel!r} is not allowed: {exc.message}") from exc
            if clean != rel or rel == MANIFEST_NAME:
                raise ValueError(f"file name {rel!r} is not a plain relative path")
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"the digest of {rel!r} is not a SHA-256 hex string")
        return files

    def to_json(self) -> bytes:
        """The manifest as stored in ``MODEL.json``."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def combined_digest(files: dict[str, str]) -> str:
    """The folder digest: SHA-256 over ``"<sha256>  <path>\\n"`` lines sorted by path."""
    lines = "".join(f"{files[rel]}  {rel}\n" for rel in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def hash_folder(folder: Path) -> tuple[dict[str, str], int]:
    """Digest every file under ``folder`` except the manifest; returns (files, total size)."""
    files: dict[str, str] = {}
    total = 0
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise InvalidArgument(f"Model files must be regular files; {p.name!r} is a symlink.")
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        if rel == MANIFEST_NAME:
            continue
        files[rel] = sha256_file(p)
        total += p.stat().st_size
    return files, total


def write_manifest(folder: Path, manifest: ModelManifest) -> None:
    """Write ``MODEL.json`` into ``folder``."""
    (folder / MANIFEST_NAME).write_bytes(manifest.to_json())


def read_manifest(path: str | os.PathLike[str]) -> ModelManifest:
    """Read a model folder's manifest without loading the model.

    Raises:
        NotFound: there is no folder at ``path``.
        InvalidArgument: the folder has no valid ``MODEL.json``.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise NotFound(f"No model folder at {str(folder)!r}.")
    file = folder / MANIFEST_NAME
    if not file.is_file():
        raise InvalidArgument(f"{str(folder)!r} is not a Modelyard model folder: it has no {MANIFEST_NAME}.")
    try:
        raw = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The {MANIFEST_NAME} in {str(folder)!r} is not valid JSON: {exc}.") from exc
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("format_version"), int)
        and raw["format_version"] > FORMAT_VERSION
    ):
        raise InvalidArgument(
            f"The model in {str(folder)!r} uses manifest format {raw['format_version']}, newer than this "
            f"Modelyard understands ({FORMAT_VERSION}): upgrade modelyard to load it."
        )
    try:
        return ModelManifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidArgument(f"The {MANIFEST_NAME} in {str(folder)!r} is broken: {problems}.") from exc


def verify_files(folder: Path, manifest: ModelManifest) -> None:
    """Check that every listed file is inside the folder, a regular file, and matches its digest.

    Raises:
        InvalidArgument: naming the first file that is missing, escapes the folder or was changed.
    """
    root = folder.resolve()
    for rel, expected in sorted(manifest.files.items()):
        target = folder / rel
        if target.is_symlink() or not target.resolve().is_relative_to(root):
            raise InvalidArgument(f"The model file {rel!r} in {str(folder)!r} resolves outside its folder.")
        if not target.is_file():
            raise InvalidArgument(f"The model in {str(folder)!r} is broken: {rel!r} is missing.")
        if sha256_file(target) != expected:
            raise InvalidArgument(
                f"The model in {str(folder)!r} is broken: {rel!r} does not match the digest in its manifest "
                "(the file changed after the model was saved)."
            )
    if combined_digest(manifest.files) != manifest.digest:
        raise InvalidArgument(
            f"The model in {str(folder)!r} is broken: its manifest digest does not match its file list."
        )
