"""Writing a model folder all at once: a temporary sibling, renamed into place when complete."""

from __future__ import annotations

import platform
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelyard.core.errors import InvalidArgument
from modelyard.models.manifest import ModelManifest, combined_digest, hash_folder, write_manifest

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def check_target(target: Path) -> None:
    """A model is written only where nothing is yet: a missing path or an empty folder.

    Raises:
        InvalidArgument: ``target`` is a file or a folder with something in it.
    """
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InvalidArgument(f"Cannot save a model at {str(target)!r}: a file is already there.")
    if target.is_dir() and any(target.iterdir()):
        raise InvalidArgument(
            f"Cannot save a model into {str(target)!r}: the folder is not empty. Choose a new or empty "
            "folder."
        )


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; rename it to ``target`` if the block succeeds.

    On any error the temporary folder is removed, so ``target`` never holds half a model.
    """
    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        try:
            if target.is_dir():
                target.rmdir()  # empty, as checked; fails if something appeared meanwhile
            tmp.rename(target)
        except OSError as exc:
            raise InvalidArgument(
                f"Cannot save a model at {str(target)!r}: something else was written there meanwhile."
            ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def finish(folder: Path, **fields: Any) -> ModelManifest:
    """Digest the folder's files and write ``MODEL.json``; returns the manifest."""
    files, size = hash_folder(folder)
    fields.setdefault("python_version", platform.python_version())
    manifest = ModelManifest(
        files=files,
        digest=combined_digest(files),
        size_bytes=size,
        created_at=int(time.time() * 1000),
        **fields,
    )
    write_manifest(folder, manifest)
    return manifest


def requirement_name(req: str) -> str:
    """The normalised distribution name of a requirement line (PEP 503)."""
    m = _REQ_NAME.match(req)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else req.strip().lower()


def merge_requirements(detected: list[str], given: list[str] | None) -> list[str]:
    """Detected pins, with the caller's lines replacing same-named ones and added after them.

    Raises:
        InvalidArgument: a given requirement is not a one-line string.
    """
    given = list(given or [])
    for req in given:
        if not isinstance(req, str) or not req.strip() or "\n" in req or not _REQ_NAME.match(req):
            raise InvalidArgument(f"Requirement {req!r} is not valid: use pip lines like 'pandas==2.2.1'.")
    overridden = {requirement_name(r) for r in given}
    out = [r for r in detected if requirement_name(r) not in overridden]
    for req in given:
        if req.strip() not in out:
            out.append(req.strip())
    return list(dict.fromkeys(out))
