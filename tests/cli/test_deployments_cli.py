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
