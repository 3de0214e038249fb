"""Handing predictions to the prediction log from the serving process: in a child process, with
every row written on stop, and drops counted (never a hang) when the child is gone."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from modelyard.serving.predlog import scan
from modelyard.serving.runtime.capture import latency_bucket
from modelyard.serving.runtime.capture_process import ProcessWriter


def _submit(w: ProcessWriter, ids: list[str]) -> bool:
    return w.submit(
        deployment="credit",
        model="credit-default",
        version=2,
        variant="primary",
        prediction_ids=ids,
        features={"f0": [1.5] * len(ids), "region": ["north"] * len(ids)},
        predictions=[1] * len(ids),
        scores=[0.75] * len(ids),
        latency_ms=1.2,
        ts_ms=1_700_000_000_000,
        association_ids=None,
        flags=None,
    )


def test_child_process_writes_every_row_on_stop(tmp_path: Path) -> None:
    w = ProcessWriter(str(tmp_path), queue_size=1_000, flush_s=60).start()
    for i in range(3):
        assert _submit(w, [f"p{i}a", f"p{i}b"])
    assert w.stop(timeout_s=60)
    rows = scan(tmp_path, "credit").to_arrow_table().to_pylist()
    assert sorted(r["prediction_id"] for r in rows) == ["p0a", "p0b", "p1a", "p1b", "p2a", "p2b"]
    assert {(r["model"], r["version"], r["input.region"], r["score"]) for r in rows} == {
        ("credit-default", 2, "north", 0.75)
    }
    assert w.stats()["written"] == 6


def test_a_dead_child_costs_captured_rows_not_requests(tmp_path: Path) -> None:
    w = ProcessWriter(str(tmp_path), queue_size=10).start()
    child = next(p for p in multiprocessing.active_children() if p.name == "modelyard-capture")
    child.kill()
    child.join(10)
    deadline = time.monotonic() + 10
    while _submit(w, ["x"]):  # accepted until the pump finds the pipe closed
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert w.stats()["dropped"] >= 1
    assert not _submit(w, ["y", "z"])
    started = time.monotonic()
    w.stop(timeout_s=5)
    assert time.monotonic() - started < 5


def test_latency_is_kept_to_two_significant_digits() -> None:
    assert [latency_bucket(x) for x in (0.0, 0.4567, 1.234, 12.7, 345.6)] == [0.0, 0.46, 1.2, 13.0, 350.0]
