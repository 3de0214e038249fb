"""Recording events: same transaction as the change, fan-out to matching webhooks, no secrets."""

from __future__ import annotations

import pytest
from webhook_receiver import prepare_event_tables

from modelyard.core.errors import InvalidArgument
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.events.service import EventService, is_sensitive_key, record_event, scrub_payload
from modelyard.events.webhooks import WebhookService
from modelyard.projects.service import ProjectService


@pytest.fixture(autouse=True)
def _tables(store: Store) -> None:
    prepare_event_tables(store)


@pytest.fixture
def hooks(store: Store, tmp_path) -> WebhookService:
    return WebhookService(store.db, Settings(home=tmp_path / "home", allow_private_webhooks=True))


def _record(store: Store, type: str, project_id: str | None, **payload) -> int:
    with store.db.write() as conn:
        return record_event(
            conn,
            type=type,
            project_id=project_id,
            subject_type="thing",
            subject_id="t1",
            actor="ann",
            payload=payload,
        )


def test_event_and_pending_delivery_commit_with_the_change(store: Store, hooks: WebhookService, project):
    proj = ProjectService(store.db).create_project(name=project)
    hook, _ = hooks.create_webhook(url="http://127.0.0.1:9/hook", project_id=proj.id)
    event_id = _record(store, "model_version.created", proj.id, version=3)

    [event] = EventService(store.db).list_events(project_id=proj.id, type="model_version.created")
    assert event.id == event_id and event.type == "model_version.created"
    assert (event.subject_type, event.subject_id, event.actor) == ("thing", "t1", "ann")
    assert event.payload == {"version": 3}
    [delivery] = hooks.list_deliveries(hook.id)
    assert (delivery.event_id, delivery.event_type, delivery.status, delivery.attempts) == (
        event_id,
        "model_version.created",
        "pending",
        0,
    )


def test_rolled_back_change_leaves_no_event_and_no_delivery(store: Store, hooks: WebhookService, project):
    proj = ProjectService(store.db).create_project(name=project)
    hook, _ = hooks.create_webhook(url="http://127.0.0.1:9/hook", project_id=proj.id)
    with pytest.raises(RuntimeError), store.db.write() as conn:
        record_event(
            conn,
            type="run.finished",
            project_id=proj.id,
            subject_type="run",
            subject_id="r",
            actor="ann",
            payload={},
        )
        raise RuntimeError("the state change failed")
    assert EventService(store.db).list_events(project_id=proj.id, type="run.finished") == []
    assert hooks.list_deliveries(hook.id) == []


def test_project_and_type_filters_pick_the_webhooks(store: Store, hooks: WebhookService, project):
    projects = ProjectService(store.db)
    p = projects.create_project(name=project)
    other = projects.create_project(name=project + "-other")
    url = "http://127.0.0.1:9/hook"
    everything = hooks.create_webhook(url=url, project_id=p.id)[0]
    versions_only = hooks.create_webhook(url=url, project_id=p.id, event_types=["model_version.*"])[0]
    exact = hooks.create_webhook(url=url, project_id=p.id, event_types=["model_version.deleted"])[0]
    other_project = hooks.create_webhook(url=url, project_id=other.id)[0]
    global_runs = hooks.create_webhook(url=url, event_types=["run.finished"])[0]

    e1 = _record(store, "model_version.created", p.id)
    e2 = _record(store, "run.finished", p.id)
    e3 = _record(store, "run.finished", None)
    e4 = _record(store, "model_versionx.created", p.id)

    def got(hook) -> list[int]:
        return sorted(d.event_id for d in hooks.list_deliveries(hook.id))

    assert got(everything) == [e1, e2, e4]
    assert got(versions_only) == [e1]
    assert got(exact) == []
    assert got(other_project) == []
    assert got(global_runs) == [e2, e3]


def test_deleted_webhook_gets_nothing_more(store: Store, hooks: WebhookService, project):
    p = ProjectService(store.db).create_project(name=project)
    hook, _ = hooks.create_webhook(url="http://127.0.0.1:9/hook", project_id=p.id)
    _record(store, "run.finished", p.id)
    hooks.delete_webhook(hook.id)
    _record(store, "run.finished", p.id)
    assert hooks.list_webhooks(p.id) == []
    with pytest.raises(Exception, match="No webhook"):
        hooks.list_deliveries(hook.id)


def test_secrets_are_stripped_from_payloads_at_any_depth(store: Store, project):
    p = ProjectService(store.db).create_project(name=project)
    _record(
        store,
        "source.added",
        p.id,
        name="m",
        api_token="t0k",
        Password="p",
        apiKey="k",
        secret="s",
        tokenizer="bert",
        nested={"clientSecret": "s", "ok": 1, "items": [{"db_password": "z", "keep": 2}]},
        AWS_SECRET_ACCESS_KEY="a",
        private_key="pk",
        authorization="Bearer x",
    )
    [event] = EventService(store.db).list_events(project_id=p.id, type="source.added")
    assert event.payload == {"name": "m", "tokenizer": "bert", "nested": {"ok": 1, "items": [{"keep": 2}]}}


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("token", True),
        ("refresh_token", True),
        ("accessToken", True),
        ("SECRET", True),
        ("db-password", True),
        ("api_key", True),
        ("x.secrets", True),
        ("tokenizer", False),
        ("name", False),
        ("key", False),
        ("monkey", False),
    ],
)
def test_sensitive_key_names(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive
    assert scrub_payload({key: 1}) == ({} if sensitive else {key: 1})


def test_list_events_filters_and_pages(store: Store, project):
    p = ProjectService(store.db).create_project(name=project)
    svc = EventService(store.db)
    base = max((e.id for e in svc.list_events(project_id=p.id)), default=0)  # e.g. project.created
    ids = [_record(store, t, p.id) for t in ("run.started", "run.finished", "model.created", "run_x.y")]
    _record(store, "run.started", None)
    assert [e.id for e in svc.list_events(project_id=p.id, after_id=base)] == ids
    assert [e.id for e in svc.list_events(project_id=p.id, type="run.*")] == ids[:2]
    assert [e.id for e in svc.list_events(project_id=p.id, type="model.created")] == ids[2:3]
    assert ids[-1] not in [
        e.id for e in svc.list_events(type="run.*", after_id=base)
    ]  # "run_x" is not "run."
    assert [e.id for e in svc.list_events(project_id=p.id, after_id=ids[0], limit=2)] == ids[1:3]
    with pytest.raises(InvalidArgument):
        svc.list_events(limit=0)


def test_bad_event_types_are_refused(hooks: WebhookService) -> None:
    for bad in (["Run Finished"], ["run.*.x"], ["*run"], ["x" * 101]):
        with pytest.raises(InvalidArgument, match="not valid"):
            hooks.create_webhook(url="http://127.0.0.1:9/", event_types=bad)
