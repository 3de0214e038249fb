"""Batch scoring's files: the input streamed in fixed-size chunks, and the part files of a run.

Chunk ``i`` is always rows ``[i * chunk_rows, (i + 1) * chunk_rows)`` of the input, whatever
the reader's own batch sizes: that is what lets a rerun skip the chunks it already finished.
Finished chunks live as ``<output>.parts/part-000123.parquet`` (each written under a temporary
name and renamed, so a part that exists is complete) next to ``manifest.json``, which names the
model digest and the input's fingerprint so a rerun with another model or input is refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from modelyard.core.errors import InvalidArgument

INPUT_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
OUTPUT_SUFFIXES = (".parquet", ".pq")
CSV_BLOCK_BYTES = 4 << 20  # pyarrow's unit of CSV parsing; the first block also fixes inferred types
MANIFEST = "manifest.json"
FORMAT = 1
_PART = re.compile(r"^part-(\d{6,})\.parquet$")


@dataclass(frozen=True)
class InputFile:
    """An input table: its kind (``parquet``/``csv``), columns, and what identifies its content."""

    path: Path
    kind: str
    schema: pa.Schema
    total_rows: int | None  # None for CSV: unknown until read to the end
    size: int
    mtime_ns: int

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must find unchanged."""
        return {"path": str(self.path), "size": self.size, "mtime_ns": self.mtime_ns}


@dataclass(frozen=True)
class Chunk:
    """Chunk ``index`` of the input, and how far into the file the reader had got (bytes)."""

    index: int
    table: pa.Table
    position: int


def open_input(path: str | os.PathLike[str]) -> InputFile:
    """Check an input file and read its schema (and row count, for Parquet) without reading its rows.

    Raises:
        InvalidArgument: no such file, an unknown suffix, or not a readable table.
    """
    p = Path(path).expanduser().resolve()
    kind = INPUT_KINDS.get(p.suffix.lower())
    if not p.is_file():
        raise InvalidArgument(f"Input {str(path)!r} does not exist (or is not a file).")
    if kind is None:
        raise InvalidArgument(
            f"Input {str(path)!r} has an unknown suffix {p.suffix!r}: use a .parquet or .csv file."
        )
    stat = p.stat()
    try:
        if kind == "parquet":
            with pq.ParquetFile(p) as pf:
                schema, rows = pf.schema_arrow, pf.metadata.num_rows
        else:
            with pa.OSFile(str(p)) as f:
                schema, rows = _csv_reader(f, None, None).schema, None
    except (pa.ArrowException, OSError) as exc:
        raise InvalidArgument(f"Input {str(path)!r} is not a readable {kind} file: {exc}") from exc
    return InputFile(p, kind, schema, rows, stat.st_size, stat.st_mtime_ns)


def arrow_types(signature_types: dict[str, str]) -> dict[str, pa.DataType]:
    """Arrow types for a model's numeric and string input columns (so CSV parsing matches training)."""
    out: dict[str, pa.DataType] = {}
    for name, typ in signature_types.items():
        if typ == "string":
            out[name] = pa.string()
            continue
        try:
            dtype = np.dtype(typ)
        except TypeError:
            continue
        if dtype.kind in "biuf":
            out[name] = pa.from_numpy_dtype(dtype)
    return out


def iter_chunks(
    src: InputFile,
    columns: list[str],
    chunk_rows: int,
    *,
    start_chunk: int = 0,
    csv_types: dict[str, pa.DataType] | None = None,
) -> Iterator[Chunk]:
    """Stream ``columns`` of the input in chunks of exactly ``chunk_rows`` rows (the last may be shorter).

    For Parquet, row groups wholly before ``start_chunk`` are not read at all; a CSV file is read
    from its start (chunks before ``start_chunk`` are still yielded, for the caller to skip).
    """
    try:
        if src.kind == "parquet":
            yield from _rechunk(
                _parquet_batches(src.path, columns, start_chunk * chunk_rows, chunk_rows),
                chunk_rows,
                start_chunk,
                lambda rows: src.size,
            )
            return
        with pa.OSFile(str(src.path)) as f:
            reader = _CsvBytes(_csv_reader(f, columns, csv_types), src.size)
            yield from _rechunk(reader, chunk_rows, 0, reader.position)
    except pa.ArrowException as exc:
        raise InvalidArgument(f"Could not read {str(src.path)!r}: {exc}") from exc


