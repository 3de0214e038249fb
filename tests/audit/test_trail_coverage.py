"""Every state-changing SDK call lands on the audit trail, naming who did it (embedded mode)."""

from __future__ import annotations

import getpass
from pathlib import Path

from modelyard import Client
from modelyard.audit.chain import verify_chain
from modelyard.audit.tables import audit_log
from modelyard.core.store import Store


def test_embedded_changes_are_audited_under_the_os_user(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'a.db'}"
    client = Client(uri, artifacts_uri=str(tmp_path / "art"))
    run = client.create_run(client.get_or_create_experiment("p", "e").id)
    client.log_batch(
        run.id, metrics=[{"key": "auc", "value": 0.9}], params={"lr": "0.1", "api_token": "s3cr3t"}
    )
    client.log_text(run.id, "hello", "notes.txt")
    client.set_terminated(run.id)
    client.delete_run(run.id)
    client.close()

    store = Store.open(uri, str(tmp_path / "art"))
    with store.db.read() as conn:
        rows = conn.execute(audit_log.select().order_by(audit_log.c.seq)).mappings().all()
    actions = [r["action"] for r in rows]
    for expected in (
        "project.created",
        "experiment.created",
        "run.created",
        "run.logged",
        "run.artifact_written",
        "run.updated",
        "run.deleted",
    ):
        assert expected in actions, expected
    assert {r["actor"] for r in rows} == {getpass.getuser()}
    assert all(r["client_address"] == "local" for r in rows)
    logged = next(r for r in rows if r["action"] == "run.logged")
    assert logged["summary"]["params"]["lr"] == "0.1" and "s3cr3t" not in str(logged["summary"])
    assert verify_chain(store.db).ok
    store.close()
