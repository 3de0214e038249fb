"""Batch scoring fanned out to a real local Ray instance: same output as a local run, same resume."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard import models
from modelyard.cli.main import app
from modelyard.core.errors import InvalidArgument
from modelyard.serving.batch import ScoreProgress, score

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

N = 3_000
CHUNK = 400  # 8 chunks, the last of 200 rows
FEATURES = ["income", "debt", "age"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batch-ray")
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "id": np.arange(N),
            "income": rng.normal(50, 10, N),
            "debt": rng.normal(10, 3, N),
            "age": rng.normal(40, 9, N),
            "segment": rng.choice(["a", "b"], N),
        }
    )
    X = df[FEATURES]
    y = (X.income - 3 * X.debt > 20).astype(int)
    models.save(LogisticRegression().fit(X, y), root / "model", input_example=X.head())
    df.to_parquet(root / "data.parquet", row_group_size=1_000)
    df.to_csv(root / "data.csv", index=False)
    df.assign(income=df.income.astype(str) + "k").to_parquet(root / "bad.parquet")
    return {
        "model": root / "model",
        "parquet": root / "data.parquet",
        "csv": root / "data.csv",
        "bad": root / "bad.parquet",
    }


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """One local Ray instance for the module (its workers load the model once and stay warm)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def assert_same(a: Path, b: Path) -> None:
    """Same columns, rows and predictions; probabilities equal up to float rounding (Ray workers run
    BLAS single-threaded, which sums in another order than the driver does)."""
    left, right = pq.read_table(a), pq.read_table(b)
    assert left.schema == right.schema
    assert left.drop_columns(["score"]).equals(right.drop_columns(["score"]))
    np.testing.assert_allclose(left["score"].to_numpy(), right["score"].to_numpy(), rtol=1e-12, atol=1e-15)


def interrupt_after(n: int) -> Callable[[ScoreProgress], None]:
    """A progress callback that stops the run after ``n`` saved chunks, like a Ctrl-C."""
    count = [0]

    def callback(p: ScoreProgress) -> None:
        if p.phase == "chunk":
            count[0] += 1
            if count[0] == n:
                raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_ray_run_equals_local_run(
    ray_cluster: None, files: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    local = score(files["model"], files[fmt], tmp_path / "local.parquet", chunk_rows=CHUNK)
    saved: list[int] = []
    on_ray = score(
        files["model"],
        files[fmt],
        tmp_path / "ray.parquet",
        chunk_rows=CHUNK,
        ray_address="auto",
        max_in_flight=2,
        progress=lambda p: saved.append(p.rows_done) if p.phase == "chunk" else None,
    )
    assert on_ray.ray and (on_ray.rows, on_ray.chunks) == (local.rows, local.chunks) == (N, 8)
    assert saved == [*range(CHUNK, N, CHUNK), N]  # parts saved one by one, in input order
    assert_same(tmp_path / "ray.parquet", tmp_path / "local.parquet")
    meta = pq.ParquetFile(tmp_path / "ray.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [CHUNK] * 7 + [200]


def test_ray_run_resumes_after_an_interruption(
    ray_cluster: None, files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        score(
            files["model"],
            files["csv"],
            out,
            chunk_rows=CHUNK,
            ray_address="auto",
            progress=interrupt_after(3),
        )
    parts = sorted(p.name for p in (tmp_path / "out.parquet.parts").glob("part-*"))
    assert parts == [f"part-{i:06d}.parquet" for i in range(3)]
    summary = score(files["model"], files["csv"], out, chunk_rows=CHUNK, ray_address="auto")
    assert (summary.resumed_chunks, summary.scored_rows, summary.rows) == (3, N - 3 * CHUNK, N)
    score(files["model"], files["csv"], tmp_path / "local.parquet", chunk_rows=CHUNK)
    assert_same(out, tmp_path / "local.parquet")


def test_a_worker_side_error_reaches_the_caller_as_is(
    ray_cluster: None, files: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgument, match="could not predict on this input"):
        score(files["model"], files["bad"], tmp_path / "o.parquet", chunk_rows=CHUNK, ray_address="auto")
    assert not (tmp_path / "o.parquet").exists()


def test_cli_resumes_on_ray(ray_cluster: None, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    env = {"COLUMNS": "200", "MODELYARD_HOME": str(tmp_path / "home")}
    args = ["score", "-m", str(files["model"]), "-i", str(files["parquet"]), "-o", str(out)]
    args += ["--chunk-rows", str(CHUNK), "--ray", "auto"]
    with pytest.raises(KeyboardInterrupt):
        score(
            files["model"],
            files["parquet"],
            out,
            chunk_rows=CHUNK,
            ray_address="auto",
            progress=interrupt_after(2),
        )
    refused = CliRunner().invoke(app, [*args, "--keep", "id"], env=env)
    assert refused.exit_code == 1 and "kept other columns" in refused.output
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "resuming: 2 of 8 chunks already done" in result.output
    assert "Scored 3,000 rows in 8 chunks (2 resumed) on Ray (auto)" in result.output


def test_cli_process_joins_a_running_cluster(
    ray_cluster: None, files: dict[str, Path], tmp_path: Path
) -> None:
    """A separate ``modelyard score --ray auto`` process connects to the running instance, ships
    the model's bytes to its workers, and disconnects without stopping the cluster."""
    out = tmp_path / "out.parquet"
    cmd = [sys.executable, "-m", "modelyard.cli.main", "score", "-m", str(files["model"])]
    # One chunk: a new driver is a new Ray job with its own workers, and each cold worker pays
    # for importing modelyard, scikit-learn and skops; one is enough to prove the path.
    cmd += ["-i", str(files["csv"]), "-o", str(out), "--chunk-rows", str(N), "--ray", "auto"]
    env = {**os.environ, "MODELYARD_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "Scored 3,000 rows in 1 chunks on Ray (auto)" in result.stdout
    assert "Traceback" not in result.stderr
    score(files["model"], files["csv"], tmp_path / "local.parquet", chunk_rows=N)
    assert_same(out, tmp_path / "local.parquet")
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # still up for others
