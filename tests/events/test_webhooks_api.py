"""The events and webhooks REST API over real HTTP, delivering through the server's own dispatcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from webhook_receiver import Receiver, prepare_event_tables

from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.events.delivery import verify_signature
from modelyard.events.service import record_event


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """This module's server may call the loopback receiver."""
    return Settings(home=tmp_path / "home", heartbeat_interval_s=0.5, allow_private_webhooks=True)


@pytest.fixture
def http(store: Store, live_server) -> Iterator[httpx.Client]:
    prepare_event_tables(store)
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        yield c


def test_secret_is_shown_once_and_never_listed(http: httpx.Client, project: str) -> None:
    assert http.post("/api/v1/projects", json={"name": project}).status_code == 201
    r = http.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/in", "project": project, "event_types": ["model_version.*"]},
    )
    assert r.status_code == 201
    created = r.json()
    secret = created["secret"]
    assert len(secret) >= 40
    assert created["event_types"] == ["model_version.*"] and created["active"] is True

    listed = http.get("/api/v1/webhooks", params={"project": project}).json()
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert secret not in http.get("/api/v1/webhooks", params={"project": project}).text
    assert secret not in http.get(f"/api/v1/webhooks/{created['id']}/deliveries").text
    assert secret not in http.get("/api/v1/webhooks").text  # global listing

    assert http.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert http.get("/api/v1/webhooks", params={"project": project}).json() == []
    assert http.delete(f"/api/v1/webhooks/{created['id']}").json()["error"]["code"] == "NOT_FOUND"


def test_test_endpoint_delivers_through_the_running_server(http: httpx.Client, project: str) -> None:
    with Receiver() as rx:
        created = http.post("/api/v1/webhooks", json={"url": rx.url + "/hook", "secret": "s" * 32}).json()
        assert created["project_id"] is None and created["secret"] == "s" * 32
        r = http.post(f"/api/v1/webhooks/{created['id']}/test")
        assert r.status_code == 202 and r.json()["status"] == "pending"
        [req] = rx.wait_for(1)
    assert verify_signature(
        "s" * 32, req.headers["x-modelyard-timestamp"], req.body, req.headers["x-modelyard-signature"]
    )
    deliveries = http.get(f"/api/v1/webhooks/{created['id']}/deliveries").json()
    for _ in range(50):  # the dispatcher records the result just after the receiver answers
        if deliveries[0]["status"] == "delivered":
            break
        deliveries = http.get(f"/api/v1/webhooks/{created['id']}/deliveries").json()
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["event_type"] == "webhook.test"
    events = http.get("/api/v1/events", params={"type": "webhook.test", "limit": 1000}).json()
    assert created["id"] in {e["subject_id"] for e in events}


def test_list_events_by_project_type_and_cursor(http: httpx.Client, store: Store, project: str) -> None:
    pid = http.post("/api/v1/projects", json={"name": project}).json()["id"]
    base = max((e["id"] for e in http.get("/api/v1/events", params={"project": pid}).json()), default=0)
    with store.db.write() as conn:
        ids = [
            record_event(
                conn, type=t, project_id=pid, subject_type="run", subject_id="r", actor="a", payload={"n": i}
            )
            for i, t in enumerate(["run.started", "run.finished", "model.created"])
        ]
    got = http.get("/api/v1/events", params={"project": project, "after_id": base}).json()
    assert [e["id"] for e in got] == ids and got[0]["payload"] == {"n": 0}
    assert [
        e["id"] for e in http.get("/api/v1/events", params={"project": pid, "type": "run.*"}).json()
    ] == ids[:2]
    after = http.get("/api/v1/events", params={"project": project, "after_id": ids[0], "limit": 1}).json()
    assert [e["id"] for e in after] == ids[1:2]
    assert http.get("/api/v1/events", params={"project": "no-such-project"}).status_code == 404
    assert http.get("/api/v1/events", params={"limit": 0}).status_code == 400


def test_bad_requests_get_clear_errors(http: httpx.Client) -> None:
    r = http.post("/api/v1/webhooks", json={"url": "http://user:pw@127.0.0.1/"})
    assert r.status_code == 400 and "credentials" in r.json()["error"]["message"]
    r = http.post("/api/v1/webhooks", json={"url": "http://127.0.0.1/", "project": "no-such-project"})
    assert r.status_code == 404
    r = http.post("/api/v1/webhooks", json={"url": "http://127.0.0.1/", "secret": "short"})
    assert r.status_code == 400
    assert http.post("/api/v1/webhooks/nope/test").status_code == 404
    assert http.get("/api/v1/webhooks/nope/deliveries").status_code == 404
