"""Nothing lost under concurrency, crashes and outages (real processes, real files)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from modelyard import Client, Unavailable
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.tracking.schemas import RunStatus

pytestmark = pytest.mark.slow


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MODELYARD_HOME"] = str(tmp_path / "home")
    env.pop("MODELYARD_TRACKING_URI", None)
    return env


def test_eight_processes_logging_to_one_sqlite_store_lose_nothing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    Store.open(uri, str(tmp_path / "art")).close()  # migrate once up front, like a real first start
    script = textwrap.dedent(f"""
        import sys
        import modelyard as my
        my.set_tracking_uri({uri!r})
        my.set_project("load")
        my.set_experiment("parallel")
        with my.start_run(name="worker-" + sys.argv[1]):
            my.log_params({{"worker": sys.argv[1]}})
            for step in range(3000):
                my.log_metric("loss", step * 0.5, step=step)
                if step % 500 == 0:
                    my.set_tag("progress", str(step))
    """)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err.lower()
    client = Client(uri, artifacts_uri=str(tmp_path / "art"))
    runs = client.search_runs("load", max_results=100)
    assert len(runs) == 8 and {r.status for r in runs} == {RunStatus.FINISHED}
    for run in runs:
        assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(3000))
    client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(tmp_path: Path, db: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelyard.cli.main",
            "server",
            "--port",
            str(port),
            "--store",
            f"sqlite:///{db}",
            "--artifacts",
            str(tmp_path / "art"),
        ],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def test_sigkill_during_ingest_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    port = _free_port()
    server = _start_server(tmp_path, db, port)
    url = f"http://127.0.0.1:{port}"
    client = Client(url, settings=Settings(home=tmp_path / "home", retry_timeout_s=0.5))
    exp = client.get_or_create_experiment("crash", "ingest")
    run = client.create_run(exp.id, name="victim")
    acked: list[int] = []
    stop = threading.Event()

    def ingest() -> None:
        batch = 0
        while not stop.is_set():
            points = [{"key": "x", "value": float(i), "step": batch * 500 + i} for i in range(500)]
            try:
                client.log_batch(run.id, metrics=points, params={f"p{batch}": str(batch)})
            except Exception:
                return  # the server died mid-request: this batch was never acknowledged
            acked.append(batch)
            batch += 1

    t = threading.Thread(target=ingest)
    t.start()
    time.sleep(1.5)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    stop.set()
    t.join(timeout=30)
    assert len(acked) > 3, "the server should have acknowledged several batches before the kill"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    server = _start_server(tmp_path, db, port)
    try:
        after = Client(url, settings=Settings(home=tmp_path / "home"))
        steps = {m.step for m in after.get_metric_history(run.id, "x")}
        for batch in acked:
            assert set(range(batch * 500, batch * 500 + 500)) <= steps, f"acknowledged batch {batch} lost"
        params = after.get_run(run.id).params
        assert all(params[f"p{b}"] == str(b) for b in acked)
        after.close()
    finally:
        server.kill()
        server.wait()
        client._backend.close()


def test_metrics_survive_a_brief_server_outage(tmp_path: Path) -> None:
    db = tmp_path / "outage.db"
    port = _free_port()
    server = _start_server(tmp_path, db, port)
    settings = Settings(home=tmp_path / "home", flush_interval_s=0.05, retry_timeout_s=20)
    client = Client(f"http://127.0.0.1:{port}", settings=settings)
    run = client.create_run(client.get_or_create_experiment("outage", "e").id)
    for step in range(1000):
        client.log_metric(run.id, "loss", 1.0, step=step)
    client.flush()
    server.terminate()
    server.wait(timeout=10)
    for step in range(1000, 3000):  # logged while nobody is listening: never blocks, never raises
        client.log_metric(run.id, "loss", 1.0, step=step)
    time.sleep(1.0)
    server = _start_server(tmp_path, db, port)
    try:
        client.flush(timeout_s=30)
        assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(3000))
    finally:
        client.close()
        server.terminate()
        server.wait()


def test_unreachable_server_raises_a_clear_error_at_flush(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens here
    client = Client(
        f"http://127.0.0.1:{port}",
        settings=Settings(home=tmp_path / "home", flush_interval_s=0.05, retry_timeout_s=0.5),
    )
    client.log_metric("some-run", "loss", 1.0)
    with pytest.raises(Exception, match="could not be delivered") as info:
        client.flush(timeout_s=10)
    assert type(info.value).__name__ == "Unavailable"
    assert client._buffer.pending() == 1  # kept, not dropped
    with pytest.raises(Unavailable):
        client.close()  # closing says so too, rather than dropping the point silently


def test_killed_process_is_marked_killed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    script = textwrap.dedent(f"""
        import os, signal
        import modelyard as my
        my.set_tracking_uri({uri!r})
        run = my.start_run(name="doomed")
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL
    run_id = proc.stdout.strip()
    client = Client(uri)  # opening the store notices the dead process on this host
    run = client.get_run(run_id)
    assert run.status == RunStatus.KILLED and run.end_time is not None
    client.close()


def test_stale_heartbeat_marks_remote_runs_killed(store: Store) -> None:
    from modelyard.tracking.service import TrackingService

    svc = TrackingService(store)
    exp = svc.projects.get_or_create_experiment(
        project=svc.projects.get_or_create_project(name="hb").name, name="e"
    )
    from modelyard.tracking.schemas import CreateRun

    run = svc.create_run(CreateRun(experiment_id=exp.id, host="elsewhere", pid=1))
    svc.reap_lost_runs(stale_after_ms=60_000)
    assert svc.get_run(run.id).status == RunStatus.RUNNING  # still sending heartbeats, as far as we know
    time.sleep(0.05)
    assert svc.reap_lost_runs(stale_after_ms=10) >= 1  # the store is shared: other tests' runs may go too
    killed = svc.get_run(run.id)
    assert killed.status == RunStatus.KILLED
    assert killed.end_time is not None and killed.end_time >= run.start_time  # when it was last seen


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_large_artifacts_stream_through_the_server_in_bounded_memory(tmp_path: Path) -> None:
    size = 400 * 1024 * 1024
    src = tmp_path / "big.bin"
    with src.open("wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            f.write(block)
    port = _free_port()
    server = _start_server(tmp_path, tmp_path / "big.db", port)
    try:
        baseline = _peak_rss_mb(server.pid)
        client = Client(f"http://127.0.0.1:{port}", settings=Settings(home=tmp_path / "home"))
        run = client.create_run(client.get_or_create_experiment("big", "e").id)
        client.log_artifact(run.id, src)
        back = client.download_artifact(run.id, "big.bin", tmp_path / "back.bin")
        assert back.stat().st_size == size
        with src.open("rb") as a, back.open("rb") as b:
            while chunk := a.read(1 << 24):
                assert chunk == b.read(1 << 24)
        grew = _peak_rss_mb(server.pid) - baseline
        assert grew < 100, f"server peak memory grew by {grew:.0f} MB for a {size >> 20} MB artifact"
        client.close()
    finally:
        server.terminate()
        server.wait()
