"""The audit trail as a regulator sees it: intact chains verify, every kind of tampering is named.

Tampering is done the way an attacker with database access would: raw SQL and direct
inserts that bypass ``append_audit``. On PostgreSQL the module uses its own database, and
every test starts from an empty chain.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from modelyard.audit import chain
from modelyard.audit.chain import (
    GENESIS_HASH,
    append_audit,
    compute_hash,
    export_audit,
    is_sensitive_key,
    verify_chain,
)
from modelyard.audit.cli import app as audit_cli
from modelyard.audit.cli import parse_since
from modelyard.audit.tables import audit_head, audit_log
from modelyard.core.ids import now_ms
from modelyard.core.settings import get_settings
from modelyard.core.store import Store


@pytest.fixture(scope="module")
def audit_pg_uri(pg_uri: str) -> Iterator[str]:
    """A PostgreSQL database of this module's own, so no other test's records join the chain."""
    base = pg_uri.rsplit("/", 1)[0]
    name = f"modelyard_audit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Overrides conftest's: a fresh SQLite file, or this module's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("audit_pg_uri"))


@pytest.fixture
def store(store_uri: str, tmp_path: Path) -> Iterator[Store]:
    """Overrides conftest's: an opened (migrated) store with an empty audit trail."""
    s = Store.open(store_uri, str(tmp_path / "artifacts"))
    with s.db.write() as conn:
        conn.execute(audit_log.delete())
        conn.execute(audit_head.delete())
    yield s
    s.close()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the process settings: point them at a throwaway home."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _append(store: Store, n: int, *, per_transaction: int = 10) -> None:
    done = 0
    while done < n:
        with store.db.write() as conn:
            for _ in range(min(per_transaction, n - done)):
                i = done
                append_audit(
                    conn,
                    actor=f"user{i % 3}@bank.example",
                    action="model_alias.moved",
                    object_type="model_alias",
                    object_id=f"credit-risk/champion-{i}",
                    project_id=f"proj{i % 4}" if i % 2 else None,
                    client_address="10.0.0.7",
                    client_agent="modelyard-cli/0.1",
                    outcome="denied" if i % 7 == 0 else "ok",
                    summary={"before": {"version": i}, "after": {"version": i + 1, "note": "défaut ✓"}},
                )
                done += 1


def _sql(store: Store, sql: str, **params: Any) -> None:
    with store.db.write() as conn:
        conn.execute(text(sql), params)


def _record(store: Store, seq: int) -> dict[str, Any]:
    with store.db.read() as conn:
        return dict(conn.execute(select(audit_log).where(audit_log.c.seq == seq)).mappings().one())


def _forged(seq: int, prev_hash: str) -> dict[str, Any]:
    """A plausible record made by someone who knows the hashing rule."""
    fields: dict[str, Any] = {
        "seq": seq,
        "at": now_ms(),
        "actor": "user1@bank.example",
        "action": "model_alias.moved",
        "object_type": "model_alias",
        "object_id": "credit-risk/champion-forged",
        "project_id": None,
        "client_address": "10.0.0.7",
        "client_agent": "modelyard-cli/0.1",
        "outcome": "ok",
        "summary": {"before": {"version": 1}, "after": {"version": 9}},
        "prev_hash": prev_hash,
    }
    fields["hash"] = compute_hash(fields)
    return fields


def _insert(store: Store, record: dict[str, Any]) -> None:
    with store.db.write() as conn:
        conn.execute(audit_log.insert().values(**record))


def _rehash(store: Store, seq: int, **changes: Any) -> None:
    """Change a record and store a correct hash for its new contents."""
    record = {**_record(store, seq), **changes}
    record["hash"] = compute_hash(record)
    with store.db.write() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(**record))


def test_an_intact_chain_of_50_records_verifies(store: Store) -> None:
    _append(store, 50, per_transaction=7)
    result = verify_chain(store.db)
    assert (result.ok, result.records, result.first_bad_seq, result.problem) == (True, 50, None, None)
    first, last = _record(store, 1), _record(store, 50)
    assert first["prev_hash"] == GENESIS_HASH
    assert result.last_hash == last["hash"]
    assert _record(store, 2)["prev_hash"] == first["hash"]
    with store.db.read() as conn:  # a caller's own transaction works too
        assert verify_chain(conn).ok


def test_an_empty_trail_is_intact(store: Store) -> None:
    result = verify_chain(store.db)
    assert result.ok and result.records == 0


