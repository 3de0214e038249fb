"""The prediction log: capture, segments on disk, actuals, and windowed reads (real Parquet, real DuckDB)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog import (
    CaptureWriter,
    compare_variants,
    counts,
    input_columns,
    iter_batches,
    scan,
    segments,
    write_actuals,
)

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000


def _submit(w: CaptureWriter, ids: list[str], *, ts: int = T0, variant: str = "primary", **kw) -> bool:
    args = {
        "deployment": "credit",
        "model": "credit-model",
        "version": 1,
        "variant": variant,
        "prediction_ids": ids,
        "features": {"age": [30 + i for i in range(len(ids))]},
        "predictions": [i % 2 for i in range(len(ids))],
        "scores": [0.5] * len(ids),
        "latency_ms": 1.0,
        "ts_ms": ts,
    }
    args.update(kw)
    return w.submit(**args)


def _rows(root: Path, **kw) -> list[dict]:
    return scan(root, "credit", **kw).to_arrow_table().sort_by("prediction_id").to_pylist()


def test_submit_then_stop_writes_every_value_exactly(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path), flush_s=60).start()
    assert w.submit(
        deployment="credit",
        model="credit-model",
        version=3,
        variant="primary",
        prediction_ids=["p1", "p2"],
        features={"age": [31, 45], "income": [52_000.5, None], "city": ["Oslo", "Bergen"]},
        predictions=[1, 0],
        scores=[0.91, 0.12],
        latency_ms=2.5,
        ts_ms=T0,
        association_ids=["loan-1", None],
        flags=["uncertain", None],
    )
    assert w.submit(
        deployment="credit",
        model="credit-model",
        version=3,
        variant="primary",
        prediction_ids=["p3"],
        features={"age": [52], "income": [1.0], "city": ["Oslo"]},
        predictions=["approve"],
        scores=None,
        latency_ms=4.0,
        ts_ms=T0 + 7,
    )
    w.stop()

    assert w.stats() == {
        "written": 3,
        "dropped": 0,
        "queued": 0,
        "sampled_out": 0,
        "failed": 0,
        "segments": 1,
    }
    (file,) = segments(tmp_path, "credit")
    assert Path(file).parent.name == "date=2023-11-14"
    schema = pq.read_schema(file)
    assert schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("version").type == pa.int32()
    assert schema.field("latency_ms").type == pa.float32()
    assert schema.field("input.age").type == pa.int64()
    assert schema.field("input.income").type == pa.float64()
    assert schema.field("input.city").type == pa.string()

    rows = pq.read_table(file).sort_by("prediction_id").to_pylist()
    first = rows[0]
    assert first["prediction_id"] == "p1" and first["association_id"] == "loan-1"
    assert int(first["ts"].timestamp() * 1000) == T0
    assert (first["deployment"], first["model"], first["version"], first["variant"]) == (
        "credit",
        "credit-model",
        3,
        "primary",
    )
    assert (first["prediction"], first["prediction_value"], first["score"]) == ("1", 1.0, 0.91)
    assert (first["latency_ms"], first["flags"]) == (2.5, "uncertain")
    assert (first["input.age"], first["input.income"], first["input.city"]) == (31, 52_000.5, "Oslo")
    assert rows[1]["association_id"] is None and rows[1]["input.income"] is None and rows[1]["flags"] is None
    third = rows[2]
    assert (third["prediction"], third["prediction_value"], third["score"]) == ("approve", None, None)
    assert int(third["ts"].timestamp() * 1000) == T0 + 7


def test_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path), queue_size=5)  # writer thread not started: nothing drains
    assert _submit(w, ["a", "b", "c"])
    assert _submit(w, ["d", "e"])
    started = time.perf_counter()
    assert not _submit(w, ["f"])
    assert not _submit(w, ["g", "h"])
    assert time.perf_counter() - started < 0.05  # returned at once
    assert w.stats()["dropped"] == 3 and w.stats()["queued"] == 5
    w.stop()  # writes what was accepted
    assert [r["prediction_id"] for r in _rows(tmp_path)] == ["a", "b", "c", "d", "e"]
    assert not _submit(w, ["late"])  # stopped: dropped, not queued forever
    assert w.stats()["dropped"] == 4


def test_sample_rate_keeps_that_share_of_requests(tmp_path: Path) -> None:
    random.seed(7)
    w = CaptureWriter(str(tmp_path), queue_size=10_000)
    for i in range(4000):
        assert _submit(w, [f"p{i}"], sample_rate=0.25)
    w.stop()
    st = w.stats()
    assert st["written"] + st["sampled_out"] == 4000
    assert 880 <= st["written"] <= 1120  # 1000 expected, ~4 standard deviations either side
    assert counts(tmp_path, "credit")["rows"] == st["written"]


def test_segment_closes_after_flush_rows(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path), flush_rows=10, flush_s=60).start()
    for i in range(35):
        _submit(w, [f"p{i:02d}"])
    w.stop()
    sizes = sorted(pq.ParquetFile(f).metadata.num_rows for f in segments(tmp_path, "credit"))
    assert sizes == [5, 10, 10, 10]


def test_segment_closes_after_flush_s_without_stop(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path), flush_s=0.2).start()
    try:
        _submit(w, ["p1", "p2"])
        deadline = time.monotonic() + 5
        while not segments(tmp_path, "credit") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r["prediction_id"] for r in _rows(tmp_path)] == ["p1", "p2"]
        assert w.stats()["written"] == 2
    finally:
        w.stop()


def _write_many(root: str, prefix: str, n: int) -> None:
    w = CaptureWriter(root, flush_rows=1, flush_s=60).start()
    for i in range(n):
        _submit(w, [f"{prefix}-{i}"])
    w.stop()


def test_writers_in_threads_and_processes_never_clash(tmp_path: Path) -> None:
    threads = [threading.Thread(target=_write_many, args=(str(tmp_path), f"t{k}", 40)) for k in range(2)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), f"p{k}", 40)) for k in range(2)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    files = segments(tmp_path, "credit")
    assert len(files) == 160 == len({Path(f).name for f in files})  # one segment per row, none lost
    ids = [r["prediction_id"] for r in _rows(tmp_path)]
    assert len(ids) == len(set(ids)) == 160


def test_leftover_temp_file_and_junk_are_ignored(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["p1"])
    w.stop()
    folder = Path(segments(tmp_path, "credit")[0]).parent
    (folder / ".1700000000000-1-abc-000009.parquet.tmp").write_bytes(b"PAR1 half a segment")  # a crash
    (folder / "empty.parquet").write_bytes(b"")
    (folder / "notes.txt").write_text("hello")
    assert len(segments(tmp_path, "credit")) == 1
    assert [r["prediction_id"] for r in _rows(tmp_path)] == ["p1"]


def test_malformed_submits_are_left_out_and_counted(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["ok"])
    _submit(w, ["bad1", "bad2"], predictions=[1])
    _submit(w, ["bad3"], version=None)
    w.stop()
    assert w.stats()["failed"] == 3 and w.stats()["written"] == 1
    assert [r["prediction_id"] for r in _rows(tmp_path)] == ["ok"]


def test_rows_across_midnight_go_to_their_own_day(tmp_path: Path) -> None:
    midnight = (T0 // DAY + 1) * DAY
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["before"], ts=midnight - 1)
    _submit(w, ["after"], ts=midnight)
    w.stop()
    days = sorted(Path(f).parent.name for f in segments(tmp_path, "credit"))
    assert days == ["date=2023-11-14", "date=2023-11-15"]
    assert [r["prediction_id"] for r in _rows(tmp_path, since_ms=midnight)] == ["after"]
    assert [r["prediction_id"] for r in _rows(tmp_path, until_ms=midnight)] == ["before"]


def test_segments_with_different_features_read_as_one_table(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["v1"], version=1, features={"age": [30], "city": ["Oslo"]})
    w.stop()
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["v2"], version=2, features={"age": [41.5], "income": [900]})
    w.stop()
    assert len(segments(tmp_path, "credit")) == 2
    assert input_columns(tmp_path, "credit") == ["input.age", "input.city", "input.income"]
    v1, v2 = _rows(tmp_path)
    assert (v1["input.age"], v1["input.city"], v1["input.income"]) == (30, "Oslo", None)
    assert (v2["input.age"], v2["input.city"], v2["input.income"]) == (41.5, None, 900)
    only = scan(tmp_path, "credit", columns=["prediction_id", "input.income", "input.gone"]).fetchall()
    assert sorted(only) == [("v1", None, None), ("v2", 900, None)]
    with pytest.raises(InvalidArgument, match="'predicted' is not a prediction-log column"):
        scan(tmp_path, "credit", columns=["predicted"])


def test_actuals_join_by_prediction_or_association_id_latest_wins(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["p1", "p2", "p3", "p4"], association_ids=["loan-1", "loan-2", None, None])
    w.stop()
    assert (
        write_actuals(
            str(tmp_path),
            "credit",
            [
                {"prediction_id": "p1", "actual": 0, "ts_ms": T0 + 10},
                {"association_id": "loan-1", "actual": 1, "ts_ms": T0 + 20},  # later: wins over the one above
                {"association_id": "loan-2", "actual": "1"},
                {"prediction_id": "p3", "actual": 1, "ts_ms": T0 + 30},
            ],
        )
        == 4
    )
    write_actuals(
        str(tmp_path), "credit", [{"prediction_id": "p3", "actual": 0, "ts_ms": T0 + 40}]
    )  # correction

    got = {
        r["prediction_id"]: (r["actual"], r["actual_value"])
        for r in scan(tmp_path, "credit", with_actuals=True).to_arrow_table().to_pylist()
    }
    assert got == {"p1": ("1", 1.0), "p2": ("1", 1.0), "p3": ("0", 0.0), "p4": (None, None)}
    c = counts(tmp_path, "credit", T0, T0 + 1, with_actuals=True)
    assert (c["rows"], c["with_actuals"]) == (4, 3)
    assert c["variants"]["primary"]["first_ts_ms"] == T0
    # predictions p1..p4 answered 0,1,0,1; actuals 1,1,0,-: two of three right
    assert compare_variants(tmp_path, "credit")["variants"]["primary"] == {
        "rows": 4,
        "with_actuals": 3,
        "accuracy": pytest.approx(2 / 3),
    }


def test_bad_actuals_are_rejected_naming_the_record(tmp_path: Path) -> None:
    good = {"prediction_id": "p1", "actual": 1}
    with pytest.raises(InvalidArgument, match=r"Actual record 1 names no prediction"):
        write_actuals(str(tmp_path), "credit", [good, {"actual": 1}])
    with pytest.raises(InvalidArgument, match=r"Actual record 0 \(prediction_id 'p1'\) has no actual"):
        write_actuals(str(tmp_path), "credit", [{"prediction_id": "p1"}])
    with pytest.raises(InvalidArgument, match=r"unknown field\(s\) 'predicton_id'"):
        write_actuals(str(tmp_path), "credit", [{"predicton_id": "p1", "actual": 1}])
    with pytest.raises(InvalidArgument, match=r"ts_ms must be milliseconds"):
        write_actuals(str(tmp_path), "credit", [{**good, "ts_ms": "yesterday"}])
    with pytest.raises(InvalidArgument, match="Deployment name"):
        write_actuals(str(tmp_path), "../credit", [good])
    assert not (tmp_path / "credit").exists()  # nothing stored by a rejected call
    assert write_actuals(str(tmp_path), "credit", []) == 0


def test_window_streams_in_batches_and_prunes_days(tmp_path: Path) -> None:
    midnight = T0 // DAY * DAY
    w = CaptureWriter(str(tmp_path), queue_size=100_000, flush_rows=3_000)
    for day in range(3):
        for chunk in range(5):
            ids = [f"d{day}-{chunk}-{i}" for i in range(2_000)]
            _submit(w, ids, ts=midnight + day * DAY + chunk * 3_600_000)
    w.stop()
    files = segments(tmp_path, "credit")
    assert max(pq.ParquetFile(f).metadata.num_rows for f in files) <= 3_000
    window = (midnight + DAY, midnight + 2 * DAY)
    second_day = [f for f in files if Path(f).parent.name == "date=2023-11-15"]
    assert segments(tmp_path, "credit", *window) == second_day  # only that day's folder is read

    batches = list(
        iter_batches(tmp_path, "credit", *window, columns=["prediction_id", "input.age"], batch_rows=4_096)
    )
    assert [b.num_rows for b in batches] == [4_096, 4_096, 1_808]
    assert batches[0].schema.names == ["prediction_id", "input.age"]
    ids = [i for b in batches for i in b.column("prediction_id").to_pylist()]
    assert len(set(ids)) == 10_000 and all(i.startswith("d1-") for i in ids)


def test_regression_variants_compare_by_mae(tmp_path: Path) -> None:
    w = CaptureWriter(str(tmp_path))
    _submit(w, ["a", "b"], predictions=[10.5, 20.0])
    _submit(w, ["a", "b"], predictions=[12.5, 19.0], variant="shadow")
    w.stop()
    write_actuals(
        str(tmp_path),
        "credit",
        [{"prediction_id": "a", "actual": 11.5}, {"prediction_id": "b", "actual": 20.0}],
    )
    out = compare_variants(tmp_path, "credit", T0, T0 + 1)
    assert out["task"] == "regression"
    assert out["variants"]["primary"] == {"rows": 2, "with_actuals": 2, "mae": pytest.approx(0.5)}
    assert out["variants"]["shadow"] == {"rows": 2, "with_actuals": 2, "mae": pytest.approx(1.0)}
