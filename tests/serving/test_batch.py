"""Batch scoring on real files with real saved models: chunks, resume, errors, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from typer.testing import CliRunner

from modelyard import Client, models
from modelyard.cli.main import app
from modelyard.core.errors import InvalidArgument, ModelyardError, PermissionDenied
from modelyard.core.settings import Settings
from modelyard.serving.batch import ScoreProgress, score
from modelyard.serving.batch_io import CSV_BLOCK_BYTES

N = 5_000
CHUNK = 700  # 8 chunks, the last of 100 rows; Parquet row groups of 1,500 rows straddle them
FEATURES = ["income", "debt", "age"]


def make_table(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "income": rng.normal(50, 10, n),
            "region": rng.choice(["north", "south", "east"], n),
            "debt": rng.normal(10, 3, n),
            "age": rng.normal(40, 9, n),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A binary classifier, a 3-class classifier and a regressor saved as models, and one table as
    Parquet and as CSV."""
    root = tmp_path_factory.mktemp("batch")
    df = make_table()
    X = df[FEATURES]
    y = (X.income - 3 * X.debt > 20).astype(int)
    models.save(LogisticRegression().fit(X, y), root / "binary", input_example=X.head())
    y3 = np.where(X.age > 45, "old", np.where(X.age > 35, "mid", "young"))
    models.save(LogisticRegression(max_iter=500).fit(X, y3), root / "multi", input_example=X.head())
    models.save(LinearRegression().fit(X, X.income * 2), root / "regressor", input_example=X.head())
    df.to_parquet(root / "data.parquet", row_group_size=1_500)
    df.to_csv(root / "data.csv", index=False)
    return {
        "root": root,
        "binary": root / "binary",
        "multi": root / "multi",
        "regressor": root / "regressor",
        "parquet": root / "data.parquet",
        "csv": root / "data.csv",
    }


