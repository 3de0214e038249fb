"""Monitors end to end: a deployed model, a reference profile, captured traffic in the prediction
log, and what a user sees: health, drifted features, accuracy once actuals arrive, alerts that
fire once and resolve, governance checks recorded, schedules that run by themselves.

Runs embedded and remote, on SQLite and PostgreSQL (the ``client`` fixture).
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.client.client import Client
from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.core.settings import Settings
from modelyard.serving.predlog import CaptureWriter, write_actuals

FEATURES = ["income", "debt", "age"]


def _data(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "income": rng.normal(50 + shift * 10, 10, n),
            "debt": rng.normal(20, 5, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["north", "south"], n),
        }
    )
    df["label"] = ((df["debt"] - df["income"] / 3 + rng.normal(0, 2, n)) > 3).astype(int)
    return df


@pytest.fixture
def deployed(client: Client, project: str) -> tuple[Client, str, LogisticRegression]:
    train = _data(4_000, 0)
    model = LogisticRegression(max_iter=500).fit(train[FEATURES], train["label"])
    experiment = client.get_or_create_experiment(project, "train")
    run = client.create_run(experiment.id)
    info = client.log_model(run.id, model, "model", input_example=train[FEATURES].head(3))
    reference = train.assign(score=model.predict_proba(train[FEATURES])[:, 1])
    version = client.register_model(
        info.uri,
        "credit",
        project=project,
        reference=reference[[*FEATURES, "label", "score"]],
        reference_target="label",
        reference_prediction="score",
    )
    name = f"credit-{uuid.uuid4().hex[:8]}"
    client.create_deployment(name, f"models:/credit/{version.version}", project=project)
    return client, name, model


def _serve(
    settings: Settings, deployment: str, model: LogisticRegression, df: pd.DataFrame, *, ago_ms: int = 60_000
) -> list[str]:
    """Write ``df``'s predictions to the prediction log the way the serving process does."""
    scores = model.predict_proba(df[FEATURES])[:, 1]
    ids = [uuid.uuid4().hex for _ in range(len(df))]
    writer = CaptureWriter(settings.resolved_predictions_uri).start()
    now = int(time.time() * 1000)
    for start in range(0, len(df), 500):
        part = slice(start, start + 500)
        assert writer.submit(
            deployment=deployment,
            model="credit",
            version=1,
            variant="primary",
            prediction_ids=ids[part],
            features={c: df[c].iloc[part].tolist() for c in [*FEATURES, "region"]},
            predictions=(scores[part] >= 0.5).astype(int).tolist(),
            scores=scores[part].tolist(),
            latency_ms=1.5,
            ts_ms=now - ago_ms,
        )
    assert writer.stop()
    return ids


def test_quiet_traffic_is_green_and_drifted_traffic_is_red(deployed, settings: Settings) -> None:
    client, name, model = deployed
    _serve(settings, name, model, _data(3_000, 1))
    calm = client.run_monitor(name, window="1h")
    assert calm.health == "green", [c for c in calm.checks if c.status != "ok"]
    assert calm.rows == 3_000
    assert not [c for c in calm.checks if c.check == "drift" and c.status != "ok"]
    assert calm.values["service.latency_p99_ms"] == pytest.approx(1.5)
    assert 0.5 < calm.values["estimate.accuracy"] <= 1.0  # label-free estimate, before any actuals

    _serve(settings, name, model, _data(3_000, 2, shift=3.0))  # income shifts by three std devs
    drifted = client.run_monitor(name, window="1h")
    flagged = {c.name for c in drifted.checks if c.check == "drift" and c.status == "warn"}
    assert "income" in flagged and "debt" not in flagged and "age" not in flagged
    assert drifted.values["drift.share"] == pytest.approx(1 / 3)
    assert client.deployment_health(name).health in ("yellow", "red")
    assert [r.id for r in client.monitor_runs(name)] == [drifted.id, calm.id]


