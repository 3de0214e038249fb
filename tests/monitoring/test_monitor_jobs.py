"""What monitors do by themselves: cron schedules, alert e-mail over real SMTP, fairness and data
quality recorded as governance checks, and audit records for every alert."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select

from modelyard.audit.chain import verify_chain
from modelyard.audit.tables import audit_log
from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.governance.tables import check_results
from modelyard.monitoring.schemas import CreateAlertRule, CreateMonitor
from modelyard.monitoring.service import MonitorService
from modelyard.serving.predlog import CaptureWriter, write_actuals

FEATURES = ["x1", "x2"]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp() -> _Inbox:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting, so it needs a real port
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]  # type: ignore[attr-defined]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)  # type: ignore[attr-defined]
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def setup(store: Store, store_uri: str, tmp_path: Path, settings: Settings, project: str):
    client = Client(store_uri, artifacts_uri=str(tmp_path / "artifacts"), settings=settings)
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x1": rng.normal(size=2_000), "x2": rng.normal(size=2_000)})
    train["group"] = rng.choice(["a", "b"], 2_000)
    y = (train["x1"] > 0).astype(int)
    model = LogisticRegression().fit(train[FEATURES], y)
    run = client.create_run(client.get_or_create_experiment(project, "e").id)
    info = client.log_model(run.id, model, "model", input_example=train[FEATURES].head(2))
    version = client.register_model(info.uri, "fair", project=project, reference=train[[*FEATURES, "group"]])
    name = f"fair-{uuid.uuid4().hex[:8]}"
    client.create_deployment(name, f"models:/fair/{version.version}", project=project)
    yield client, name, version
    client.close()


def _traffic(settings: Settings, deployment: str, *, biased: bool, n: int = 1_000) -> list[str]:
    rng = np.random.default_rng(1)
    group = rng.choice(["a", "b"], n)
    x1 = rng.normal(size=n)
    # Biased: group b is almost never approved, whatever its inputs.
    approved = np.where((group == "b") & biased, 0, (x1 > 0).astype(int))
    ids = [uuid.uuid4().hex for _ in range(n)]
    writer = CaptureWriter(settings.resolved_predictions_uri).start()
    writer.submit(
        deployment=deployment,
        model="fair",
        version=1,
        variant="primary",
        prediction_ids=ids,
        features={"x1": x1.tolist(), "x2": rng.normal(size=n).tolist(), "group": group.tolist()},
        predictions=approved.tolist(),
        scores=approved.astype(float).tolist(),
        latency_ms=2.0,
        ts_ms=int(time.time() * 1000) - 60_000,
    )
    writer.stop()
    write_actuals(
        settings.resolved_predictions_uri,
        deployment,
        [{"prediction_id": i, "actual": int(v > 0)} for i, v in zip(ids, x1, strict=True)],
    )
    return ids


def test_fairness_breach_turns_red_and_is_recorded_for_governance(
    store: Store, settings: Settings, setup
) -> None:
    _, name, version = setup
    svc = MonitorService(store, settings)
    svc.create(name, CreateMonitor(name="fairness", window="1h", fairness={"attributes": ["group"]}))
    _traffic(settings, name, biased=True)
    run = svc.run(name, "fairness")
    assert run.health == "red"
    group = next(c for c in run.checks if c.check == "fairness" and c.name == "group")
    assert group.status == "fail" and group.value is not None and group.value < 0.8  # four-fifths rule
    with store.db.read() as conn:
        recorded = {
            r.name: r.passed
            for r in conn.execute(select(check_results).where(check_results.c.version_id == version.id))
        }
    assert recorded["fairness"] is False
    assert "data_quality" in recorded  # quality is judged on every run with a reference


def test_schedule_runs_due_monitors_and_sets_the_next_time(store: Store, settings: Settings, setup) -> None:
    _, name, _ = setup
    svc = MonitorService(store, settings)
    mon = svc.create(name, CreateMonitor(name="quarter-hourly", window="1h", schedule="*/15 * * * *"))
    assert mon.next_run_at is not None and mon.next_run_at > int(time.time() * 1000)
    assert svc.run_due(now=mon.next_run_at - 1) == 0  # not yet
    assert svc.run_due(now=mon.next_run_at) == 1
    runs = svc.runs(name, monitor="quarter-hourly")
    assert len(runs) == 1 and runs[0].trigger == "schedule"
    assert svc.get(name, "quarter-hourly").next_run_at > mon.next_run_at  # moved on


def test_alert_is_mailed_audited_and_resolved(store: Store, settings: Settings, setup, smtp: _Inbox) -> None:
    _, name, _ = setup
    mail = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port})  # type: ignore[attr-defined]
    svc = MonitorService(store, mail)
    svc.create(name, CreateMonitor(name="fairness", window="1h", fairness={"attributes": ["group"]}))
    svc.create_rule(
        name,
        CreateAlertRule(name="red", condition="health >= 2", severity="critical", email=["risk@bank.test"]),
    )
    _traffic(settings, name, biased=True)
    run = svc.run(name, "fairness")
    assert run.health == "red"
    assert len(smtp.messages) == 1
    rcpt, body = smtp.messages[0]
    assert rcpt == ["risk@bank.test"]
    assert f"FIRING: red on {name}" in body and "health >= 2" in body

    with store.db.read() as conn:
        actions = [
            r.action
            for r in conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("alert.%")))
        ]
    assert "alert.fired" in actions
    assert verify_chain(store.db).ok
