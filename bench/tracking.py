"""Tracking benchmark: the same work through MLflow and Modelyard, same machine, same run.

Both servers run on a fresh SQLite store with one worker. Measures (as in issue #2):
  - log_metric called in a loop (Modelyard's is queued and batched in the background;
    the clock stops only once every point is stored),
  - batch ingest in points/s (each tool's largest batch: MLflow 1,000, Modelyard 10,000),
  - fetching a 100k-point metric history,
  - a 3-clause filtered search over 100k runs, ordered by a metric, 100 results (median of 3).
The 100k search runs are written straight into each tool's own schema (through the API
would take hours for MLflow), from the same generator, so both search identical data.

    python bench/tracking.py            # full sizes (about 10 minutes, most of it MLflow)
    python bench/tracking.py --quick    # small sizes, a smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SCRATCH,
    SEARCH_LIMIT,
    Timer,
    expected_search_ids,
    format_table,
    free_port,
    log,
    make_search_rows,
    wait_http,
)
from _mlflow_peer import FULL_SIZES, QUICK_SIZES, run_mlflow

SEARCH_FILTER = "metrics.auc > 0.9 and params.depth = '3' and tags.team = 'risk'"
TARGETS = {"log_metric_per_s": 100.0, "log_batch_points_per_s": 10.0, "history_s": 20.0, "search_s": 50.0}


def load_search_runs(db_uri: str, experiment_id: str, project_id: str, artifact_root: str, n: int) -> None:
    """Write n benchmark runs straight into Modelyard's tables (same rows MLflow gets)."""
    from modelyard.core.db import create_db_engine
    from modelyard.core.ids import now_ms
    from modelyard.tracking.tables import latest_metrics, metrics, params, runs, tags

    engine = create_db_engine(db_uri)
    now = now_ms()
    batch: dict[str, list[dict[str, object]]] = {"runs": [], "params": [], "tags": [], "metrics": []}

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(runs.insert(), batch["runs"])
            conn.execute(params.insert(), batch["params"])
            conn.execute(tags.insert(), batch["tags"])
            conn.execute(metrics.insert(), batch["metrics"])
            conn.execute(
                latest_metrics.insert(),
                [
                    {k: m[k] for k in ("run_id", "key", "value", "step", "timestamp")}
                    for m in batch["metrics"]
                ],
            )
        for rows in batch.values():
            rows.clear()

    for i, row in enumerate(make_search_rows(n)):
        batch["runs"].append(
            {
                "id": row.run_id,
                "experiment_id": experiment_id,
                "project_id": project_id,
                "name": row.name,
                "status": "FINISHED",
                "user": "bench",
                "start_time": now - i,
                "end_time": now - i,
                "heartbeat_at": now,
                "entry_point": "bench",
                "python_version": "",
                "host": "",
                "artifact_uri": f"{artifact_root}/{project_id}/{row.run_id}",
                "deleted": False,
            }
        )
        batch["params"] += [{"run_id": row.run_id, "key": k, "value": v} for k, v in row.params.items()]
        batch["tags"] += [{"run_id": row.run_id, "key": k, "value": v} for k, v in row.tags.items()]
        batch["metrics"] += [
            {"run_id": row.run_id, "key": k, "value": v, "step": 0, "timestamp": now}
            for k, v in row.metrics.items()
        ]
        if len(batch["runs"]) == 5_000:
            flush()
    if batch["runs"]:
        flush()
    engine.dispose()


def run_modelyard(
    workdir: Path, *, n_search_runs: int, n_history: int, n_single: int, batch_points: int
) -> dict[str, float]:
    """The same work through a Modelyard server (subprocess) and the Python SDK."""
    from modelyard import Client
    from modelyard.core.settings import Settings

    db = workdir / "modelyard.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = (workdir / "modelyard-server.log").open("wb")
    server = subprocess.Popen(
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
            str(workdir / "artifacts"),
        ],
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    out: dict[str, float] = {}
    try:
        wait_http(f"{url}/health", 60, server)
        client = Client(url, settings=Settings(home=workdir / "home"))
        exp = client.get_or_create_experiment("bench", "tracking")

        run = client.create_run(exp.id, name="single")
        with Timer() as t:
            for i in range(n_single):
                client.log_metric(run.id, "m", float(i), step=i)
            client.flush()
        out["log_metric_per_s"] = n_single / t.elapsed
        assert len(client.get_metric_history(run.id, "m")) == n_single

        run = client.create_run(exp.id, name="batch")
        size = 10_000
        with Timer() as t:
            for start in range(0, batch_points, size):
                client.log_batch(
                    run.id,
                    metrics=[
                        {"key": "b", "value": float(i), "step": i, "timestamp": 1}
                        for i in range(start, start + size)
                    ],
                )
        out["log_batch_points_per_s"] = batch_points / t.elapsed

        run = client.create_run(exp.id, name="history")
        for start in range(0, n_history, size):
            client.log_batch(
                run.id,
                metrics=[
                    {"key": "h", "value": float(i), "step": i, "timestamp": 1}
                    for i in range(start, start + size)
                ],
            )
        with Timer() as t:
            history = client.get_metric_history(run.id, "h")
        out["history_s"] = t.elapsed
        assert len(history) == n_history

        search_exp = client.get_or_create_experiment("bench", "search")
        project_id = client.get_project("bench").id
        with Timer() as t:
            load_search_runs(
                f"sqlite:///{db}", search_exp.id, project_id, str(workdir / "artifacts"), n_search_runs
            )
        log(f"loaded {n_search_runs} runs into Modelyard in {t.elapsed:.1f} s")
        expected = expected_search_ids(n_search_runs)
        times = []
        for _ in range(3):
            with Timer() as t:
                found = client.search_runs(
                    "bench",
                    experiment_ids=[search_exp.id],
                    filter=SEARCH_FILTER,
                    order_by=["metrics.auc DESC"],
                    max_results=SEARCH_LIMIT,
                )
            times.append(t.elapsed)
            assert [r.id for r in found] == expected, "Modelyard search returned the wrong runs"
        out["search_s"] = statistics.median(times)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    SCRATCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="tracking-") as tmp:
        log("MLflow ...")
        (Path(tmp) / "mlflow").mkdir()
        peer = run_mlflow(Path(tmp) / "mlflow", **sizes)
        log("Modelyard ...")
        (Path(tmp) / "modelyard").mkdir()
        ours = run_modelyard(Path(tmp) / "modelyard", **sizes)

    rows = []
    for key, target in TARGETS.items():
        faster_is_higher = key.endswith("_per_s")
        ratio = ours[key] / peer[key] if faster_is_higher else peer[key] / ours[key]
        rows.append(
            {
                "measure": key,
                "peer": peer[key],
                "modelyard": ours[key],
                "ratio": ratio,
                "target": f">= {target:.0f}x",
                "ok": ratio >= target,
            }
        )
    print(f"\nTracking benchmark, sizes {sizes} (ratio = how many times better Modelyard is)\n")
    print(format_table(rows))
    print(f"\nsearch over {sizes['n_search_runs']} runs: {ours['search_s'] * 1000:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({"sizes": sizes, "mlflow": peer, "modelyard": ours}, indent=2))


if __name__ == "__main__":
    main()
