"""``modelyard monitor`` as a user runs it: a real embedded store, a real model, a real prediction log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.server.background import BackgroundServer
from modelyard.serving.predlog import CaptureWriter

PROJECT = "risk"
MODEL = "scorer"


@dataclass
class Env:
    uri: str
    home: Path
    deployment: str  # drifted traffic on feature "a"
    broken: str  # a deployment whose prediction log holds a corrupt segment


def _frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 3))
    values[:, 0] += shift
    return pd.DataFrame(values, columns=["a", "b", "c"])


def _capture(
    root: str, deployment: str, version: int, frame: pd.DataFrame, model: LogisticRegression
) -> None:
    """What the serving runtime would have logged over the last few minutes."""
    scores = model.predict_proba(frame)[:, 1]
    now = int(time.time() * 1000)
    writer = CaptureWriter(root, flush_s=60).start()
    for k in range(0, len(frame), 50):
        part = frame.iloc[k : k + 50]
        writer.submit(
            deployment=deployment,
            model=MODEL,
            version=version,
            variant="primary",
            prediction_ids=[f"{deployment}-{k + i}" for i in range(len(part))],
            features={c: part[c].tolist() for c in part.columns},
            predictions=(scores[k : k + 50] > 0.5).astype(int).astype(str).tolist(),
            scores=scores[k : k + 50].tolist(),
            latency_ms=3.0 + k / 100,
            ts_ms=now - 600_000 + k,
        )
    writer.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("monitor-cli")
    home = tmp / "home"
    uri = f"sqlite:///{tmp / 'modelyard.db'}"
    settings = Settings(home=home)
    ref = _frame(1000, 0.0, 0)
    y = (ref["a"] + np.random.default_rng(1).normal(scale=0.5, size=len(ref)) > 0).astype(int)
    model = LogisticRegression().fit(ref, y)
    with Client(uri, settings=settings) as client:  # artifacts beside the database, where the CLI looks
        experiment = client.get_or_create_experiment(PROJECT, "train")
        client.create_registered_model(MODEL, project=PROJECT, risk_tier="medium")
        run = client.create_run(experiment.id)
        client.flush()
        info = client.log_model(run.id, model, "model", input_example=ref.head(3))
        version = client.register_model(info.uri, MODEL, project=PROJECT).version
        reference = ref.assign(y=y.astype(str), score=model.predict_proba(ref)[:, 1])
        client.set_reference(MODEL, version, reference, target="y", prediction="score", project=PROJECT)
        for name in ("credit", "broken"):
            client.create_deployment(name, f"models:/{MODEL}/{version}", project=PROJECT)
    root = settings.resolved_predictions_uri
    _capture(root, "credit", version, _frame(400, 1.5, 2), model)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    bad = Path(root) / "broken" / "predictions" / f"date={day}"
    bad.mkdir(parents=True)
    (bad / "0000000000000-1-x-000001.parquet").write_bytes(b"not a parquet file at all, just text" * 4)
    yield Env(uri=uri, home=home, deployment="credit", broken="broken")


def cli(env: Env, *args: str, uri: str | None = None) -> tuple[int, str]:
    """Run ``modelyard monitor ...`` on the test store; the exit code and everything printed."""
    result = CliRunner().invoke(
        app,
        ["monitor", *args, "--uri", uri or env.uri],
        env={"MODELYARD_HOME": str(env.home), "COLUMNS": "220", "MODELYARD_TRACKING_URI": None},
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _row(out: str, *words: str) -> str:
    return next(line for line in out.splitlines() if all(f" {w} " in f" {line} " for w in words))


def test_run_prints_health_and_checks_and_exits_by_health(env: Env) -> None:
    code, out = cli(env, "run", env.deployment)
    assert code == 0, out  # yellow: one feature of three drifted, the data set did not
    assert out.splitlines()[0].startswith("credit / default: YELLOW  400 rows, window 24h, model scorer v1")
    assert "warn" in _row(out, "drift", "a") and "ks" in _row(out, "drift", "a")
    assert "ok" in _row(out, "drift", "b")
    dataset = _row(out, "drift", "dataset")
    assert "1 of 3 features drifted" in dataset and "0.3333" in dataset and "0.5" in dataset
    assert "ok" in _row(out, "service", "latency_p99_ms")

    spec = env.home.parent / "strict.yaml"
    spec.write_text("window: 1h\nmin_rows: 50\ndrift:\n  share_threshold: 0.3\n")
    code, out = cli(env, "create", env.deployment, "--name", "strict", "--spec", str(spec), "--window", "2h")
    assert code == 0 and "Monitor strict on credit created: window 2h" in out, out
    code, out = cli(env, "run", env.deployment, "--monitor", "strict")
    assert code == 2, out  # red: the data set drifted at this monitor's 0.3
    assert "RED" in out.splitlines()[0] and "fail" in _row(out, "drift", "dataset")
    code, out = cli(env, "run", env.deployment, "-m", "strict", "--fail-on", "never", "--json")
    assert code == 0
    run = json.loads(out)
    assert run["health"] == "red" and run["monitor"] == "strict" and run["rows"] == 400
    assert run["result"]["values"]["drift.share"] == pytest.approx(1 / 3)

    code, out = cli(env, "list", env.deployment)
    assert code == 0
    assert "RED" in _row(out, "strict") and "2h" in _row(out, "strict") and "YELLOW" in _row(out, "default")


def test_alert_rules_fire_and_show_in_alerts_and_health(env: Env) -> None:
    code, out = cli(env, "alert-rule", "add", env.deployment, "drifting", "--when", "drift.share >= 0.3",
                    "--severity", "critical", "--email", "risk@example.com")  # fmt: skip
    assert code == 0 and "Alert rule drifting on credit: drift.share >= 0.3 (critical)." in out, out
    code, out = cli(env, "alert-rule", "list", env.deployment)
    assert "drift.share >= 0.3" in _row(out, "drifting") and "risk@example.com" in _row(out, "drifting")
    assert cli(env, "run", env.deployment, "--fail-on", "never")[0] == 0

    code, out = cli(env, "alerts", env.deployment, "--state", "firing")
    assert code == 0
    row = _row(out, "drifting")
    assert "critical" in row and "firing" in row and "0.3333" in row
    assert cli(env, "alerts", env.deployment, "--state", "resolved")[1].count("drifting") == 0

    code, out = cli(env, "health", env.deployment, "--json", "--fail-on", "never")
    health = json.loads(out)
    assert code == 0 and health["firing_alerts"] >= 1 and health["monitors"]["default"] == "yellow"

    code, out = cli(env, "alert-rule", "remove", env.deployment, "drifting")
    assert code == 0 and "removed" in out
    code, out = cli(env, "alert-rule", "add", env.deployment, "bad", "--when", "drift.share is big")
    assert code == 1 and "Error:" in out and "is not valid" in out


def test_history_health_and_report(env: Env, tmp_path: Path) -> None:
    assert cli(env, "run", env.deployment, "--window", "30m")[0] == 0
    code, out = cli(env, "history", env.deployment, "--limit", "50")
    assert code == 0
    default_rows = [line for line in out.splitlines() if " default " in line]
    assert default_rows and all("400" in line and "1/3" in line for line in default_rows)
    assert "30m" in default_rows[0]  # newest first

    code, out = cli(env, "health", env.deployment)
    worst = "RED" if "strict: RED" in out else "YELLOW"  # the strict monitor, when another test made it
    assert code == (2 if worst == "RED" else 0) and out.startswith(f"credit: {worst}")
    assert "default: YELLOW" in out

    html = tmp_path / "report.html"
    code, out = cli(env, "report", env.deployment, "--html", str(html), "--limit", "20")
    assert code == 0 and "written to" in out, out
    page = html.read_text()
    assert "<title>Monitoring report: credit</title>" in page and "scorer v1" in page
    assert "<svg" in page and "<script" not in page
    assert (
        len(re.findall(r"<figcaption><strong>a</strong>", page)) == 2
    )  # drift over time + reference vs current


def test_failed_runs_and_domain_errors_exit_1(env: Env) -> None:
    code, out = cli(env, "run", env.broken)
    assert code == 1
    assert "broken / default: FAILED" in out and "Error: the monitor run failed:" in out
    code, out = cli(env, "history", env.broken)
    assert "FAILED" in out

    code, out = cli(env, "run", "no-such-deployment")
    assert code == 1 and "No deployment named 'no-such-deployment'" in out
    code, out = cli(env, "history", "no-such-deployment")
    assert code == 1 and "No deployment named" in out
    code, out = cli(env, "run", env.deployment, "--window", "5 fortnights")
    assert code == 1 and "Window '5 fortnights' is not valid" in out
    code, out = cli(env, "create", env.deployment, "--schedule", "every tuesday")
    assert code == 1 and "not a valid cron expression" in out


def test_the_same_commands_work_against_a_server(env: Env, tmp_path: Path) -> None:
    store = Store.open(env.uri, str(Path(env.uri.removeprefix("sqlite:///")).parent / "modelyard-artifacts"))
    server = BackgroundServer(store, Settings(home=env.home)).start()
    try:
        code, out = cli(env, "run", env.deployment, "--window", "45m", uri=server.url)
        assert code == 0 and "credit / default: YELLOW  400 rows, window 45m" in out, out
        html = tmp_path / "remote.html"
        code, out = cli(env, "report", env.deployment, "--html", str(html), uri=server.url)
        assert code == 0, out
        assert "45m" in html.read_text() and "<svg" in html.read_text()
        served = httpx.get(f"{server.url}/api/v1/deployments/{env.deployment}/report?limit=5")
        assert served.status_code == 200 and served.headers["content-security-policy"].startswith(
            "default-src 'none'"
        )
        assert "<title>Monitoring report: credit</title>" in served.text and "<script" not in served.text
        code, out = cli(env, "run", "no-such-deployment", uri=server.url)
        assert code == 1 and "No deployment named 'no-such-deployment'" in out
    finally:
        server.stop()
        store.close()