def test_an_altered_record_is_named(store: Store) -> None:
    _append(store, 50)
    _sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 17")
    result = verify_chain(store.db)
    assert not result.ok
    assert result.first_bad_seq == 17 and result.records == 16
    assert result.problem == "record 17 was altered: its contents do not match its hash"


@pytest.mark.parametrize(
    ("deleted", "bad", "problem"),
    [
        ([18], 18, "record 18 is missing (deleted)"),
        ([1], 1, "record 1 is missing (deleted)"),
        ([30, 31, 32], 30, "records 30 to 32 are missing (deleted)"),
    ],
)
def test_a_deleted_record_is_named(store: Store, deleted: list[int], bad: int, problem: str) -> None:
    _append(store, 50)
    for seq in deleted:
        _sql(store, "DELETE FROM audit_log WHERE seq = :seq", seq=seq)
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, bad, problem)


def test_a_forged_record_put_in_place_of_a_real_one_is_caught(store: Store) -> None:
    _append(store, 50)
    _sql(store, "DELETE FROM audit_log WHERE seq = 20")
    _insert(store, _forged(20, _record(store, 19)["hash"]))  # links perfectly to record 19
    result = verify_chain(store.db)
    assert not result.ok and result.first_bad_seq == 21
    assert result.problem is not None
    assert result.problem.startswith("record 21 does not follow record 20 (inserted or reordered")


def test_a_record_slipped_in_between_is_caught_even_when_later_records_are_relinked(store: Store) -> None:
    _append(store, 50)
    # Make room after record 20, then slip a forged record 21 in, linked to record 20.
    _sql(store, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 20")
    _sql(store, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
    _insert(store, _forged(21, _record(store, 20)["hash"]))
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq) == (False, 22)  # renumbered: its hash covers seq 21
    assert result.problem == "record 22 was altered: its contents do not match its hash"

    # The attacker re-hashes and re-links every later record: the head still knows the end.
    for seq in range(22, 52):
        _rehash(store, seq, prev_hash=_record(store, seq - 1)["hash"])
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq) == (False, 51)
    assert (
        result.problem == "record 51 was added outside Modelyard or forged (head says 50, table ends at 51)"
    )


def test_a_forged_record_at_the_end_is_caught_by_the_head(store: Store) -> None:
    _append(store, 40)
    _insert(store, _forged(41, _record(store, 40)["hash"]))
    _insert(store, _forged(42, compute_hash(_record(store, 41))))
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq, result.records) == (False, 41, 42)
    assert (
        result.problem
        == "records 41 to 42 were added outside Modelyard or forged (head says 40, table ends at 42)"
    )


def test_deleted_last_records_are_caught_by_the_head(store: Store) -> None:
    _append(store, 40)
    _sql(store, "DELETE FROM audit_log WHERE seq = 40")
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq) == (False, 40)
    assert result.problem == "the last record was deleted (head says 40, table ends at 39)"

    _sql(store, "DELETE FROM audit_log WHERE seq = 39")
    result = verify_chain(store.db)
    assert result.problem == "the last 2 records were deleted (head says 40, table ends at 38)"

    _sql(store, "DELETE FROM audit_log")
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert result.problem == "the last 40 records were deleted (head says 40, the table is empty)"


def test_a_deleted_tail_stays_visible_after_later_appends(store: Store) -> None:
    _append(store, 10)
    _sql(store, "DELETE FROM audit_log WHERE seq = 10")
    _append(store, 1)  # the next record follows the head (10), not the table's last record (9)
    assert _record(store, 11)["prev_hash"] != _record(store, 9)["hash"]
    result = verify_chain(store.db)
    assert (result.ok, result.problem) == (False, "record 10 is missing (deleted)")


def test_an_altered_and_rehashed_record_is_caught_by_the_next_link(store: Store) -> None:
    _append(store, 50)
    _rehash(store, 17, actor="mallory", summary={"before": {"version": 0}, "after": {"version": 99}})
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq, result.records) == (False, 18, 17)
    assert result.problem == (
        "record 18 does not follow record 17 (inserted or reordered, or record 17 was altered and re-hashed)"
    )


def test_an_altered_and_rehashed_last_record_is_caught_by_the_head(store: Store) -> None:
    _append(store, 50)
    _rehash(store, 50, outcome="ok", actor="mallory")
    result = verify_chain(store.db)
    assert (result.ok, result.first_bad_seq) == (False, 50)
    assert result.problem == "record 50 does not match the audit head (altered and re-hashed, or replaced)"


