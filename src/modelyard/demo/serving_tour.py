"""The demo's serving and monitoring tour.

1. ``champion`` is deployed as ``credit`` (a production deployment: the low-risk champion
   passed governance when it was promoted) and served by the real serving process.
2. Traffic arrives, part of it drifted (lower incomes, fuller credit lines); a challenger is
   added as a shadow and scores the same requests without answering them.
3. Ground truth comes back for part of the traffic.
4. A monitor judges the window: drift per feature, accuracy of champion and challenger,
   the label-free estimate, latency; an alert fires; an HTML report is written.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

import modelyard as my
from modelyard.core.errors import AlreadyExists, NotFound
from modelyard.core.settings import get_settings
from modelyard.demo.data import TARGET
from modelyard.server.background import BackgroundServer

DEPLOYMENT = "credit"
REQUEST_ROWS = 10
DRIFTED_SHARE = 0.4


def drift(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A copy of ``frame`` where ``share`` of the applicants earn less and use more of their credit."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    hit = rng.random(len(out)) < share
    out.loc[hit, "income"] = (out.loc[hit, "income"] * 0.5).round(-2)
    out.loc[hit, "credit_utilization"] = np.clip(out.loc[hit, "credit_utilization"] + 0.35, 0, 1)
    return out


def serving_tour(
    out: Console, project: str, model_name: str, challenger_run_id: str, traffic: pd.DataFrame
) -> dict[str, Any]:
    """Deploy, serve, shadow, post actuals and monitor; returns what the monitor found."""
    from modelyard.serving.runtime.server import RuntimeConfig, build_app

    client = my.get_client()
    settings = get_settings()
    challenger = client.register_model(f"runs:/{challenger_run_id}/model", model_name, project=project)
    with contextlib.suppress(NotFound):
        client.delete_deployment(DEPLOYMENT)
    client.create_deployment(
        DEPLOYMENT,
        f"models:/{model_name}@champion",
        project=project,
        production=True,
        humility=[{"rule": "uncertain", "low": 0.45, "high": 0.55}, {"rule": "out_of_range"}],
    )
    with contextlib.suppress(AlreadyExists):
        client.create_alert_rule(DEPLOYMENT, "drift", "drift.share >= 0.2", severity="critical")
    config = RuntimeConfig.with_settings(
        settings.model_copy(update={"serve_poll_s": 0.5, "capture_flush_s": 1.0}),
        uri=client.uri,
        deployment=DEPLOYMENT,
    )
    features = traffic.drop(columns=TARGET)
    first, second = features.iloc[: len(features) // 2], features.iloc[len(features) // 2 :]
    with (
        BackgroundServer(app=build_app(config)) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        _wait(http, "/ready", lambda r: r.status_code == 200)
        out.print(
            f"\n[bold]Serving[/]: deployment [bold]{DEPLOYMENT}[/] (production) answers at "
            f"{server.url}/v1/deployments/{DEPLOYMENT}/predict from {model_name}@champion.",
            highlight=False,
        )
        ids = _send(http, drift(first, DRIFTED_SHARE, seed=1))
        client.update_deployment(
            DEPLOYMENT,
            reason="watch the next model on live traffic",
            variants=[
                {
                    "name": "challenger",
                    "model_uri": f"models:/{model_name}/{challenger.version}",
                    "mode": "shadow",
                }
            ],
        )
        _wait(http, "/v1/deployments", lambda r: "challenger" in r.text)
        ids += _send(http, drift(second, DRIFTED_SHARE, seed=2))
        labelled = int(len(ids) * 0.6)
        actuals = [
            {"prediction_id": i, "actual": int(y)}
            for i, y in zip(ids[:labelled], traffic[TARGET], strict=False)
        ]
        resp = http.post(f"/v1/deployments/{DEPLOYMENT}/actuals", json={"actuals": actuals})
        resp.raise_for_status()
        counted = _metric(http.get("/metrics").text, "modelyard_serving_requests_total")
    out.print(
        f"  Sent {len(ids):,} applications in {len(ids) // REQUEST_ROWS:,} requests "
        f"({DRIFTED_SHARE:.0%} of them drifted); shadow challenger v{challenger.version} scored the "
        f"second half; ground truth posted for {labelled:,}. The serving process counted "
        f"{counted:,.0f} requests (Prometheus metrics at /metrics).",
        highlight=False,
    )
    return _monitor(out, client, settings.home)


def _send(http: httpx.Client, frame: pd.DataFrame) -> list[str]:
    ids: list[str] = []
    records = frame.to_dict("records")
    for start in range(0, len(records), REQUEST_ROWS):
        resp = http.post(
            f"/v1/deployments/{DEPLOYMENT}/predict", json={"inputs": records[start : start + REQUEST_ROWS]}
        )
        resp.raise_for_status()
        ids += resp.json()["prediction_ids"]
    return ids


def _wait(http: httpx.Client, path: str, ok: Any, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if ok(http.get(path)):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"The serving process did not get ready ({path}).")
        time.sleep(0.2)


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _monitor(out: Console, client: Any, home: Path) -> dict[str, Any]:
    from modelyard.monitoring.report import render_report
    from modelyard.serving.predlog import compare_variants

    run = client.run_monitor(DEPLOYMENT, window="1h")
    table = Table(title=f"Monitor of {DEPLOYMENT}: health {run.health.upper()}", title_justify="left")
    for col in ("check", "name", "status", "value", "threshold", "detail"):
        table.add_column(col)
    for c in run.checks:
        if c.status != "ok" or c.check in ("performance", "estimate", "service"):
            value = "" if c.value is None else f"{c.value:.4g}"
            threshold = "" if c.threshold is None else f"{c.threshold:g}"
            table.add_row(c.check, c.name, c.status, value, threshold, c.detail[:60])
    out.print(table)
    variants = compare_variants(get_settings().resolved_predictions_uri, DEPLOYMENT)["variants"]
    accuracy = {name: v.get("accuracy") for name, v in variants.items() if v.get("with_actuals")}
    shown = ", ".join(f"{n} {a:.3f}" for n, a in accuracy.items() if a is not None)
    estimate = run.values.get("estimate.accuracy")
    out.print(
        f"  Accuracy once ground truth arrived: {shown}"
        + (f" (the label-free estimate had said {estimate:.3f})." if estimate is not None else "."),
        highlight=False,
    )
    alerts = client.list_alerts(DEPLOYMENT, state="firing")
    for alert in alerts:
        out.print(f"  [bold red]Alert[/]: {alert.message}", highlight=False)
    report = home / "reports" / f"{DEPLOYMENT}-monitoring.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        render_report(DEPLOYMENT, client.monitor_runs(DEPLOYMENT), client.deployment_health(DEPLOYMENT))
    )
    out.print(
        f"  Report: {report}\n"
        f"  Serve it yourself: modelyard serve --deployment {DEPLOYMENT}   "
        f"(then POST /v1/deployments/{DEPLOYMENT}/predict)\n"
        f"  modelyard monitor run {DEPLOYMENT} --window 24h; modelyard deployments show {DEPLOYMENT}",
        highlight=False,
    )
    return {
        "health": run.health,
        "drifted": [c.name for c in run.checks if c.check == "drift" and c.status == "warn"],
        "accuracy": accuracy,
        "alerts": [a.rule for a in alerts],
        "rows": run.rows,
        "report": str(report),
    }