def test_accuracy_once_actuals_arrive(deployed, settings: Settings) -> None:
    client, name, model = deployed
    df = _data(2_000, 3)
    ids = _serve(settings, name, model, df)
    before = client.run_monitor(name, window="1h")
    assert any(c.check == "performance" and c.status == "skipped" for c in before.checks)

    write_actuals(
        settings.resolved_predictions_uri,
        name,
        [
            {"prediction_id": i, "actual": int(y)}
            for i, y in zip(ids[:1_500], df["label"][:1_500], strict=True)
        ],
    )
    client.create_monitor(name, "accuracy", window="1h", performance={"minimum": {"accuracy": 0.99}})
    after = client.run_monitor(name, "accuracy")
    expected = float((model.predict(df[FEATURES][:1_500]) == df["label"][:1_500]).mean())
    assert after.result["performance"]["rows_with_actuals"] == 1_500
    assert after.values["performance.accuracy"] == pytest.approx(expected, abs=1e-9)
    assert after.health == "red"  # the 0.99 minimum is not met
    failing = [c for c in after.checks if c.status == "fail"]
    assert failing and failing[0].name == "accuracy" and failing[0].threshold == 0.99
    target = next(c for c in after.checks if c.check == "drift" and c.name == "target")
    assert target.status == "ok" and "label shift" in target.detail  # same label mix as the reference


def test_label_shift_is_flagged_once_actuals_arrive(deployed, settings: Settings) -> None:
    client, name, model = deployed
    df = _data(2_000, 6)
    ids = _serve(settings, name, model, df)
    # The world changed: four in five applicants now default, whatever the inputs said.
    rng = np.random.default_rng(7)
    write_actuals(
        settings.resolved_predictions_uri,
        name,
        [{"prediction_id": i, "actual": int(rng.random() < 0.8)} for i in ids],
    )
    run = client.run_monitor(name, window="1h")
    target = next(c for c in run.checks if c.check == "drift" and c.name == "target")
    assert target.status == "warn" and run.values["drift.target"] == target.value
    features = [c for c in run.checks if c.check == "drift" and c.name in FEATURES]
    assert features and all(c.status == "ok" for c in features)  # the inputs did not move


def test_alert_fires_once_then_resolves(deployed, settings: Settings) -> None:
    client, name, model = deployed
    client.create_alert_rule(name, "income-drift", "drift.income >= 0.2", severity="critical")
    with pytest.raises(InvalidArgument, match="not valid"):
        client.create_alert_rule(name, "bad", "drift.income is large")

    _serve(settings, name, model, _data(2_000, 4, shift=3.0), ago_ms=90 * 60_000)
    client.run_monitor(name, window="2h")
    client.run_monitor(name, window="2h")  # still drifted: the same alert, not a second one
    firing = client.list_alerts(name, state="firing")
    assert len(firing) == 1 and firing[0].count == 2 and firing[0].severity == "critical"
    assert firing[0].value >= 0.2
    assert client.deployment_health(name).firing_alerts == 1

    _serve(settings, name, model, _data(2_000, 5), ago_ms=60_000)
    client.run_monitor(name, window="30m")  # only the calm traffic is in this window
    assert client.list_alerts(name, state="firing") == []
    resolved = client.list_alerts(name, state="resolved")
    assert len(resolved) == 1 and resolved[0].id == firing[0].id and resolved[0].resolved_at is not None


def test_unknown_health_without_enough_rows_and_errors_for_bad_input(deployed) -> None:
    client, name, _ = deployed
    run = client.run_monitor(name, window="1h")
    assert run.health == "unknown" and run.rows == 0
    with pytest.raises(InvalidArgument, match="Window"):
        client.run_monitor(name, window="yesterday")
    with pytest.raises(NotFound, match="No deployment"):
        client.run_monitor("no-such-deployment")
    with pytest.raises(InvalidArgument, match="cron"):
        client.create_monitor(name, "hourly", schedule="every hour")