def test_a_deleted_head_is_reported(store: Store) -> None:
    _append(store, 5)
    _sql(store, "DELETE FROM audit_head")
    result = verify_chain(store.db)
    assert not result.ok and result.problem is not None and "audit head is missing" in result.problem
    _append(store, 1)  # appends carry on from the table's last record and restore the head
    assert verify_chain(store.db).ok


def test_a_rolled_back_change_leaves_no_record_and_no_gap(store: Store) -> None:
    _append(store, 3)
    with pytest.raises(RuntimeError), store.db.write() as conn:
        append_audit(conn, actor="a", action="model.deleted", object_type="model", object_id="m")
        raise RuntimeError("the change failed")
    _append(store, 2)
    result = verify_chain(store.db)
    assert (result.ok, result.records) == (True, 5)


def test_secrets_in_summaries_are_redacted_before_hashing(store: Store) -> None:
    summary = {
        "before": {"url": "https://hooks.example/x", "secret": "whsec-SHOULD-NOT-LEAK-1"},
        "after": {
            "headers": {"Authorization": "Bearer SHOULD-NOT-LEAK-2", "Accept": "json"},
            "clients": [{"name": "ci", "api_key": "SHOULD-NOT-LEAK-3"}, {"X-Api-Key": "SHOULD-NOT-LEAK-4"}],
            "dbPassword": "SHOULD-NOT-LEAK-5",
            "access_token": {"value": "SHOULD-NOT-LEAK-6"},
            "tokenizer": "bert-base",
        },
    }
    with store.db.write() as conn:
        rec = append_audit(
            conn,
            actor="ada",
            action="webhook.updated",
            object_type="webhook",
            object_id="w1",
            summary=summary,
        )
    assert rec.summary["before"] == {"url": "https://hooks.example/x", "secret": "[redacted]"}
    assert rec.summary["after"]["headers"] == {"Authorization": "[redacted]", "Accept": "json"}
    assert rec.summary["after"]["clients"] == [
        {"name": "ci", "api_key": "[redacted]"},
        {"X-Api-Key": "[redacted]"},
    ]
    assert rec.summary["after"]["tokenizer"] == "bert-base"
    assert summary["before"]["secret"] == "whsec-SHOULD-NOT-LEAK-1"  # the caller's dict is untouched
    with store.db.read() as conn:
        stored = conn.execute(text("SELECT CAST(summary AS TEXT) FROM audit_log")).scalar_one()
    assert "SHOULD-NOT-LEAK" not in stored and "[redacted]" in stored and "bert-base" in stored
    assert verify_chain(store.db).ok


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("PASSWORD", True),
        ("client_secret", True),
        ("sessiontoken", True),
        ("Authorization", True),
        ("API-KEY", True),
        ("apiKey", True),
        ("tokenizer", False),
        ("alias", False),
        ("author", False),
    ],
)
def test_sensitive_key_names(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_awkward_inputs_are_stored_so_they_still_verify(store: Store) -> None:
    with store.db.write() as conn:
        rec = append_audit(
            conn,
            actor="eve\x00",
            action="http.POST /api/v1/" + "x" * 900,
            object_type="request",
            object_id="r1",
            client_agent="Mozilla/5.0 " * 200,
            outcome="failed",
            summary={
                "auc": float("nan"),
                "shape": (3, 4),
                "when": datetime(2024, 5, 1, tzinfo=UTC),
                7: "seven",
            },
        )
    assert rec.actor == "eve" and len(rec.action) == 500 and len(rec.client_agent) == 500
    assert rec.summary == {"auc": "nan", "shape": [3, 4], "when": "2024-05-01 00:00:00+00:00", "7": "seven"}
    assert verify_chain(store.db).ok
    with pytest.raises(ValueError, match="outcome"), store.db.write() as conn:
        append_audit(conn, actor="a", action="b", object_type="c", object_id="d", outcome="maybe")  # type: ignore[arg-type]


def test_concurrent_appends_from_4_threads_keep_one_chain(store: Store) -> None:
    per_thread, errors = 25, []
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with store.db.write() as conn:
                    append_audit(
                        conn,
                        actor=f"worker{worker}",
                        action="run.finished",
                        object_type="run",
                        object_id=str(i),
                    )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    result = verify_chain(store.db)
    assert (result.ok, result.records) == (True, 100), result.problem
    with store.db.read() as conn:
        actors = conn.execute(select(audit_log.c.actor)).scalars().all()
    assert sorted(actors) == sorted(f"worker{w}" for w in range(4) for _ in range(per_thread))


def _reverify(records: list[dict[str, Any]]) -> None:
    """What a regulator does with an export: recompute every hash and link."""
    prev = GENESIS_HASH
    for rec in records:
        assert rec["prev_hash"] == prev
        assert compute_hash(rec) == rec["hash"]
        prev = rec["hash"]


def test_exports_round_trip_and_can_be_reverified(store: Store) -> None:
    _append(store, 50)
    first, last = _record(store, 1)["hash"], _record(store, 50)["hash"]

    out = io.StringIO()
    assert export_audit(store.db, since_ms=None, fmt="jsonl", out=out) == 50
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 50 and (lines[0]["hash"], lines[-1]["hash"]) == (first, last)
    assert set(lines[0]) == {c.name for c in audit_log.columns}
    _reverify(lines)

    out = io.StringIO()
    assert export_audit(store.db, since_ms=None, fmt="csv", out=out) == 50
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 50 and (rows[0]["hash"], rows[-1]["hash"]) == (first, last)
    for row in rows:
        row.update(
            seq=int(row["seq"]),
            at=int(row["at"]),
            project_id=row["project_id"] or None,
            summary=json.loads(row["summary"]),
        )
    _reverify(rows)


def test_export_since_a_time(store: Store) -> None:
    _append(store, 10)
    time.sleep(0.01)
    cutoff = now_ms()
    time.sleep(0.01)
    _append(store, 5)
    out = io.StringIO()
    assert export_audit(store.db, since_ms=cutoff, fmt="jsonl", out=out) == 5
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [11, 12, 13, 14, 15]


def test_cli_verify_exits_0_when_intact_and_1_naming_the_record_when_tampered(
    store: Store, store_uri: str, cli_env: None
) -> None:
    runner = CliRunner()
    _append(store, 50)
    result = runner.invoke(audit_cli, ["verify", "--store", store_uri])
    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 50 records" in result.output

    _sql(store, "UPDATE audit_log SET outcome = 'failed' WHERE seq = 21")
    result = runner.invoke(audit_cli, ["verify", "--store", store_uri])
    assert result.exit_code == 1
    assert "record 21 was altered: its contents do not match its hash" in result.output
    assert "Traceback" not in result.output


def test_cli_export_to_a_file(store: Store, store_uri: str, cli_env: None, tmp_path: Path) -> None:
    runner = CliRunner()
    _append(store, 12)
    target = tmp_path / "audit.csv"
    args = ["export", "--format", "csv", "--since", "2020-01-01", "--out", str(target), "--store", store_uri]
    result = runner.invoke(audit_cli, args)
    assert result.exit_code == 0, result.output
    assert "Exported 12 audit records" in result.output
    assert len(list(csv.DictReader(target.open(encoding="utf-8")))) == 12

    result = runner.invoke(audit_cli, ["export", "--store", store_uri])  # jsonl to standard output
    assert result.exit_code == 0
    assert len([line for line in result.stdout.splitlines() if line.startswith("{")]) == 12

    result = runner.invoke(
        audit_cli, ["export", "--since", "2999-01-01T00:00:00+00:00", "--store", store_uri]
    )
    assert result.exit_code == 0 and "Exported 0 audit records" in result.output

    result = runner.invoke(audit_cli, ["export", "--since", "last tuesday", "--store", store_uri])
    assert result.exit_code == 2 and "not an ISO date" in result.output


def test_since_parsing() -> None:
    assert parse_since("2024-05-01") == int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)
    assert parse_since("2024-05-01T02:00:00+02:00") == parse_since("2024-05-01")


def test_verify_and_export_page_through_the_table(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chain, "PAGE_SIZE", 7)  # 50 records: 8 pages, problems across page edges
    _append(store, 50)
    assert verify_chain(store.db).records == 50
    assert export_audit(store.db, since_ms=None, fmt="jsonl", out=io.StringIO()) == 50
    _sql(store, "DELETE FROM audit_log WHERE seq IN (14, 15)")  # the last of one page, the first of the next
    assert verify_chain(store.db).problem == "records 14 to 15 are missing (deleted)"
