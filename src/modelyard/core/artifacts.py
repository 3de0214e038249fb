"""Artifact storage through fsspec, with every user path confined to its owner's folder.

A user-supplied path is checked as text first (no absolute paths, no ``..``, no
backslashes, no percent-encoding, no ``#``/``?``, no control characters), and on a local
filesystem the resolved location must still sit inside the owner's root, so a symlink
planted inside a run folder cannot lead out of it. Writes go to a temporary name and are
renamed into place, so a crash never leaves half a file under the real name. Reads and
writes stream in chunks: file size never decides memory use.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.core.ids import new_id

CHUNK_SIZE = 1024 * 1024
MAX_PATH_LENGTH = 1024
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\%#?]")
_PARTIAL = re.compile(r"^\..*\.[0-9a-f]{32}\.part$")


@dataclass(frozen=True)
class ArtifactEntry:
    """One file or folder in an artifact listing."""

    path: str
    is_dir: bool
    size: int | None


def safe_relpath(path: str, *, allow_empty: bool = False) -> str:
    """Validate a user-supplied artifact path and return its normal form.

    Raises:
        InvalidArgument: the path could escape its root or is not a plain relative path.
    """
    if not isinstance(path, str):
        raise InvalidArgument("Artifact path must be a string.")
    if path in ("", ".", "/") and allow_empty:
        return ""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise InvalidArgument(f"Artifact path must be 1 to {MAX_PATH_LENGTH} characters long.")
    bad = _FORBIDDEN.search(path)
    if bad:
        raise InvalidArgument(
            f"Artifact path {path!r} contains {bad.group()!r}: use a plain relative path "
            "with '/' separators (no backslashes, '%', '#', '?' or control characters)."
        )
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or "://" in path:
        raise InvalidArgument(f"Artifact path {path!r} must be relative, not absolute.")
    parts = path.split("/")
    if any(p in ("..", ".") for p in parts):
        raise InvalidArgument(f"Artifact path {path!r} may not contain '.' or '..' segments.")
    normal = posixpath.normpath(path)
    if normal.startswith("..") or normal.startswith("/"):  # pragma: no cover - caught above
        raise InvalidArgument(f"Artifact path {path!r} escapes its folder.")
    return normal.strip("/")


class ArtifactStore:
    """Reads and writes artifacts under one root URI (a folder or ``s3://bucket/prefix``)."""

    def __init__(self, root_uri: str) -> None:
        self.root_uri = root_uri.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.root_uri)
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            self.root = os.path.realpath(self.root)
            os.makedirs(self.root, exist_ok=True)

    def location(self, *segments: str) -> str:
        """The URI of an owner's folder, e.g. ``location(project_id, run_id)``."""
        for s in segments:
            if not re.fullmatch(r"[A-Za-z0-9_\-]+", s):
                raise InvalidArgument(f"Invalid artifact folder segment {s!r}.")
        return posixpath.join(self.root, *segments)

    def _target(self, base: str, relpath: str) -> str:
        rel = safe_relpath(relpath, allow_empty=True)
        target = posixpath.join(base, rel) if rel else base
        if self.local:
            real_base = os.path.realpath(base)
            real = os.path.realpath(target)
            if real != real_base and not real.startswith(real_base + os.sep):
                raise InvalidArgument(f"Artifact path {relpath!r} resolves outside its folder.")
        return target

    @contextmanager
    def writer(self, base: str, relpath: str) -> Iterator[BinaryIO]:
        """A file to write ``base/relpath`` through; it appears under its name only when complete."""
        if not safe_relpath(relpath, allow_empty=True):
            raise InvalidArgument("Artifact path must name a file, not the run's root folder.")
        target = self._target(base, relpath)
        parent = posixpath.dirname(target)
        self.fs.makedirs(parent, exist_ok=True)
        self._target(base, relpath)  # re-check now that parent folders exist (symlinks)
        if self.fs.isdir(target):
            raise InvalidArgument(f"Artifact path {relpath!r} is a folder.")
        tmp = posixpath.join(parent, f".{posixpath.basename(target)}.{new_id()}.part")
        try:
            with self.fs.open(tmp, "wb") as f:
                yield f
            self.fs.mv(tmp, target)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)

    def write_stream(self, base: str, relpath: str, chunks: Iterable[bytes]) -> int:
        """Write ``chunks`` to ``base/relpath`` atomically; returns the byte count."""
        size = 0
        with self.writer(base, relpath) as f:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
        return size

    def write_file(self, base: str, relpath: str, local_path: Path) -> int:
        """Copy a local file into the store, streaming."""
        with open(local_path, "rb") as f:
            return self.write_stream(base, relpath, iter(lambda: f.read(CHUNK_SIZE), b""))

    def open_read(self, base: str, relpath: str) -> BinaryIO:
        """Open an artifact for streaming reads."""
        target = self._target(base, relpath)
        if not self.fs.isfile(target):
            raise NotFound(f"No artifact {relpath!r} in this run.")
        return self.fs.open(target, "rb")  # type: ignore[no-any-return]

    def iter_read(self, base: str, relpath: str) -> Iterator[bytes]:
        """Yield an artifact's bytes chunk by chunk."""
        with self.open_read(base, relpath) as f:
            while chunk := f.read(CHUNK_SIZE):
                yield chunk

    def size(self, base: str, relpath: str) -> int:
        """Size of one artifact in bytes."""
        target = self._target(base, relpath)
        if not self.fs.isfile(target):
            raise NotFound(f"No artifact {relpath!r} in this run.")
        return int(self.fs.size(target))

    def walk_files(self, base: str, relpath: str = "") -> list[str]:
        """Every file under a folder, as paths relative to that folder, sorted."""
        target = self._target(base, relpath)
        if not self.fs.isdir(target):
            return []
        prefix = target.rstrip("/") + "/"
        out = []
        for name in self.fs.find(target):
            rel = name[len(prefix) :] if name.startswith(prefix) else posixpath.basename(name)
            if not _PARTIAL.match(posixpath.basename(rel)):
                out.append(rel)
        return sorted(out)

    def exists(self, base: str, relpath: str) -> bool:
        """True when ``base/relpath`` is a file."""
        return bool(self.fs.isfile(self._target(base, relpath)))

    def remove_tree(self, base: str) -> None:
        """Delete a whole owner folder (used to undo a registration that did not commit)."""
        if self.fs.exists(base):
            self.fs.rm(base, recursive=True)

    def list(self, base: str, relpath: str = "") -> list[ArtifactEntry]:
        """List the direct children of a folder (empty when it does not exist)."""
        target = self._target(base, relpath)
        if not self.fs.isdir(target):
            if self.fs.isfile(target):
                raise InvalidArgument(f"{relpath!r} is a file, not a folder.")
            return []
        out = []
        prefix = base.rstrip("/") + "/"
        for info in self.fs.ls(target, detail=True):
            name = info["name"]
            rel = name[len(prefix) :] if name.startswith(prefix) else posixpath.basename(name)
            if _PARTIAL.match(posixpath.basename(rel)):
                continue  # an upload still in progress
            is_dir = info["type"] == "directory"
            out.append(ArtifactEntry(path=rel, is_dir=is_dir, size=None if is_dir else info.get("size")))
        return sorted(out, key=lambda e: e.path)
