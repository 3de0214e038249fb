"""Where a new model version's files come from, and copying them with digest checks.

A source is either a model folder in a run's artifacts (``runs:/<run-id>/<path>``) or a
local folder (the SDK's upload staging, or an embedded caller's own folder). Either way
the folder must hold a ``MODEL.json`` manifest; only the files it lists are copied, each
one's SHA-256 checked against the manifest while it streams, so a version is exactly the
bytes its manifest describes.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from modelyard.core.artifacts import CHUNK_SIZE, ArtifactStore, safe_relpath
from modelyard.core.errors import InvalidArgument, NotFound

MANIFEST = "MODEL.json"
_RUNS_URI = re.compile(r"^runs:/([0-9a-fA-F]{32})/(.+)$")


@dataclass
class ModelSource:
    """A readable model folder: its manifest and a way to open each file."""

    description: str
    manifest: dict[str, object]
    open_file: Callable[[str], BinaryIO]
    run_id: str | None = None


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """Split ``runs:/<run-id>/<path>`` into the run id and a confined relative path."""
    m = _RUNS_URI.match(uri)
    if not m:
        raise InvalidArgument(
            f"Source {uri!r} is not a run model URI: use runs:/<run-id>/<path>, e.g. runs:/{'0' * 32}/model."
        )
    return m.group(1).lower(), safe_relpath(m.group(2))


def _parse_manifest(raw: bytes, where: str) -> dict[str, object]:
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"The model manifest at {where} is not valid JSON: {exc}.") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files or not isinstance(manifest.get("flavor"), str):
        raise InvalidArgument(
            f"The model folder at {where} is broken: its manifest lists no files or no flavor."
        )
    for rel in files:
        safe_relpath(rel)
    return manifest


def run_source(artifacts: ArtifactStore, run_base: str, run_id: str, path: str) -> ModelSource:
    """A model folder inside a run's artifacts."""
    where = f"runs:/{run_id}/{path}"
    if not artifacts.exists(run_base, f"{path}/{MANIFEST}"):
        raise InvalidArgument(
            f"No Modelyard model at {where}: the folder has no {MANIFEST}. Log one with my.log_model(model, "
            f"name={path!r}) inside the run."
        )
    with artifacts.open_read(run_base, f"{path}/{MANIFEST}") as f:
        manifest = _parse_manifest(f.read(), where)

    def open_file(rel: str) -> BinaryIO:
        try:
            return artifacts.open_read(run_base, f"{path}/{rel}")
        except NotFound as exc:
            raise InvalidArgument(f"The model at {where} is broken: {rel!r} is missing.") from exc

    return ModelSource(description=where, manifest=manifest, open_file=open_file, run_id=run_id)


def local_source(folder: Path) -> ModelSource:
    """A model folder on this machine's disk."""
    root = folder.resolve()
    if not (root / MANIFEST).is_file():
        raise InvalidArgument(f"{str(folder)!r} is not a Modelyard model folder (no {MANIFEST}).")
    manifest = _parse_manifest((root / MANIFEST).read_bytes(), str(folder))

    def open_file(rel: str) -> BinaryIO:
        target = (root / safe_relpath(rel)).resolve()
        if not str(target).startswith(str(root) + os.sep):
            raise InvalidArgument(f"The model file {rel!r} resolves outside its folder.")
        if not target.is_file():
            raise InvalidArgument(f"The model at {str(folder)!r} is broken: {rel!r} is missing.")
        return target.open("rb")

    return ModelSource(description=str(folder), manifest=manifest, open_file=open_file)


def copy_verified(source: ModelSource, artifacts: ArtifactStore, dest_base: str) -> int:
    """Copy the manifest and every listed file, checking digests; returns the bytes copied."""
    files: dict[str, str] = source.manifest["files"]  # type: ignore[assignment]
    total = 0
    for rel, expected in sorted(files.items()):
        digest = hashlib.sha256()
        with source.open_file(rel) as f:

            def chunks(f: BinaryIO = f, digest: Any = digest) -> Iterator[bytes]:
                while chunk := f.read(CHUNK_SIZE):
                    digest.update(chunk)
                    yield chunk

            total += artifacts.write_stream(dest_base, rel, chunks())
        if digest.hexdigest() != expected:
            raise InvalidArgument(
                f"The model at {source.description} is broken: {rel!r} does not match the digest in its "
                "manifest (the file changed after the model was saved)."
            )
    artifacts.write_stream(dest_base, MANIFEST, [orjson.dumps(source.manifest)])
    return total
