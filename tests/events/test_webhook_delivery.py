"""Delivering webhooks to a real HTTP receiver: signatures, retries, redirects, SSRF at send time."""

from __future__ import annotations

import threading

import orjson
import pytest
from webhook_receiver import Receiver, prepare_event_tables

from modelyard.core.ids import now_ms
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.events.delivery import WebhookDispatcher, retry_delay_ms, verify_signature
from modelyard.events.service import record_event
from modelyard.events.webhooks import WebhookService
from modelyard.projects.service import ProjectService


@pytest.fixture(autouse=True)
def _tables(store: Store) -> None:
    prepare_event_tables(store)


@pytest.fixture
def allowed(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", allow_private_webhooks=True)


@pytest.fixture
def project_id(store: Store, project: str) -> str:
    return ProjectService(store.db).create_project(name=project).id


def _record(store: Store, project_id: str | None, type: str = "model_version.created") -> int:
    with store.db.write() as conn:
        return record_event(
            conn,
            type=type,
            project_id=project_id,
            subject_type="model_version",
            subject_id="v1",
            actor="ann",
            payload={"version": 1, "token": "must-not-leak"},
        )


def test_event_is_posted_signed_and_marked_delivered(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver() as rx:
        hook, secret = hooks.create_webhook(url=rx.url + "/in", project_id=project_id)
        event_id = _record(store, project_id)
        assert hooks.list_deliveries(hook.id)[0].status == "pending"
        assert dispatcher.deliver_due() == 1
        assert dispatcher.deliver_due() == 0  # nothing left to send
        dispatcher.stop()
    [req] = rx.requests
    assert (req.method, req.path) == ("POST", "/in")
    [delivery] = hooks.list_deliveries(hook.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.last_error is None

    h = req.headers
    assert h["content-type"] == "application/json"
    assert h["x-modelyard-event"] == "model_version.created"
    assert h["x-modelyard-delivery"] == str(delivery.id)
    body = orjson.loads(req.body)
    assert body == {
        "id": event_id,
        "type": "model_version.created",
        "created_at": body["created_at"],
        "project_id": project_id,
        "subject": {"type": "model_version", "id": "v1"},
        "actor": "ann",
        "payload": {"version": 1},
    }
    assert abs(int(h["x-modelyard-timestamp"]) * 1000 - now_ms()) < 60_000
    sig = h["x-modelyard-signature"]
    assert sig.startswith("sha256=")
    assert verify_signature(secret, h["x-modelyard-timestamp"], req.body, sig, max_age_s=300)
    assert not verify_signature("wrong-secret-wrong-secret", h["x-modelyard-timestamp"], req.body, sig)
    assert not verify_signature(secret, h["x-modelyard-timestamp"], req.body + b" ", sig)
    assert not verify_signature(secret, "1", req.body, sig)
    assert secret.encode() not in req.body and secret not in str(req.headers)


def test_receiver_failing_twice_gets_it_on_the_third_try(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver(fail_first=2, fail_status=500) as rx:
        hook, _ = hooks.create_webhook(url=rx.url, project_id=project_id)
        _record(store, project_id)
        t0 = now_ms()
        assert dispatcher.deliver_due(t0) == 1
        [d] = hooks.list_deliveries(hook.id)
        assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 500)
        assert d.next_attempt_at == t0 + 10_000 and "500" in d.last_error
        assert dispatcher.deliver_due(t0 + 9_999) == 0  # backing off
        assert dispatcher.deliver_due(t0 + 10_000) == 1
        assert hooks.list_deliveries(hook.id)[0].next_attempt_at == t0 + 10_000 + 20_000
        assert dispatcher.deliver_due(t0 + 30_000) == 1
        dispatcher.stop()
    [d] = hooks.list_deliveries(hook.id)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("delivered", 3, 200, None)
    assert len(rx.requests) == 3
    assert len({r.headers["x-modelyard-delivery"] for r in rx.requests}) == 1  # same id: receivers dedupe


def test_receiver_that_always_fails_ends_failed(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver(fail_first=-1, fail_status=503) as rx:
        hook, _ = hooks.create_webhook(url=rx.url, project_id=project_id)
        _record(store, project_id)
        t = now_ms()
        for _ in range(8):
            assert dispatcher.deliver_due(t) == 1
            t += retry_delay_ms(8)
        assert dispatcher.deliver_due(t + 10**9) == 0
        dispatcher.stop()
    [d] = hooks.list_deliveries(hook.id)
    assert (d.status, d.attempts, d.last_status_code) == ("failed", 8, 503)
    assert "503" in d.last_error
    assert len(rx.requests) == 8


def test_retry_schedule_doubles_and_caps_at_an_hour() -> None:
    assert [retry_delay_ms(n) // 1000 for n in range(1, 11)] == [
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
    ]


def test_redirect_is_a_failure_and_is_not_followed(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver() as target, Receiver(redirect_to=None) as rx:
        rx.redirect_to = target.url + "/internal"
        hook, _ = hooks.create_webhook(url=rx.url, project_id=project_id)
        _record(store, project_id)
        assert dispatcher.deliver_due() == 1
        dispatcher.stop()
    [d] = hooks.list_deliveries(hook.id)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 302)
    assert "redirect" in d.last_error
    assert len(rx.requests) == 1
    assert target.requests == []


def test_host_that_is_private_at_send_time_is_refused(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)  # created while private targets were allowed
    strict = allowed.model_copy(update={"allow_private_webhooks": False})
    dispatcher = WebhookDispatcher(store.db, strict)
    with Receiver() as rx:
        hook, _ = hooks.create_webhook(url=rx.url, project_id=project_id)
        _record(store, project_id)
        assert dispatcher.deliver_due() == 1
        dispatcher.stop()
    assert rx.requests == []
    [d] = hooks.list_deliveries(hook.id)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, None)
    assert "MODELYARD_ALLOW_PRIVATE_WEBHOOKS" in d.last_error


def test_unreachable_receiver_is_a_failure_with_an_error(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver() as rx:
        url = rx.url
    hook, _ = hooks.create_webhook(url=url, project_id=project_id)  # nothing listens there any more
    _record(store, project_id)
    assert dispatcher.deliver_due() == 1
    dispatcher.stop()
    [d] = hooks.list_deliveries(hook.id)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, None)
    assert "Could not reach" in d.last_error


def test_two_dispatchers_never_send_a_delivery_twice(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    with Receiver(delay_s=0.05) as rx:
        hooks.create_webhook(url=rx.url, project_id=project_id)
        for _ in range(10):
            _record(store, project_id)
        dispatchers = [WebhookDispatcher(store.db, allowed) for _ in range(3)]
        counts: list[int] = []
        threads = [threading.Thread(target=lambda d=d: counts.append(d.deliver_due())) for d in dispatchers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for d in dispatchers:
            d.stop()
    assert sum(counts) == 10
    assert sorted(int(r.headers["x-modelyard-delivery"]) for r in rx.requests) == sorted(
        {int(r.headers["x-modelyard-delivery"]) for r in rx.requests}
    )
    assert len(rx.requests) == 10


def test_test_webhook_ignores_type_filters_and_reaches_only_that_webhook(
    store: Store, allowed: Settings, project_id: str
):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed)
    with Receiver() as rx, Receiver() as bystander:
        hook, secret = hooks.create_webhook(url=rx.url, project_id=project_id, event_types=["run.finished"])
        hooks.create_webhook(url=bystander.url, project_id=project_id)
        pending = hooks.test_webhook(hook.id, actor="ann")
        assert (pending.status, pending.event_type) == ("pending", "webhook.test")
        assert dispatcher.deliver_due() == 1
        dispatcher.stop()
    [req] = rx.requests
    assert req.headers["x-modelyard-event"] == "webhook.test"
    assert verify_signature(
        secret, req.headers["x-modelyard-timestamp"], req.body, req.headers["x-modelyard-signature"]
    )
    assert bystander.requests == []


def test_background_thread_delivers_on_its_own(store: Store, allowed: Settings, project_id: str):
    hooks = WebhookService(store.db, allowed)
    dispatcher = WebhookDispatcher(store.db, allowed, interval_s=0.05)
    with Receiver() as rx:
        hooks.create_webhook(url=rx.url, project_id=project_id)
        dispatcher.start()
        try:
            _record(store, project_id)
            assert len(rx.wait_for(1)) == 1
        finally:
            dispatcher.stop()
