"""Batch scoring on Ray: the driver streams chunks to Ray tasks and saves their results in order.

The model folder's bytes are put in Ray's object store once; each worker process writes them to
a temporary folder and loads the model the first time a task needs it, then keeps it (keyed by
the model digest) for later tasks. Workers therefore need no shared filesystem, only modelyard
and the model's library installed. The driver keeps at most ``max_in_flight`` chunks submitted
and not yet saved, so its memory and the object store's stay bounded whatever the input size.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from modelyard.core.errors import InvalidArgument, ModelyardError, Unavailable

if TYPE_CHECKING:
    from modelyard.models import LoadedModel
    from modelyard.serving.batch import ColumnPlan, _Run
    from modelyard.serving.batch_io import Chunk

INSTALL_HINT = "Scoring on Ray needs the ray package: pip install 'modelyard[ray]'."
_MODELS: dict[str, LoadedModel] = {}  # per worker process: digest → loaded model
_MAX_CACHED = 4


def import_ray() -> ModuleType:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ModelyardError(INSTALL_HINT) from exc
    return ray


def connect(ray: ModuleType, address: str) -> bool:
    """Join the Ray cluster at ``address`` (``local`` starts one here); True if this call connected
    (and so should disconnect). A process already connected (``ray.init`` was called) keeps that."""
    if ray.is_initialized():
        return False
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == "local":
            ray.init(address="local", include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        auth = (
            " If the cluster uses token authentication, set RAY_AUTH_MODE=token and give its token "
            "(RAY_AUTH_TOKEN, or the file ~/.ray/auth_token)."
            if address.startswith("ray://")
            else ""
        )
        raise Unavailable(
            f"Could not connect to Ray at {address!r}: {exc}. Use 'auto' for the cluster this machine "
            f"belongs to, ray://host:10001 for a remote one, or 'local' to start one here.{auth}"
        ) from exc
    return True


def score_on_ray(
    address: str,
    folder: Path,
    digest: str,
    trust: bool,
    plan: ColumnPlan,
    chunks: Iterator[Chunk],
    run: _Run,
    max_in_flight: int | None = None,
) -> None:
    """Score every chunk the run has not done as a Ray task; save the results in input order."""
    from modelyard.serving.batch import model_files

    ray = import_ray()
    started = connect(ray, address)
    pending: deque[tuple[int, int, int, Any]] = deque()  # index, rows, position, ObjectRef
    try:
        model_ref = ray.put(model_files(folder))
        task = ray.remote(max_retries=2)(_score_chunk)
        limit = max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))

        def save_oldest() -> None:
            index, rows, position, ref = pending.popleft()
            run.store.write(index, from_ipc(_get(ray, ref)))
            run.scored(index, rows, position)

        for chunk in chunks:
            if run.skip(chunk):
                continue
            # The model reference goes inside a list so Ray hands the task the reference, not
            # the bytes: a worker fetches the model only when it has not loaded it yet.
            ref = task.remote([model_ref], digest, trust, to_ipc(chunk.table), plan)
            pending.append((chunk.index, chunk.table.num_rows, chunk.position, ref))
            if len(pending) >= limit:
                save_oldest()
        while pending:
            save_oldest()
    finally:
        for *_, ref in pending:  # interrupted: drop what was submitted (saved parts stay); not
            ray.cancel(ref)  # force=True, which would kill the warm workers with their loaded model
        if started:
            ray.shutdown()


def to_ipc(table: pa.Table) -> pa.Buffer:
    """A table as an Arrow IPC stream. Chunks are slices of larger reader batches, and pickling a
    slice (as Ray would) copies the whole buffers under it; IPC writes only the slice's rows."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(buffer: pa.Buffer) -> pa.Table:
    """The table in an Arrow IPC stream (zero-copy)."""
    return pa.ipc.open_stream(buffer).read_all()


def _get(ray: ModuleType, ref: Any) -> pa.Buffer:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, ModelyardError):
            raise cause from None
        raise ModelyardError(
            f"A Ray task failed while scoring: {cause or exc}. Saved chunks are kept: rerun to resume."
        ) from exc
    except ray.exceptions.RayError as exc:
        raise Unavailable(
            f"Ray lost a scoring task ({type(exc).__name__}): {exc}. Saved chunks are kept: rerun to resume."
        ) from exc


def _score_chunk(
    model_box: list[Any], digest: str, trust: bool, chunk: pa.Buffer, plan: ColumnPlan
) -> pa.Buffer:
    """A Ray task: score one chunk (Arrow IPC in and out) with the model, loaded once per worker."""
    from modelyard.serving.batch import score_table

    return to_ipc(score_table(_worker_model(model_box[0], digest, trust), from_ipc(chunk), plan))


def _worker_model(ref: Any, digest: str, trust: bool) -> LoadedModel:
    loaded = _MODELS.get(digest)
    if loaded is not None:
        return loaded
    import ray

    from modelyard import models

    files: dict[str, bytes] = ray.get(ref)
    folder = Path(tempfile.mkdtemp(prefix=f"modelyard-model-{digest[:12]}-"))
    try:
        for rel, data in files.items():
            target = (folder / rel).resolve()
            if not target.is_relative_to(folder.resolve()):  # names come from a verified manifest
                raise InvalidArgument(f"Model file {rel!r} would land outside the model folder.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        loaded = models.load(folder, trust=trust)
        if loaded.manifest.digest != digest:
            raise InvalidArgument("The model shipped to the Ray worker does not match its digest.")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(_MODELS) >= _MAX_CACHED:
        _MODELS.clear()
    _MODELS[digest] = loaded
    return loaded
