"""Batch scoring: a Parquet or CSV file in, a Parquet file of predictions out, in bounded memory.

The input is streamed in chunks of ``chunk_rows`` rows; each scored chunk is kept as a part file
beside the output, so an interrupted run resumes where it stopped when it is started again with
the same arguments. With ``ray_address`` the chunks are scored as Ray tasks (see ``batch_ray``).
At the end the parts are streamed into the output file, which appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from modelyard.core.errors import InvalidArgument
from modelyard.models import LoadedModel
from modelyard.models import load as load_model_folder
from modelyard.models.manifest import MANIFEST_NAME, ModelManifest, read_manifest, verify_files
from modelyard.serving.batch_io import (
    FORMAT,
    OUTPUT_SUFFIXES,
    Chunk,
    InputFile,
    PartStore,
    arrow_types,
    iter_chunks,
    open_input,
)

if TYPE_CHECKING:
    from modelyard.client.client import Client

DEFAULT_CHUNK_ROWS = 100_000
PREDICTION = "prediction"


@dataclass(frozen=True)
class ScoreProgress:
    """Where a scoring run stands; passed to the ``progress`` callback.

    ``phase`` is ``start`` (once, before scoring: ``resumed_chunks`` are already done), ``chunk``
    (after each chunk is scored and saved) or ``assemble`` (all chunks done, writing the output).
    ``rows_total`` and ``chunks_total`` are known up front for Parquet; for CSV use the bytes.
    """

    phase: Literal["start", "chunk", "assemble"]
    chunks_done: int
    chunks_total: int | None
    resumed_chunks: int
    rows_done: int
    rows_total: int | None
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class ScoreSummary:
    """What a finished scoring run did."""

    output: Path
    rows: int
    chunks: int
    resumed_chunks: int
    scored_rows: int
    seconds: float
    model_seconds: float = 0.0  # of ``seconds``: fetching and loading the model (on the driver)
    ray: bool = False

    @property
    def rows_per_second(self) -> float:
        """Rows scored by this run per second of scoring (resumed chunks and model loading excluded)."""
        busy = self.seconds - self.model_seconds
        return self.scored_rows / busy if busy > 0 else 0.0


@dataclass(frozen=True)
class ColumnPlan:
    """Which input columns feed the model, which are copied to the output, which are read at all."""

    model_columns: list[str]
    keep: list[str]
    read: list[str]
    probabilities: bool
    input_types: dict[str, str]  # the signature's type names, to parse CSV columns as trained


def score(
    model: str | Path | LoadedModel,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    keep_columns: list[str] | None = None,
    client: Client | None = None,
    ray_address: str | None = None,
    progress: Callable[[ScoreProgress], None] | None = None,
    probabilities: bool = True,
    trust: bool = False,
    project: str = "default",
    max_in_flight: int | None = None,
) -> ScoreSummary:
    """Score a Parquet or CSV file into a Parquet file, chunk by chunk; rerun to resume.

    Args:
        model: ``models:/name@alias``, ``models:/name/3``, ``runs:/<id>/<path>``, a local model
            folder, or a ``LoadedModel``.
        input_path: a ``.parquet`` or ``.csv`` file (never read whole).
        output_path: the ``.parquet`` file to write: the kept input columns, ``prediction``, and
            for classifiers ``score`` (binary: probability of the second class) or ``proba_<class>``.
        chunk_rows: rows per chunk (memory grows with it; so does the cost of an interruption).
        keep_columns: input columns copied to the output (default all; ``[]`` for none).
        client: the client for ``models:/`` and ``runs:/`` URIs (default: one from settings).
        ray_address: score on Ray: ``auto``, ``ray://host:10001``, or ``local`` to start one here.
        progress: called with a ``ScoreProgress`` at the start and after every chunk.
        probabilities: add class probabilities for models that give them.
        trust: allow pickle-based model files (registered versions use their trusted flag).
        project: the project of ``models:/`` URIs that name none.
        max_in_flight: Ray only: chunks submitted and not yet saved (default twice the cluster's CPUs).

    Raises:
        InvalidArgument: missing input, unknown suffix, output equal to input, columns the model
            needs absent from the input, or an unfinished run with another model or input.
    """
    started = time.perf_counter()
    if chunk_rows < 1:
        raise InvalidArgument(f"chunk_rows must be at least 1, not {chunk_rows}.")
    if max_in_flight is not None and max_in_flight < 1:
        raise InvalidArgument(f"max_in_flight must be at least 1, not {max_in_flight}.")
    ray_address = ray_address or None
    if ray_address is not None:
        from modelyard.serving.batch_ray import import_ray

        import_ray()  # a missing extra is said before anything is written
    src = open_input(input_path)
    out = Path(output_path).expanduser().resolve()
    if out == src.path:
        raise InvalidArgument(
            f"The output {str(output_path)!r} is the input file: choose another output path."
        )
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InvalidArgument(f"The output {str(output_path)!r} must be a .parquet file.")
    if out.is_dir():
        raise InvalidArgument(f"The output {str(output_path)!r} is a folder: name a .parquet file.")
    out.parent.mkdir(parents=True, exist_ok=True)

    with _resolved(model, client, project, trust, need_folder=ray_address is not None) as resolved:
        plan = plan_columns(resolved.manifest, src, keep_columns, probabilities)
        if ray_address is None or (resolved.manifest.unsafe and not resolved.trust):
            resolved.loaded  # noqa: B018 -- load now: a model that cannot load fails before any file is written
        elif resolved.folder is not None:
            verify_files(resolved.folder, resolved.manifest)  # what is shipped is what the manifest says
        model_seconds = time.perf_counter() - started
        store = PartStore(out)
        done = store.open(
            {
                "format": FORMAT,
                "model_digest": resolved.manifest.digest,
                "input": src.fingerprint(),
                "chunk_rows": chunk_rows,
                "columns": plan.keep,
                "probabilities": plan.probabilities,
                "total_chunks": -(-src.total_rows // chunk_rows) if src.total_rows is not None else None,
            }
        )
        run = _Run(src, store, done, progress)
        run.emit("start")
        chunks = _chunks_to_read(src, plan, chunk_rows, done, store.manifest.get("total_chunks"))
        if ray_address is None:
            for chunk in chunks:
                if run.skip(chunk):
                    continue
                store.write(chunk.index, score_table(resolved.loaded, chunk.table, plan))
                run.scored(chunk)
        else:
            from modelyard.serving.batch_ray import score_on_ray

            assert resolved.folder is not None
            score_on_ray(
                ray_address,
                resolved.folder,
                resolved.manifest.digest,
                resolved.trust,
                plan,
                chunks,
                run,
                max_in_flight,
            )
        total = run.finish_reading()
        run.emit("assemble")
        rows = store.assemble(total, _empty_schema(src, plan))
    return ScoreSummary(
        output=out,
        rows=rows,
        chunks=total,
        resumed_chunks=len(done),
        scored_rows=run.scored_rows,
        seconds=time.perf_counter() - started,
        model_seconds=model_seconds,
        ray=ray_address is not None,
    )


def plan_columns(
    manifest: ModelManifest, src: InputFile, keep_columns: list[str] | None, probabilities: bool
) -> ColumnPlan:
    """Check the input has what the model needs and what is to be kept; decide what to read."""
    names = src.schema.names
    have = set(names)
    sig = manifest.signature
    needed = (sig.column_names if sig else None) or names
    missing = [c for c in needed if c not in have]
    if missing:
        raise InvalidArgument(
            f"The input {src.path.name!r} lacks column(s) the model needs: {', '.join(missing)} "
            f"(it has: {', '.join(names[:20])}{', ...' if len(names) > 20 else ''})."
        )
    keep = list(names) if keep_columns is None else list(dict.fromkeys(keep_columns))
    unknown = [c for c in keep if c not in have]
    if unknown:
        raise InvalidArgument(f"Column(s) to keep are not in the input: {', '.join(unknown)}.")
    if PREDICTION in keep:
        raise InvalidArgument(
            f"The input already has a {PREDICTION!r} column: keep only the other columns (--keep ...)."
        )
    wanted = set(keep) | set(needed)
    return ColumnPlan(
        model_columns=list(needed),
        keep=keep,
        read=[c for c in names if c in wanted],
        probabilities=probabilities and manifest.has_predict_proba,
        input_types={c.name: c.type for c in (sig.inputs or [])} if sig and sig.column_names else {},
    )


def score_table(loaded: LoadedModel, table: pa.Table, plan: ColumnPlan) -> pa.Table:
    """One chunk's output: the kept columns as read, ``prediction``, and class probabilities."""
    frame = table.select(plan.model_columns).to_pandas()
    out = table.select(plan.keep).append_column(PREDICTION, _arrow_column(loaded.predict(frame)))
    if plan.probabilities:
        for name, values in _probability_columns(loaded, loaded.predict_proba(frame)):
            if name in plan.keep:
                raise InvalidArgument(
                    f"The input already has a {name!r} column, which scoring adds: leave it out (--keep ...)."
                )
            out = out.append_column(name, pa.array(values))
    return out


def _probability_columns(loaded: LoadedModel, proba: np.ndarray) -> list[tuple[str, np.ndarray]]:
    if proba.ndim == 1:
        return [("score", proba)]
    if proba.shape[1] == 2:
        return [("score", proba[:, 1])]
    classes = getattr(loaded.raw, "classes_", None)
    labels = (
        list(classes) if classes is not None and len(classes) == proba.shape[1] else range(proba.shape[1])
    )
    return [(f"proba_{label}", proba[:, i]) for i, label in enumerate(labels)]


def _arrow_column(pred: np.ndarray) -> pa.Array:
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.ndim == 1:
        return pa.array(pred)
    width = int(np.prod(pred.shape[1:]))  # multi-output: one fixed-size list per row
    return pa.FixedSizeListArray.from_arrays(pa.array(pred.reshape(-1)), width)


def _empty_schema(src: InputFile, plan: ColumnPlan) -> pa.Schema:
    """The output of an input with no rows: the kept columns and a (float) prediction."""
    return pa.schema([src.schema.field(c) for c in plan.keep] + [pa.field(PREDICTION, pa.float64())])


def _chunks_to_read(
    src: InputFile, plan: ColumnPlan, chunk_rows: int, done: dict[int, int], known_total: int | None
) -> Iterator[Chunk]:
    if known_total is not None and all(i in done for i in range(known_total)):
        return iter(())  # every chunk is scored: only the output is left to write
    first = next(i for i in range(len(done) + 1) if i not in done)
    csv_types = arrow_types(plan.input_types) if src.kind == "csv" else None
    return iter_chunks(src, plan.read, chunk_rows, start_chunk=first, csv_types=csv_types)


class _Run:
    """Counts and progress events of one run (shared by the local loop and the Ray driver)."""

    def __init__(
        self,
        src: InputFile,
        store: PartStore,
        done: dict[int, int],
        progress: Callable[[ScoreProgress], None] | None,
    ) -> None:
        self.src, self.store, self.done, self.callback = src, store, done, progress
        self.chunks_done = len(done)
        self.rows_done = sum(done.values())
        self.scored_rows = 0
        self.position = 0
        self.last_index = max(done, default=-1)
        self.total = store.manifest.get("total_chunks")

    def skip(self, chunk: Chunk) -> bool:
        """True for a chunk an earlier run already scored (and notes how far reading got)."""
        self.position = max(self.position, chunk.position)
        self.last_index = max(self.last_index, chunk.index)
        return chunk.index in self.done

    def scored(self, chunk: Chunk | int, rows: int | None = None, position: int | None = None) -> None:
        """A chunk was scored and saved."""
        if isinstance(chunk, Chunk):
            rows, position = chunk.table.num_rows, chunk.position
        self.chunks_done += 1
        self.rows_done += rows or 0
        self.scored_rows += rows or 0
        self.position = max(self.position, position or 0)
        self.emit("chunk")

    def finish_reading(self) -> int:
        """The number of chunks, now that the input has been read to its end."""
        if self.total is None:
            self.total = self.last_index + 1
            self.store.write_manifest({**self.store.manifest, "total_chunks": self.total})
        return int(self.total)

    def emit(self, phase: Literal["start", "chunk", "assemble"]) -> None:
        if self.callback is None:
            return
        self.callback(
            ScoreProgress(
                phase=phase,
                chunks_done=self.chunks_done,
                chunks_total=self.total,
                resumed_chunks=len(self.done),
                rows_done=self.rows_done,
                rows_total=self.src.total_rows,
                bytes_done=self.src.size if phase == "assemble" else min(self.position, self.src.size),
                bytes_total=self.src.size,
            )
        )


class _Model:
    """The model to score with: its manifest and folder now, the loaded model only when asked for
    (a Ray driver never loads it: it ships the folder and checks columns against the manifest)."""

    def __init__(
        self, manifest: ModelManifest, folder: Path | None, trust: bool, loaded: LoadedModel | None = None
    ) -> None:
        self.manifest, self.folder, self.trust, self._loaded = manifest, folder, trust, loaded

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            assert self.folder is not None
            self._loaded = load_model_folder(self.folder, trust=self.trust)
        return self._loaded


@contextlib.contextmanager
def _resolved(
    model: str | Path | LoadedModel, client: Client | None, project: str, trust: bool, *, need_folder: bool
) -> Iterator[_Model]:
    """Find the model's folder (downloading a registered or run model) and read its manifest."""
    if isinstance(model, LoadedModel):
        folder = model.path if model.path and _same_model(model.path, model.manifest.digest) else None
        if need_folder and folder is None:
            raise InvalidArgument(
                "Scoring on Ray ships the model's folder to the cluster, and this LoadedModel has none: "
                "pass its URI or folder instead."
            )
        yield _Model(model.manifest, folder, trust, model)
        return
    uri = str(model)
    tmp: Path | None = None
    if uri.startswith(("models:/", "runs:/")):
        from modelyard.client.client import Client

        own = client is None
        c = client or Client()
        try:
            if uri.startswith("models:/"):  # as Client.load_model does; the folder stays in the cache
                folder, version = c.download_model(uri, project=project)
                trust = trust or version.trusted
            else:
                tmp = Path(tempfile.mkdtemp(prefix="modelyard-score-model-"))
                folder = _download_run_model(c, uri, tmp)
        finally:
            if own:
                c.close()
    else:
        folder = Path(uri).expanduser()
    try:
        yield _Model(read_manifest(folder), folder, trust)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _download_run_model(client: Client, uri: str, dest: Path) -> Path:
    """Fetch a ``runs:/`` model's files into ``dest`` (``Client.load_model`` would delete them)."""
    from modelyard.registry.sources import parse_runs_uri

    run_id, rel = parse_runs_uri(uri)
    pending = [rel]
    while pending:
        for entry in client.list_artifacts(run_id, pending.pop()):
            if entry.is_dir:
                pending.append(entry.path)
                continue
            target = dest / Path(entry.path).relative_to(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_artifact(run_id, entry.path, target)
    if not (dest / MANIFEST_NAME).is_file():
        raise InvalidArgument(f"{uri!r} is not a model: it has no {MANIFEST_NAME}.")
    return dest


def _same_model(folder: Path, digest: str) -> bool:
    try:
        return bool(folder.is_dir() and read_manifest(folder).digest == digest)
    except Exception:  # a folder that no longer holds the model
        return False


def model_files(folder: Path) -> dict[str, Any]:
    """The files of a model folder (manifest first) as ``{relative path: bytes}``, to ship elsewhere."""
    manifest = read_manifest(folder)
    return {rel: (folder / rel).read_bytes() for rel in [MANIFEST_NAME, *sorted(manifest.files)]}