def _csv_reader(f: Any, columns: list[str] | None, types: dict[str, pa.DataType] | None) -> Any:
    convert = pacsv.ConvertOptions(include_columns=columns or [], column_types=types or {})
    # use_threads=False: the threaded reader parses ahead as many blocks as it has threads and
    # time for, so memory would depend on the machine's load; serially it holds one block.
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False)
    return pacsv.open_csv(f, read_options=read, convert_options=convert)


def _parquet_batches(
    path: Path, columns: list[str], start_row: int, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    # pre_buffer would keep every column chunk read so far until the iterator ends: memory
    # growing with the file, not the chunk.
    with pq.ParquetFile(path, pre_buffer=False) as pf:
        md = pf.metadata
        first, skip, begin = md.num_row_groups, 0, 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if begin + n > start_row:
                first, skip = g, start_row - begin
                break
            begin += n
        if first == md.num_row_groups:
            return
        for batch in pf.iter_batches(
            batch_size=batch_rows, row_groups=range(first, md.num_row_groups), columns=columns
        ):
            if skip:
                if batch.num_rows <= skip:
                    skip -= batch.num_rows
                    continue
                batch, skip = batch.slice(skip), 0
            yield batch


def _rechunk(
    batches: Iterable[pa.RecordBatch], n: int, index: int, position: Callable[[int], int]
) -> Iterator[Chunk]:
    """Regroup record batches of any size into tables of exactly ``n`` rows (zero-copy slices).

    ``position(rows)`` tells how far into the file the first ``rows`` rows of it reach."""
    buf: list[pa.RecordBatch] = []
    have = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        buf.append(batch)
        have += batch.num_rows
        while have >= n:
            table = pa.Table.from_batches(buf)
            yield Chunk(index, table.slice(0, n), position((index + 1) * n))
            index += 1
            rest = table.slice(n)
            buf, have = rest.to_batches(), rest.num_rows
    if have:
        yield Chunk(index, pa.Table.from_batches(buf), position(index * n + have))


class _CsvBytes:
    """Batches of a CSV reader, and an estimate of the bytes its first rows take.

    The reader reads whole blocks ahead, so the file position runs ahead of the rows handed
    out (it reaches the end while a tenth of a file can be left). Bytes per row measured on the
    first block give a progress that follows the rows instead; it reaches the size at the end.
    """

    def __init__(self, reader: Any, size: int) -> None:
        self.reader, self.size = reader, size
        self.bytes_per_row = 0.0
        self.rows = 0
        self.ended = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self.reader:
            if not self.bytes_per_row and batch.num_rows:
                self.bytes_per_row = min(self.size, CSV_BLOCK_BYTES) / batch.num_rows
            self.rows += batch.num_rows
            yield batch
        self.ended = True

    def position(self, rows: int) -> int:
        if self.ended and rows >= self.rows:
            return self.size
        return min(int(rows * self.bytes_per_row), self.size - 1)


class PartStore:
    """The work folder of one scoring run: its manifest and finished part files."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.folder = output.with_name(output.name + ".parts")

    def part(self, index: int) -> Path:
        """Where chunk ``index`` is kept."""
        return self.folder / f"part-{index:06d}.parquet"

    def open(self, manifest: dict[str, Any]) -> dict[int, int]:
        """Start or resume: the finished chunks (index → rows) of a run with the same manifest.

        Raises:
            InvalidArgument: the folder belongs to a run with another model, input or settings.
        """
        path = self.folder / MANIFEST
        if path.is_file():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError):
                old = {}
            self._check_same(old, manifest)
            if old.get("total_chunks") is not None and manifest.get("total_chunks") is None:
                manifest = {**manifest, "total_chunks": old["total_chunks"]}
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise InvalidArgument(
                f"{str(self.folder)!r} exists but is not a scoring work folder (no {MANIFEST}): move it away "
                "or choose another output."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_manifest(manifest)
        done: dict[int, int] = {}
        for entry in self.folder.iterdir():
            m = _PART.match(entry.name)
            if m:
                done[int(m.group(1))] = pq.read_metadata(entry).num_rows
        return done

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest.json`` atomically."""
        self.manifest = manifest
        _atomic_write(self.folder / MANIFEST, json.dumps(manifest, indent=1).encode())

    def write(self, index: int, table: pa.Table) -> None:
        """Keep a scored chunk (atomically: a part file that exists is whole)."""
        target = self.part(index)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            pq.write_table(table, tmp, compression="lz4", use_dictionary=_dictionary_columns(table.schema))
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def assemble(self, n_chunks: int, empty: pa.Schema) -> int:
        """Concatenate parts ``0..n-1`` into the output (one row group each, streamed, atomic), then
        remove the work folder. Returns the number of rows written."""
        missing = [i for i in range(n_chunks) if not self.part(i).is_file()]
        if missing:
            raise InvalidArgument(
                f"Scoring work folder {str(self.folder)!r} lacks part {missing[0]}: rerun the same command."
            )
        tmp = self.output.with_name(f".{self.output.name}.{os.getpid()}.tmp")
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for i in range(n_chunks):
                table = pq.read_table(self.part(i))
                if writer is None:
                    writer = pq.ParquetWriter(
                        tmp, table.schema, use_dictionary=_dictionary_columns(table.schema)
                    )
                elif table.schema != writer.schema:
                    table = _conform(table, writer.schema, i)
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
                rows += table.num_rows
            if writer is None:
                pq.write_table(empty.empty_table(), tmp)
            else:
                writer.close()
                writer = None
            os.replace(tmp, self.output)
        finally:
            if writer is not None:
                writer.close()
            tmp.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        return rows

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        where = f"{str(self.folder)!r} holds an unfinished scoring run"
        fix = "; delete that folder to start over."
        if old.get("format") != new["format"]:
            raise InvalidArgument(f"{where} in an unknown layout{fix}")
        if old.get("model_digest") != new["model_digest"]:
            raise InvalidArgument(
                f"{where} with another model (digest {str(old.get('model_digest'))[:12]}, this one is "
                f"{new['model_digest'][:12]}): rerun with that model to resume it{fix}"
            )
        if old.get("input") != new["input"]:
            raise InvalidArgument(
                f"{where} on another input or on {new['input']['path']!r} before it changed (its path, size "
                f"or modification time differ){fix}"
            )
        if old.get("chunk_rows") != new["chunk_rows"]:
            raise InvalidArgument(
                f"{where} with --chunk-rows {old.get('chunk_rows')}: rerun with it to resume{fix}"
            )
        if old.get("columns") != new["columns"] or old.get("probabilities") != new["probabilities"]:
            raise InvalidArgument(
                f"{where} that kept other columns (--keep {' '.join(old.get('columns') or [])!s}) or "
                f"probabilities: rerun with the same options to resume{fix}"
            )


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Dictionary-encode only text columns: for numbers it costs most of the write time for little gain."""
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_dictionary)
    return [f.name for f in schema if any(is_text(f.type) for is_text in text)]


def _conform(table: pa.Table, schema: pa.Schema, index: int) -> pa.Table:
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowException, KeyError) as exc:
        raise InvalidArgument(
            f"Chunk {index} was scored into other columns or types than chunk 0 ({exc}): the model's output "
            "is not stable across chunks."
        ) from exc


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
