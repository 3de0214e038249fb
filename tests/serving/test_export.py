"""``modelyard deployments export``: the build context serves from a fresh virtual environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.serving.export import export_deployment


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, pd.DataFrame, LogisticRegression]:
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = Client(uri, artifacts_uri=str(tmp_path / "artifacts"), settings=Settings(home=tmp_path / "home"))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"income": rng.normal(50, 10, 300), "debt": rng.normal(20, 5, 300)})
    y = (X["debt"] * 2 > X["income"] * 0.8).astype(int)
    model = LogisticRegression().fit(X, y)
    run = client.create_run(client.get_or_create_experiment("risk", "e").id)
    info = client.log_model(run.id, model, "model", input_example=X.head(2))
    v = client.register_model(info.uri, "scorer", project="risk", reference=X)
    client.create_deployment(
        "credit",
        f"models:/scorer/{v.version}",
        project="risk",
        humility=[{"rule": "out_of_range", "action": "error"}],
    )
    out = CliRunner().invoke(
        app,
        ["deployments", "export", "credit", "--dir", str(tmp_path / "ctx"), "--uri", uri],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    client.close()
    return tmp_path / "ctx", X, model


def test_context_holds_everything_pinned(exported, tmp_path: Path) -> None:
    ctx, _, _ = exported
    assert sorted(p.name for p in ctx.iterdir()) == sorted(
        ["Dockerfile", ".dockerignore", "requirements.txt", "serve.py", "deployment.json", "models", "app"]
    )
    spec = orjson.loads((ctx / "deployment.json").read_bytes())
    (entry,) = spec["models"].values()
    assert spec["name"] == "credit" and entry["path"] == "models/scorer-v1"
    assert (ctx / entry["path"] / "MODEL.json").is_file() and (ctx / entry["profile"]).is_file()
    requirements = (ctx / "requirements.txt").read_text().splitlines()
    assert all("==" in line for line in requirements), requirements
    assert any(line.startswith("scikit-learn==") for line in requirements)
    assert (ctx / "app" / "modelyard" / "serving" / "runtime" / "__main__.py").is_file()
    assert 'CMD ["python", "serve.py"' in (ctx / "Dockerfile").read_text()
    with pytest.raises(Exception, match="not an empty folder"):
        export_deployment(
            Client(f"sqlite:///{tmp_path / 'store.db'}", settings=Settings(home=tmp_path / "home")),
            "credit",
            ctx,
        )


@pytest.mark.slow
def test_entry_point_serves_from_a_fresh_venv(exported, tmp_path: Path) -> None:
    ctx, X, model = exported
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(ctx / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "PYTHON"))}
    env["MODELYARD_HOME"] = str(tmp_path / "served-home")
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), str(ctx / "serve.py"), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the exported server never became ready"
            time.sleep(0.5)
        rows = X.head(3)
        resp = httpx.post(f"{base}/v1/deployments/credit/predict", json={"inputs": rows.to_dict("records")})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["version"] == 1 and len(body["prediction_ids"]) == 3
        assert body["predictions"] == model.predict(rows).tolist()
        # The reference profile travelled with the model: an income far outside training is refused.
        far = httpx.post(
            f"{base}/v1/deployments/credit/predict", json={"inputs": [{"income": 1e6, "debt": 20.0}]}
        )
        assert far.status_code == 422 and "income" in far.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
