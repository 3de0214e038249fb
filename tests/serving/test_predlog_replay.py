"""Replay: a challenger scores stored production traffic; its answers sit beside the primary's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard import models
from modelyard.core.errors import InvalidArgument
from modelyard.serving.predlog import CaptureWriter, compare_variants, counts, replay, scan, write_actuals

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def challenger(tmp_path_factory: pytest.TempPathFactory) -> models.LoadedModel:
    tmp_path = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    y = (X["x1"] + X["x2"] > 0).astype(int)
    models.save(LogisticRegression().fit(X, y), tmp_path / "challenger", input_example=X.head(3))
    return models.load(tmp_path / "challenger")


def _capture(root: Path, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "note": ["n"] * n})
    w = CaptureWriter(str(root))
    for start in range(0, n, 50):  # requests of 50 rows
        part = frame.iloc[start : start + 50]
        ids = [f"p{i}" for i in part.index]
        w.submit(
            deployment="credit",
            model="credit-model",
            version=1,
            variant="primary",
            prediction_ids=ids,
            features={c: part[c].tolist() for c in part.columns},
            predictions=[0] * len(ids),  # a poor champion: always says no
            scores=[0.5] * len(ids),
            latency_ms=1.0,
            ts_ms=T0 + start,
            association_ids=[f"loan-{i}" for i in part.index],
        )
    w.stop()
    return frame


def test_replay_writes_challenger_rows_under_the_same_ids(
    tmp_path: Path, challenger: models.LoadedModel
) -> None:
    root = tmp_path / "log"
    frame = _capture(root, 300)
    seen: list[tuple[int, int]] = []

    out = replay(
        root=root,
        deployment="credit",
        loaded_model=challenger,
        model_name="Credit Challenger",
        version=4,
        since_ms=T0,
        until_ms=T0 + 1_000,
        batch_rows=128,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert out["variant"] == "replay-credit-challenger-v4"
    assert (out["rows"], out["skipped"], out["total"], out["segments"]) == (300, 0, 300, 3)
    assert seen == [(128, 300), (256, 300), (300, 300)]
    rows = scan(root, "credit", variant="replay-credit-challenger-v4").to_arrow_table().to_pandas()
    rows["i"] = rows["prediction_id"].str[1:].astype(int)
    rows = rows.sort_values("i").reset_index(drop=True)
    assert rows["association_id"].tolist() == [f"loan-{i}" for i in range(300)]
    assert (rows["model"].unique().tolist(), rows["version"].unique().tolist()) == (
        ["Credit Challenger"],
        [4],
    )
    X = frame[["x1", "x2"]]
    assert rows["prediction"].tolist() == [str(v) for v in challenger.predict(X)]
    np.testing.assert_allclose(rows["score"], challenger.predict_proba(X)[:, 1])
    primary = scan(root, "credit", variant="primary").to_arrow_table().to_pandas()
    assert (primary["ts"].sort_values().to_numpy() == rows["ts"].sort_values().to_numpy()).all()  # same times
    assert rows["input.note"].isna().all()  # only the inputs the model reads are stored

    again = replay(
        root=root, deployment="credit", loaded_model=challenger, model_name="Credit Challenger", version=4
    )
    assert (again["rows"], again["skipped"]) == (0, 300)  # rerun adds nothing
    assert counts(root, "credit")["variants"]["replay-credit-challenger-v4"]["rows"] == 300

    truth = (frame["x1"] + frame["x2"] > 0).astype(int)
    write_actuals(
        str(root), "credit", [{"association_id": f"loan-{i}", "actual": int(v)} for i, v in truth.items()]
    )
    cmp = compare_variants(root, "credit", T0, T0 + 1_000)
    assert cmp["task"] == "classification"
    primary_acc = cmp["variants"]["primary"]["accuracy"]
    replay_acc = cmp["variants"]["replay-credit-challenger-v4"]["accuracy"]
    assert primary_acc == pytest.approx(float((truth == 0).mean()))
    assert replay_acc > 0.9 > primary_acc
    assert cmp["variants"]["replay-credit-challenger-v4"]["with_actuals"] == 300


def test_replay_resumes_where_an_earlier_run_stopped(tmp_path: Path, challenger: models.LoadedModel) -> None:
    root = tmp_path / "log"
    _capture(root, 200)
    first = replay(
        root=root, deployment="credit", loaded_model=challenger, model_name="c", version=1, until_ms=T0 + 100
    )
    assert first["rows"] == 100  # requests at T0 and T0+50
    rest = replay(root=root, deployment="credit", loaded_model=challenger, model_name="c", version=1)
    assert (rest["rows"], rest["skipped"]) == (100, 100)
    ids = scan(root, "credit", columns=["prediction_id"], variant="replay-c-v1").fetchall()
    assert len(ids) == len(set(ids)) == 200


def test_replay_names_inputs_the_traffic_lacks(tmp_path: Path, challenger: models.LoadedModel) -> None:
    root = tmp_path / "log"
    w = CaptureWriter(str(root))
    w.submit(deployment="credit", model="m", version=1, variant="primary", prediction_ids=["p"],
             features={"x1": [1.0]}, predictions=[1], scores=None, latency_ms=1.0, ts_ms=T0)  # fmt: skip
    w.stop()
    with pytest.raises(InvalidArgument, match=r"needs input\(s\) 'x2' .*captured: x1"):
        replay(root=root, deployment="credit", loaded_model=challenger, model_name="c", version=1)
