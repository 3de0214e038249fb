"""Client work of the MLflow peer; runs with the python of the throwaway MLflow venv.

Usage: ``python _mlflow_client.py '<json config>'``. Config keys: tracking_uri, db_path,
n_search_runs, n_history, n_single, batch_points, seed. Prints one JSON object of
measurements on stdout; progress (and anything MLflow prints) goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import statistics
import sys
import time
from typing import Any

from _common import SEARCH_LIMIT, Timer, expected_search_ids, log, make_search_rows
from mlflow import MlflowClient
from mlflow.entities import Metric

BATCH_LIMIT = 1000  # MLflow's maximum number of metrics in one log_batch request
SEARCH_FILTER = "metrics.auc > 0.9 and params.depth = '3' and tags.team = 'risk'"
SEARCH_ORDER = ["metrics.auc DESC"]
SEARCH_REPEATS = 3


def now_ms() -> int:
    """Current time in epoch milliseconds, as MLflow stores it."""
    return int(time.time() * 1000)


def metric_batches(key: str, n: int) -> list[list[Metric]]:
    """``n`` points of one metric (steps 0..n-1) in log_batch-sized chunks."""
    ts = now_ms()
    return [
        [Metric(key, 1.0 / (step + 1), ts, step) for step in range(start, min(start + BATCH_LIMIT, n))]
        for start in range(0, n, BATCH_LIMIT)
    ]


def measure_log_metric(client: MlflowClient, experiment_id: str, n: int) -> float:
    """log_metric calls per second, one call per point."""
    run_id = client.create_run(experiment_id, run_name="log-metric").info.run_id
    with Timer() as timer:
        for step in range(n):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    return n / timer.elapsed


def measure_log_batch(client: MlflowClient, experiment_id: str, n: int) -> float:
    """Points per second through log_batch with full (1000-metric) batches."""
    run_id = client.create_run(experiment_id, run_name="log-batch").info.run_id
    batches = metric_batches("loss", n)
    with Timer() as timer:
        for batch in batches:
            client.log_batch(run_id, metrics=batch)
    return n / timer.elapsed


def measure_history(client: MlflowClient, experiment_id: str, n: int) -> float:
    """Seconds to fetch the full history of one metric with ``n`` points (loaded untimed)."""
    run_id = client.create_run(experiment_id, run_name="history").info.run_id
    for batch in metric_batches("loss", n):
        client.log_batch(run_id, metrics=batch)
    with Timer() as timer:
        history = client.get_metric_history(run_id, "loss")
    if len(history) != n:
        raise AssertionError(f"history returned {len(history)} points, expected {n}")
    return timer.elapsed


def load_search_runs(db_path: str, experiment_id: str, artifact_location: str, n: int, seed: int) -> None:
    """Insert the ``make_search_rows`` runs straight into MLflow's SQLite tables.

    Creating them through the REST API would take hours; the rows follow what the
    server itself writes for a finished run (runs, params, tags incl. mlflow.runName,
    metrics and latest_metrics).
    """
    start = now_ms()
    runs: list[tuple[object, ...]] = []
    params: list[tuple[str, str, str]] = []
    tags: list[tuple[str, str, str]] = []
    metrics: list[tuple[object, ...]] = []
    latest: list[tuple[object, ...]] = []
    for i, row in enumerate(make_search_rows(n, seed)):
        ts = start + i
        artifact_uri = f"{artifact_location}/{row.run_id}/artifacts"
        runs.append(
            (
                row.run_id,
                row.name,
                "UNKNOWN",
                "",
                "",
                "bench",
                "FINISHED",
                ts,
                ts + 60_000,
                "",
                "active",
                artifact_uri,
                int(experiment_id),
            )
        )
        params.extend((key, value, row.run_id) for key, value in row.params.items())
        tags.append(("mlflow.runName", row.name, row.run_id))
        tags.extend((key, value, row.run_id) for key, value in row.tags.items())
        metrics.extend((key, value, ts, row.run_id, 0, 0) for key, value in row.metrics.items())
        latest.extend((key, value, ts, 0, 0, row.run_id) for key, value in row.metrics.items())
    with contextlib.closing(sqlite3.connect(db_path, timeout=60)) as db, db:
        db.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
            " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        db.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
            metrics,
        )
        db.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            latest,
        )


def measure_search(client: MlflowClient, db_path: str, n: int, seed: int) -> float:
    """Median seconds of the benchmark search over ``n`` runs, checked against the expected ids."""
    experiment_id = client.create_experiment("bench-search")
    artifact_location = client.get_experiment(experiment_id).artifact_location
    with Timer() as load:
        load_search_runs(db_path, experiment_id, artifact_location, n, seed)
    log(f"loaded {n} runs into the MLflow database in {load.elapsed:.1f} s")
    expected = expected_search_ids(n, seed)
    timings = []
    for _ in range(SEARCH_REPEATS):
        with Timer() as timer:
            found = client.search_runs(
                [experiment_id], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=SEARCH_LIMIT
            )
        timings.append(timer.elapsed)
        aucs = [run.data.metrics["auc"] for run in found]
        if [run.info.run_id for run in found] != expected or aucs != sorted(aucs, reverse=True):
            raise AssertionError(f"search returned {len(found)} runs, not the {len(expected)} expected")
    log(f"search timings: {', '.join(f'{t:.3f}' for t in timings)} s ({len(expected)} hits each)")
    return statistics.median(timings)


def run(config: dict[str, Any]) -> dict[str, float]:
    """All four measurements against the server at ``config['tracking_uri']``."""
    client = MlflowClient(tracking_uri=config["tracking_uri"])
    experiment_id = client.create_experiment("bench-writes")
    result = {
        "log_metric_per_s": measure_log_metric(client, experiment_id, config["n_single"]),
        "log_batch_points_per_s": measure_log_batch(client, experiment_id, config["batch_points"]),
        "history_s": measure_history(client, experiment_id, config["n_history"]),
    }
    log(f"writes done: {result}")
    result["search_s"] = measure_search(client, config["db_path"], config["n_search_runs"], config["seed"])
    return result


def main() -> None:
    config = json.loads(sys.argv[1])
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links on stdout
        result = run(config)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