def read(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def interrupt_after(n: int) -> Callable[[ScoreProgress], None]:
    """A progress callback that stops the run after ``n`` chunks were scored, like a Ctrl-C."""
    seen: list[ScoreProgress] = []

    def callback(p: ScoreProgress) -> None:
        seen.append(p)
        if p.phase == "chunk" and sum(e.phase == "chunk" for e in seen) == n:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_scores_match_predict_on_the_whole_frame(files: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out.parquet"
    summary = score(files["binary"], files[fmt], out, chunk_rows=CHUNK)
    df = make_table()
    loaded = models.load(files["binary"])
    got = read(out)
    assert list(got.columns) == [*df.columns, "prediction", "score"]
    pd.testing.assert_frame_equal(got[df.columns], df, check_dtype=False)  # input kept, in order
    np.testing.assert_array_equal(got.prediction.to_numpy(), loaded.predict(df))
    np.testing.assert_allclose(got.score.to_numpy(), loaded.predict_proba(df)[:, 1])
    assert (summary.rows, summary.chunks, summary.resumed_chunks, summary.scored_rows) == (N, 8, 0, N)
    assert summary.seconds > 0 and summary.output == out.resolve()
    assert not (tmp_path / "out.parquet.parts").exists()


def test_multiclass_gets_a_probability_per_class_and_regression_none(
    files: dict[str, Path], tmp_path: Path
) -> None:
    df = make_table()
    score(files["multi"], files["parquet"], tmp_path / "m.parquet", chunk_rows=CHUNK, keep_columns=["id"])
    got = read(tmp_path / "m.parquet")
    assert list(got.columns) == ["id", "prediction", "proba_mid", "proba_old", "proba_young"]
    loaded = models.load(files["multi"])
    np.testing.assert_array_equal(got.prediction.to_numpy(), loaded.predict(df))
    np.testing.assert_allclose(
        got[["proba_mid", "proba_old", "proba_young"]].to_numpy(), loaded.predict_proba(df)
    )

    score(files["regressor"], files["csv"], tmp_path / "r.parquet", chunk_rows=CHUNK, keep_columns=[])
    reg = read(tmp_path / "r.parquet")
    assert list(reg.columns) == ["prediction"]
    np.testing.assert_allclose(reg.prediction.to_numpy(), df.income.to_numpy() * 2)

    score(
        files["binary"], files["parquet"], tmp_path / "np.parquet", keep_columns=["id"], probabilities=False
    )
    assert list(read(tmp_path / "np.parquet").columns) == ["id", "prediction"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_memory_is_bounded_by_chunks(files: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    part_rows: list[list[int]] = []
    events: list[ScoreProgress] = []

    def watch(p: ScoreProgress) -> None:
        events.append(p)
        if p.phase == "chunk":
            part_rows.append([pq.read_metadata(f).num_rows for f in sorted(parts.glob("part-*.parquet"))])

    score(files["binary"], files[fmt], out, chunk_rows=CHUNK, progress=watch)
    assert part_rows[-1] == [CHUNK] * 7 + [100]  # every chunk is chunk_rows rows, never the whole file
    assert [len(p) for p in part_rows] == list(range(1, 9))  # parts appear one by one, in order
    meta = pq.ParquetFile(out).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [CHUNK] * 7 + [100]
    assert [e.phase for e in events] == ["start", *["chunk"] * 8, "assemble"]
    assert [e.rows_done for e in events if e.phase == "chunk"] == [*range(CHUNK, N, CHUNK), N]
    if fmt == "parquet":  # the bar counts rows; for CSV it counts bytes read
        assert events[0].rows_total == N and events[0].chunks_total == 8
    else:
        assert events[0].rows_total is None and events[-1].bytes_done == events[-1].bytes_total > 0
        assert events[-1].chunks_total == 8
        fraction = [e.bytes_done / e.bytes_total for e in events if e.phase == "chunk"]
        assert fraction == sorted(fraction) and 0.45 < fraction[3] < 0.65  # follows rows (2,800 of 5,000)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_memory_does_not_grow_with_the_file(tmp_path: Path, files: dict[str, Path], fmt: str) -> None:
    """Arrow memory in use after each chunk stays near one chunk's worth, however far into the file."""
    big = pd.concat([make_table()] * 40, ignore_index=True)  # 200,000 rows, ~8 MB in memory
    path = tmp_path / f"big.{fmt}"
    if fmt == "parquet":
        big.to_parquet(path, row_group_size=20_000)
    else:
        big.to_csv(path, index=False)
    # Measured in a fresh process: Arrow's pool is process-wide, and threads left by earlier tests
    # (servers, writers) allocate from it while this one runs.
    probe = (
        "import json, sys, pyarrow as pa\n"
        "from modelyard.serving.batch import score\n"
        "seen = []\n"
        "s = score(sys.argv[1], sys.argv[2], sys.argv[3], chunk_rows=5_000, progress=lambda p: "
        "seen.append(pa.total_allocated_bytes()) if p.phase == 'chunk' else None)\n"
        "print(json.dumps({'chunks': s.chunks, 'in_use': seen}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(files["binary"]), str(path), str(tmp_path / "out.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    in_use = found["in_use"]
    assert found["chunks"] == 40
    whole = pa.Table.from_pandas(big).nbytes
    # pyarrow's CSV reader parses whole blocks and its I/O reads a few ahead, more when the
    # consumer is slow (a loaded machine): bounded by blocks, not by the file.
    read_ahead = 8 * CSV_BLOCK_BYTES if fmt == "csv" else 0
    assert max(in_use) < whole / 4 + read_ahead, (max(in_use), whole)
    assert max(in_use[20:]) < 2 * max(in_use[:20]) + 1_000_000  # no growth from the first to second half


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_rerun_resumes_after_an_interruption(files: dict[str, Path], tmp_path: Path, fmt: str) -> None:
    full = tmp_path / "full.parquet"
    score(files["binary"], files[fmt], full, chunk_rows=CHUNK)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        score(files["binary"], files[fmt], out, chunk_rows=CHUNK, progress=interrupt_after(3))
    parts = tmp_path / "out.parquet.parts"
    assert sorted(p.name for p in parts.glob("part-*")) == [f"part-{i:06d}.parquet" for i in range(3)]
    assert not out.exists()
    manifest = json.loads((parts / "manifest.json").read_text())
    assert manifest["model_digest"] == models.read_manifest(files["binary"]).digest
    assert manifest["input"]["path"] == str(files[fmt].resolve())

    events: list[ScoreProgress] = []
    summary = score(files["binary"], files[fmt], out, chunk_rows=CHUNK, progress=events.append)
    assert events[0].phase == "start" and events[0].resumed_chunks == 3 and events[0].rows_done == 3 * CHUNK
    assert summary.resumed_chunks == 3 and summary.chunks == 8
    assert summary.scored_rows == N - 3 * CHUNK  # only the rest was scored
    assert sum(e.phase == "chunk" for e in events) == 5
    pd.testing.assert_frame_equal(read(out), read(full))  # complete, in order, same as one run
    assert not parts.exists()


def test_interrupted_while_writing_the_output_only_writes_it(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"

    def stop_at_assemble(p: ScoreProgress) -> None:
        if p.phase == "assemble":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score(files["binary"], files["csv"], out, chunk_rows=CHUNK, progress=stop_at_assemble)
    summary = score(files["binary"], files["csv"], out, chunk_rows=CHUNK)
    assert (summary.resumed_chunks, summary.scored_rows, summary.rows) == (8, 0, N)


def test_resume_refuses_another_model_input_or_chunk_size(files: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "data.parquet"
    data.write_bytes(files["parquet"].read_bytes())
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        score(files["binary"], data, out, chunk_rows=CHUNK, progress=interrupt_after(2))

    with pytest.raises(InvalidArgument, match=r"with another model .*rerun with that model to resume"):
        score(files["regressor"], data, out, chunk_rows=CHUNK)
    with pytest.raises(InvalidArgument, match="--chunk-rows 700"):
        score(files["binary"], data, out, chunk_rows=500)
    with pytest.raises(InvalidArgument, match="kept other columns"):
        score(files["binary"], data, out, chunk_rows=CHUNK, keep_columns=["id"])
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the input was rewritten since
    with pytest.raises(InvalidArgument, match="before it changed"):
        score(files["binary"], data, out, chunk_rows=CHUNK)
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    summary = score(files["binary"], data, out, chunk_rows=CHUNK)
    assert summary.resumed_chunks == 2 and summary.rows == N


def test_clear_errors(files: dict[str, Path], tmp_path: Path) -> None:
    model, data = files["binary"], files["parquet"]
    with pytest.raises(InvalidArgument, match="does not exist"):
        score(model, tmp_path / "nope.parquet", tmp_path / "o.parquet")
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(InvalidArgument, match=r"unknown suffix '\.json': use a \.parquet or \.csv"):
        score(model, tmp_path / "data.json", tmp_path / "o.parquet")
    with pytest.raises(InvalidArgument, match="is the input file"):
        score(model, data, data)
    with pytest.raises(InvalidArgument, match=r"must be a \.parquet file"):
        score(model, data, tmp_path / "o.csv")
    make_table().drop(columns=["income", "age"]).to_parquet(tmp_path / "thin.parquet")
    with pytest.raises(InvalidArgument, match="lacks column\\(s\\) the model needs: income, age"):
        score(model, tmp_path / "thin.parquet", tmp_path / "o.parquet")
    with pytest.raises(InvalidArgument, match="not in the input: salary"):
        score(model, data, tmp_path / "o.parquet", keep_columns=["id", "salary"])
    make_table().assign(prediction=1).to_csv(tmp_path / "scored.csv", index=False)
    with pytest.raises(InvalidArgument, match="already has a 'prediction' column"):
        score(model, tmp_path / "scored.csv", tmp_path / "o.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidArgument, match="not a readable parquet file"):
        score(model, tmp_path / "broken.parquet", tmp_path / "o.parquet")
    assert not list(tmp_path.glob("o.parquet*"))


def test_empty_input_gives_an_empty_output(files: dict[str, Path], tmp_path: Path) -> None:
    make_table().head(0).to_parquet(tmp_path / "empty.parquet")
    summary = score(files["binary"], tmp_path / "empty.parquet", tmp_path / "o.parquet")
    assert summary.rows == 0 and summary.chunks == 0
    assert "prediction" in read(tmp_path / "o.parquet").columns


def test_registered_and_run_models(files: dict[str, Path], tmp_path: Path) -> None:
    client = Client(f"sqlite:///{tmp_path / 'reg.db'}", settings=Settings(home=tmp_path / "home"))
    try:
        df = make_table(300)
        run = client.create_run(client.get_or_create_experiment("p", "e").id, name="fit")
        est = LogisticRegression().fit(df[FEATURES], (df.income > 50).astype(int))
        info = client.log_model(run.id, est, "model", input_example=df[FEATURES].head())
        client.create_registered_model("scorer", project="p", risk_tier="low")
        client.register_model(info.uri, "scorer", project="p")
        client.set_model_alias("scorer", "champion", 1, project="p")
        a = score("models:/p/scorer@champion", files["parquet"], tmp_path / "a.parquet", client=client)
        b = score(info.uri, files["csv"], tmp_path / "b.parquet", client=client, chunk_rows=CHUNK)
    finally:
        client.close()
    assert a.rows == b.rows == N
    expected = est.predict(make_table()[FEATURES])
    np.testing.assert_array_equal(read(tmp_path / "a.parquet").prediction.to_numpy(), expected)
    pd.testing.assert_frame_equal(read(tmp_path / "a.parquet"), read(tmp_path / "b.parquet"))


def test_without_ray_installed_the_error_says_how(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(ModelyardError, match=r"pip install 'modelyard\[ray\]'"):
        score(files["binary"], files["parquet"], tmp_path / "o.parquet", ray_address="auto")
    assert not list(tmp_path.glob("o.parquet*"))


def test_cli_scores_resumes_and_reports(files: dict[str, Path], tmp_path: Path) -> None:
    env = {"COLUMNS": "200", "MODELYARD_HOME": str(tmp_path / "home")}
    out = tmp_path / "out.parquet"
    args = ["score", "--model", str(files["binary"]), "--input", str(files["csv"]), "--output", str(out)]
    with pytest.raises(KeyboardInterrupt):
        score(files["binary"], files["csv"], out, chunk_rows=CHUNK, progress=interrupt_after(2))
    result = CliRunner().invoke(app, [*args, "--chunk-rows", str(CHUNK), "--keep", "id,region"], env=env)
    assert result.exit_code == 1 and "Error:" in result.output and "kept other columns" in result.output
    assert "Traceback" not in result.output

    result = CliRunner().invoke(app, [*args, "--chunk-rows", str(CHUNK)], env=env)
    assert result.exit_code == 0, result.output
    assert "resuming: 2 chunks already done" in result.output
    assert "Scored 5,000 rows in 8 chunks (2 resumed) in" in result.output and "rows/s" in result.output
    assert len(read(out)) == N

    result = CliRunner().invoke(
        app,
        [*args[:-1], str(tmp_path / "p.parquet"), "--keep", "id", "--keep", "region", "--no-proba"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert list(read(tmp_path / "p.parquet").columns) == ["id", "region", "prediction"]

    missing = CliRunner().invoke(
        app, ["score", "-m", str(files["binary"]), "-i", "nope.csv", "-o", "x.parquet"], env=env
    )
    assert missing.exit_code == 1 and "Error: Input 'nope.csv' does not exist" in missing.output
    assert "Traceback" not in missing.output


def test_cli_shows_resume_progress_for_parquet(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        score(files["binary"], files["parquet"], out, chunk_rows=CHUNK, progress=interrupt_after(3))
    result = CliRunner().invoke(
        app,
        [
            "score",
            "-m",
            str(files["binary"]),
            "-i",
            str(files["parquet"]),
            "-o",
            str(out),
            "--chunk-rows",
            "700",
        ],
        env={"COLUMNS": "200", "MODELYARD_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 0, result.output
    assert "resuming: 3 of 8 chunks already done" in result.output
    assert "5,000/5,000 rows" in result.output  # the progress bar's last state
    assert "Scored 5,000 rows in 8 chunks (3 resumed)" in result.output


class Halver:
    """Custom code with a predict method: saved with cloudpickle, so it loads only when trusted."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return X["income"].to_numpy() / 2


def test_a_pickled_model_needs_trust_and_fails_before_writing(files: dict[str, Path], tmp_path: Path) -> None:
    models.save(Halver(), tmp_path / "halver", input_example=make_table(5)[FEATURES])
    out = tmp_path / "o.parquet"
    with pytest.raises(PermissionDenied):
        score(tmp_path / "halver", files["parquet"], out)
    assert not list(tmp_path.glob("o.parquet*"))  # no work folder left behind
    score(tmp_path / "halver", files["parquet"], out, trust=True, keep_columns=["income"])
    got = read(out)
    np.testing.assert_allclose(got.prediction.to_numpy(), got.income.to_numpy() / 2)
