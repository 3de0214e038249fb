"""MLflow peer of the tracking benchmark: the shared tracking work against a real MLflow server.

MLflow lives in a throwaway virtualenv (``.bench/mlflow-venv``) and is never imported
into the project's environment: the server and the client work
(``bench/_mlflow_client.py``) both run as subprocesses with that venv's python.

Quick check: ``python bench/_mlflow_peer.py --quick`` (full sizes without ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from _common import SCRATCH, SEARCH_SEED, Timer, free_port, log, peer_venv, wait_http

MLFLOW_REQUIREMENTS = ["mlflow>=3.17,<3.18"]
CLIENT_SCRIPT = Path(__file__).resolve().with_name("_mlflow_client.py")
QUICK_SIZES = {"n_search_runs": 2_000, "n_history": 10_000, "n_single": 200, "batch_points": 20_000}
FULL_SIZES = {"n_search_runs": 100_000, "n_history": 100_000, "n_single": 1_000, "batch_points": 200_000}
SERVER_START_TIMEOUT_S = 180.0
SERVER_STOP_GRACE_S = 15.0
MLFLOW_ENV = {
    # Keep MLflow's usage telemetry (server and client) from reaching for the internet.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # The job runner (GenAI jobs, unused by tracking) starts 7 huey consumers that import
    # MLflow for ~15 s after /health answers, saturating a 2-core machine and cutting
    # log_metric from ~80/s to ~15/s; without it the server measures at its steady state.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def run_mlflow(
    workdir: Path, *, n_search_runs: int, n_history: int, n_single: int, batch_points: int
) -> dict[str, float]:
    """Run the tracking work through an MLflow server on a fresh SQLite store in ``workdir``.

    Returns log_metric_per_s, log_batch_points_per_s, history_s and search_s.
    """
    venv = peer_venv("mlflow", MLFLOW_REQUIREMENTS)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "mlflow.db"
    if db_path.exists():
        raise FileExistsError(f"{db_path} exists: run_mlflow needs a fresh workdir")
    env = {**os.environ, **MLFLOW_ENV}
    port = free_port()
    server_log = workdir / "mlflow-server.log"
    command = [
        str(venv / "bin" / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{db_path}",
        "--default-artifact-root", str(workdir / "artifacts"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    with server_log.open("wb") as out:
        # Own session: the server forks a uvicorn worker and job runners, stopped as one group.
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        with Timer() as startup:
            try:
                wait_http(f"http://127.0.0.1:{port}/health", SERVER_START_TIMEOUT_S, server)
            except (TimeoutError, RuntimeError) as exc:
                raise RuntimeError(f"mlflow server did not start ({exc}); see {server_log}") from exc
        log(f"mlflow server up on port {port} after {startup.elapsed:.1f} s")
        config = {
            "tracking_uri": f"http://127.0.0.1:{port}",
            "db_path": str(db_path),
            "n_search_runs": n_search_runs,
            "n_history": n_history,
            "n_single": n_single,
            "batch_points": batch_points,
            "seed": SEARCH_SEED,
        }
        client = subprocess.run(
            [str(venv / "bin" / "python"), str(CLIENT_SCRIPT), json.dumps(config)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            check=True,
        )
        result: dict[str, float] = json.loads(client.stdout)
        return result
    finally:
        _stop_process_group(server)


def _stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` and the rest of its process group: SIGTERM, then SIGKILL for leftovers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(SERVER_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        log("mlflow server ignored SIGTERM; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # also reaps children that outlived the leader
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the MLflow half of the tracking benchmark.")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a quick check")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    SCRATCH.mkdir(exist_ok=True)
    with Timer() as total, tempfile.TemporaryDirectory(dir=SCRATCH, prefix="mlflow-run-") as workdir:
        result = run_mlflow(Path(workdir), **sizes)
    log(f"sizes {sizes}; wall time {total.elapsed:.0f} s (server start and data loading included)")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
