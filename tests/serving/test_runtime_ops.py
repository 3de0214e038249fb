"""Operating the serving process: health, readiness, metrics, sign-in, the loopback rule, serving from
local files, and the real command with several workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from runtimekit import Constant, gbc, row, table
from typer.testing import CliRunner

from modelyard import models
from modelyard.access.service import AccessService
from modelyard.cli.main import app as cli
from modelyard.client.client import Client
from modelyard.core.store import Store
from modelyard.identity.service import IdentityService
from modelyard.serving.predlog import scan
from modelyard.serving.runtime.auth import TokenGate
from modelyard.serving.runtime.sources import LocalSource, RegistrySource, pinned_deployment


def test_ready_waits_for_every_deployment_and_metrics_count_what_happened(
    registry: Client, register, start_runtime
) -> None:
    good = register("credit-default", gbc())
    untrusted = register("risky", Constant(1))  # a pickle nobody trusted: it never loads
    source = RegistrySource(
        registry,
        pinned=[
            pinned_deployment("credit", f"models:/credit-default/{good}"),
            pinned_deployment("risky", f"models:/risky/{untrusted}"),
        ],
    )
    server = start_runtime(source)
    assert server.http.get("/health").json()["status"] == "ok"
    ready = server.http.get("/ready")
    assert ready.status_code == 503
    assert set(ready.json()["missing"]) == {"risky"} and "trust" in ready.json()["missing"]["risky"].lower()
    refused = server.predict("risky", {"inputs": [row()]})
    assert refused.status_code == 503 and "no model loaded" in refused.json()["error"]["message"]

    for _ in range(3):
        assert server.predict("credit", {"inputs": [row(), row()]}).status_code == 200
    assert server.predict("credit", {"inputs": [{"f0": 1}]}).status_code == 422
    listing = {d["name"]: d for d in server.http.get("/v1/deployments").json()["deployments"]}
    assert listing["credit"]["status"] == "ready" and listing["risky"]["status"] == "error"
    assert listing["credit"]["variants"] == [
        {
            "variant": "primary",
            "mode": "primary",
            "weight": 100.0,
            "model_uri": "models:/credit-default/1",
            "model": "credit-default",
            "version": 1,
        }
    ]

    metrics = server.http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    labels = 'deployment="credit",variant="primary",version="1"'
    assert f'modelyard_serving_requests_total{{code="200",{labels}}} 3.0' in text
    assert f'modelyard_serving_requests_total{{code="422",{labels}}} 1.0' in text
    assert f"modelyard_serving_rows_total{{{labels}}} 6.0" in text
    assert f"modelyard_serving_request_duration_seconds_count{{{labels}}} 4.0" in text
    assert f'modelyard_serving_errors_total{{code="INVALID_INPUT",{labels}}} 1.0' in text
    assert (
        'modelyard_serving_model_info{deployment="credit",model="credit-default",variant="primary",version="1"} 1.0'
        in text
    )
    assert 'modelyard_serving_capture_rows{state="dropped"} 0.0' in text


def test_with_auth_on_only_callers_allowed_in_the_project_may_predict(
    tmp_path: Path, registry: Client, register, start_runtime
) -> None:
    v = register("credit-default", gbc())
    registry.create_deployment("credit", f"models:/credit-default/{v}")
    store = Store.open(f"sqlite:///{tmp_path / 'modelyard.db'}", str(tmp_path / "artifacts"))
    people = IdentityService(store.db)
    access = AccessService(store.db)
    tokens = {}
    for name, role in (("alice", "contributor"), ("bob", "viewer")):
        people.create_user(name)
        access.set_member(project="default", user=name, role=role, actor="test")
        tokens[name] = people.issue_token(name, name="serving")[1]
    server = start_runtime(RegistrySource(registry), gate=TokenGate(store))

    def predict(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return server.predict("credit", {"inputs": [row()]}, headers=headers)

    anonymous = predict(None)
    assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["error"]["message"]
    assert predict("myd_not-a-real-token").status_code == 401
    viewer = predict(tokens["bob"])
    assert viewer.status_code == 403 and "deployments.predict" in viewer.json()["error"]["message"]
    for _ in range(3):  # verified once, then cached
        assert predict(tokens["alice"]).status_code == 200
    actuals = {"actuals": [{"association_id": "a-1", "actual": 1}]}
    assert server.http.post("/v1/deployments/credit/actuals", json=actuals).status_code == 401
    allowed = server.http.post(
        "/v1/deployments/credit/actuals", json=actuals, headers={"Authorization": f"Bearer {tokens['alice']}"}
    )
    assert allowed.status_code == 202
    assert server.http.get("/v1/deployments").status_code == 401
    unknown = server.predict("nope", {"inputs": [row()]})  # no token: nothing is revealed
    assert unknown.status_code == 401
    stranger = server.predict(
        "nope", {"inputs": [row()]}, headers={"Authorization": f"Bearer {tokens['bob']}"}
    )
    assert stranger.status_code == 404 and "credit" not in stranger.json()["error"]["message"]
    assert server.http.get("/health").status_code == 200 and server.http.get("/ready").status_code == 200
    store.close()


def test_serve_refuses_to_listen_beyond_loopback_without_auth(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "serve",
            "--model",
            "models:/x@champion",
            "--host",
            "0.0.0.0",
            "--store",
            f"sqlite:///{tmp_path}/m.db",
        ],
        env={"MODELYARD_AUTH": "false", "MODELYARD_HOME": str(tmp_path)},
    )
    assert result.exit_code == 1
    assert "Refusing to listen on 0.0.0.0" in result.output


def test_exported_context_serves_from_a_spec_file_and_a_model_folder(tmp_path: Path, start_runtime) -> None:
    model = gbc()
    models.save(model, tmp_path / "model", input_example=table(5)[0])
    (tmp_path / "profile.json").write_bytes(
        orjson.dumps({"columns": {"f2": {"kind": "numeric", "min": 0.0, "max": 10.0}}})
    )
    spec = {
        "name": "credit",
        "model_uri": "models:/credit-default@champion",
        "humility": [{"rule": "out_of_range", "action": "log"}],
        "models": {
            "models:/credit-default@champion": {
                "path": "model",
                "name": "credit-default",
                "version": 4,
                "profile": "profile.json",
            }
        },
    }
    (tmp_path / "deployment.json").write_text(json.dumps(spec))
    server = start_runtime(LocalSource.from_files(tmp_path / "deployment.json"))
    body = server.predict("credit", {"inputs": [row(), row(f2=42.0)]}).json()
    assert (body["model"], body["version"]) == ("credit-default", 4)
    assert (
        body["predictions"]
        == model.predict(table(2)[0].assign(f0=5.0, f1=5.0, f2=[5.0, 42.0], f3=5.0)).tolist()
    )
    assert body["flags"] == [[], ["out_of_range:f2"]]


@pytest.mark.slow
def test_modelyard_serve_with_two_workers_answers_adds_up_metrics_and_flushes_on_stop(
    tmp_path: Path, registry: Client, register
) -> None:
    v = register("credit-default", gbc())
    registry.set_model_alias("credit-default", "champion", v)
    port = _free_port()
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp_path / "home"),
        "MODELYARD_PREDICTIONS_URI": str(tmp_path / "predictions"),
        "MODELYARD_CAPTURE_FLUSH_S": "60",  # only the shutdown flush writes
    }
    command = [
        sys.executable,
        "-m",
        "modelyard.cli.main",
        "serve",
        "--model",
        "models:/credit-default@champion",
        "--name",
        "credit",
        "--store",
        f"sqlite:///{tmp_path / 'modelyard.db'}",
        "--artifacts",
        str(tmp_path / "artifacts"),
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers never became ready"
            time.sleep(0.3)
        ids = []
        with httpx.Client(base_url=url, timeout=10) as http:
            for _ in range(20):
                r = http.post("/v1/deployments/credit/predict", json={"inputs": [row()]})
                assert r.status_code == 200 and r.json()["version"] == v
                ids += r.json()["prediction_ids"]
            metrics = http.get("/metrics").text
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("modelyard_serving_requests_total{") and 'code="200"' in line
        )
        assert total == 20  # every worker's count, whichever worker answered the scrape
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode()
    assert "Serving credit: credit-default v1" in out
    captured = scan(tmp_path / "predictions", "credit").to_arrow_table()
    assert sorted(captured.column("prediction_id").to_pylist()) == sorted(ids)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runtime_entry_point_reports_a_missing_spec_without_a_traceback(tmp_path: Path, capsys) -> None:
    from modelyard.serving.runtime.__main__ import main

    assert main(["--spec", str(tmp_path / "nope.json")]) == 1
    assert "No deployment spec at" in capsys.readouterr().err
