"""``modelyard deployments`` as a user runs it, on a real embedded store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.client import Client
from modelyard.core.settings import Settings


def _cli(uri: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["deployments", *args, "--uri", uri], env={"COLUMNS": "200"}, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_create_update_rollback_and_errors(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = Client(uri, artifacts_uri=str(tmp_path / "artifacts"), settings=Settings(home=tmp_path / "home"))
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 2)), columns=["a", "b"])
    y = (X["a"] > 0).astype(int)
    run = client.create_run(client.get_or_create_experiment("risk", "e").id)
    info = client.log_model(run.id, LogisticRegression().fit(X, y), "model", input_example=X.head(2))
    for _ in range(2):
        client.register_model(info.uri, "scorer", project="risk")
    client.close()

    code, out = _cli(uri, "create", "credit", "--model", "models:/scorer/1", "--project", "risk")
    assert code == 0 and "POST /v1/deployments/credit/predict" in out
    spec = tmp_path / "canary.yaml"
    spec.write_text("canary:\n  model_uri: models:/scorer/2\n  steps: [10, 100]\n")
    code, out = _cli(uri, "update", "credit", "--shadow", "next=models:/scorer/2", "--reason", "watch v2")
    assert code == 0 and "next" in out and "shadow" in out
    code, out = _cli(uri, "update", "credit", "--spec", str(spec))
    assert code == 0 and "steps:" in out

    code, out = _cli(uri, "list")
    assert code == 0 and "credit" in out and "next:shadow" in out and "running, 10%" in out
    code, out = _cli(uri, "history", "credit")
    assert code == 0 and "watch v2" in out
    code, out = _cli(uri, "rollback", "credit", "--revision", "1")
    assert code == 0 and "revision 4" in out and "canary: null" in out

    code, out = _cli(uri, "create", "credit", "--model", "models:/scorer/1", "--project", "risk")
    assert code == 1 and "already exists" in out
    code, out = _cli(uri, "update", "credit", "--ab", "b=models:/scorer/2")
    assert code == 1 and "NAME=models:/<model>/<version>:PERCENT" in out
    code, out = _cli(uri, "update", "credit")
    assert code == 1 and "Nothing to change" in out
    code, out = _cli(uri, "delete", "credit")
    assert code == 0 and "deleted" in out
    code, out = _cli(uri, "show", "credit")
    assert code == 1 and "No deployment named 'credit'" in out


def test_replay_scores_stored_traffic_and_compares_variants(tmp_path: Path) -> None:
    import time

    from modelyard.serving.predlog import CaptureWriter, write_actuals

    home = tmp_path / "home"
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = Client(uri, artifacts_uri=str(tmp_path / "artifacts"), settings=Settings(home=home))
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 2)), columns=["a", "b"])
    y = (X["a"] > 0).astype(int)
    run = client.create_run(client.get_or_create_experiment("risk", "e").id)
    weak = client.log_model(
        run.id,
        LogisticRegression().fit(X[["b"]].assign(a=0.0)[["a", "b"]], y),
        "weak",
        input_example=X.head(2),
    )
    strong = client.log_model(run.id, LogisticRegression().fit(X, y), "strong", input_example=X.head(2))
    client.register_model(weak.uri, "scorer", project="risk")
    client.register_model(strong.uri, "scorer", project="risk")
    client.create_deployment("credit", "models:/scorer/1", project="risk")
    client.close()
    ids = [f"p{i}" for i in range(len(X))]
    writer = CaptureWriter(str(home / "predictions")).start()
    writer.submit(
        deployment="credit",
        model="scorer",
        version=1,
        variant="primary",
        prediction_ids=ids,
        features={"a": X["a"].tolist(), "b": X["b"].tolist()},
        predictions=[1] * len(X),
        scores=None,
        latency_ms=1.0,
        ts_ms=int(time.time() * 1000) - 60_000,
    )
    writer.stop()
    write_actuals(
        str(home / "predictions"),
        "credit",
        [{"prediction_id": i, "actual": int(v)} for i, v in zip(ids, y, strict=True)],
    )

    result = CliRunner().invoke(
        app,
        ["deployments", "replay", "credit", "--model", "models:/scorer/2", "--window", "1h", "--uri", uri],
        env={"COLUMNS": "200", "MODELYARD_HOME": str(home)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Scored 400 stored rows as variant replay-scorer-v2" in result.output
    rows = {
        line.split()[0]: line.split()
        for line in result.output.splitlines()
        if line.strip().startswith(("primary", "replay-"))
    }
    assert float(rows["replay-scorer-v2"][-1]) > 0.9 > float(rows["primary"][-1])  # the challenger is better
    again = CliRunner().invoke(
        app,
        ["deployments", "replay", "credit", "--model", "models:/scorer/2", "--window", "rows", "--uri", uri],
        env={"COLUMNS": "200", "MODELYARD_HOME": str(home)},
    )
    assert again.exit_code == 1 and "Window 'rows' is not valid" in again.output
