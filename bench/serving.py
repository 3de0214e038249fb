"""Serving benchmark: one model behind ``mlflow models serve`` and ``modelyard serve``, same run.

The model: a 50-tree scikit-learn GradientBoostingClassifier on 20 numeric features
(5,000 rows, fixed seed), fitted once here. MLflow gets that very object (saved with
``mlflow.sklearn.save_model`` in its own venv, ``.bench/mlflow-venv``, answering with
``predict_proba``); Modelyard gets it logged with an input example and registered in a
fresh embedded store as ``models:/bench-gbc@champion``. Before any load, a few rows go
through both servers over HTTP and must come back with the model's own probabilities.

Three servers, each one worker process on 127.0.0.1:
  - ``mlflow models serve -w 1 --env-manager local``                (POST /invocations)
  - ``modelyard serve --model models:/bench-gbc@champion --workers 1``, capture on
  - the same with ``--no-capture``: capture off, everything else identical

Load: wrk, 2 threads, 4 connections, one row per JSON request (cycling through 1,000
held-out rows), a warm-up, then the measured run; any non-2xx answer or socket error
fails the benchmark. Servers are measured one after the other (all three stay up; after
the capture-on run the script waits until its capture queue is written out), and with
``--rounds N`` the sequence repeats and each figure is the median over rounds.
Printed: requests/s, p50 and p99 per system, Modelyard / MLflow requests/s (target >= 10x),
Modelyard's p99 (target <= 10 ms), capture cost = 1 - capture on / capture off (target
<= 10%), the in-process predict time for context, and a check that every answered request
was written to the prediction log. Results go to ``bench/results-serving.json``.

    python bench/serving.py                       # 3 s warm-up + 15 s per system
    python bench/serving.py --duration 30 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import pickle
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SCRATCH, format_table, free_port, log, peer_venv, wait_http
from _mlflow_peer import MLFLOW_ENV, MLFLOW_REQUIREMENTS
from _wrk import WrkResult, ensure_wrk, run_wrk, write_post_script

SEED = 20240605
N_FEATURES = 20
N_TRAIN = 5_000
N_BODIES = 1_000  # held-out rows the load cycles through, one per request
MODEL_PARAMS: dict[str, Any] = {"n_estimators": 50, "random_state": 0}
MODEL_NAME = "bench-gbc"
CAPTURE_ON, CAPTURE_OFF = "bench", "bench-nocap"
THREADS, CONNECTIONS = 2, 4
TARGET_SPEEDUP, TARGET_P99_MS, TARGET_CAPTURE_COST = 10.0, 10.0, 0.10
START_TIMEOUT_S = 180.0
STOP_GRACE_S = 30.0
RESULTS = Path(__file__).resolve().with_name("results-serving.json")
SAVE_SCRIPT = Path(__file__).resolve().with_name("_mlflow_save_model.py")
COLUMNS = [f"f{i}" for i in range(N_FEATURES)]
SYSTEM_COLUMNS = ("system", "req/s", "p50 ms", "p99 ms", "requests")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------------- model and data
def make_data() -> tuple[Any, Any, Any]:
    """Training frame, labels, and held-out rows (float64), from SEED."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(N_TRAIN + N_BODIES, N_FEATURES))
    weights = rng.normal(size=N_FEATURES)
    y = (x @ weights * 0.5 + rng.normal(size=len(x)) > 0).astype(int)
    frame = pd.DataFrame(x[:N_TRAIN], columns=COLUMNS)
    return frame, y[:N_TRAIN], x[N_TRAIN:]


def in_process_ms(model: Any, rows: Any, n: int = 2_000) -> dict[str, float]:
    """Median milliseconds of ``predict_proba`` on one row: as a DataFrame and as a NumPy array."""
    import pandas as pd

    frame = pd.DataFrame(rows[:1], columns=COLUMNS)
    array = rows[:1]
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the array lacks the feature names the model was fitted with
        for label, row in (("dataframe", frame), ("numpy", array)):
            for _ in range(50):
                model.predict_proba(row)
            times = []
            for _ in range(n):
                start = time.perf_counter()
                model.predict_proba(row)
                times.append(time.perf_counter() - start)
            out[label] = statistics.median(times) * 1000
    return out


def save_for_mlflow(venv: Path, work: Path, model: Any, x: Any, y: Any) -> Path:
    """Save ``model`` as an MLflow model folder, using the MLflow venv's python."""
    import numpy as np
    import sklearn

    (work / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(work / "train_x.npy", x.to_numpy())
    np.save(work / "train_y.npy", y)
    out = work / "mlflow-model"
    config = {
        "model_pickle": str(work / "model.pkl"),
        "sklearn_version": sklearn.__version__,
        "train_x": str(work / "train_x.npy"),
        "train_y": str(work / "train_y.npy"),
        "params": MODEL_PARAMS,
        "columns": COLUMNS,
        "out": str(out),
    }
    env = {**os.environ, **MLFLOW_ENV}
    subprocess.run([str(venv / "bin" / "python"), str(SAVE_SCRIPT), json.dumps(config)], env=env, check=True)
    return out


def register_for_modelyard(home: Path, store: str, artifacts: Path, model: Any, x: Any) -> None:
    """Log and register ``model`` as models:/bench-gbc@champion, plus a capture-off deployment of it."""
    from modelyard import Client
    from modelyard.core.settings import Settings

    client = Client(store, artifacts_uri=str(artifacts), settings=Settings(home=home))
    try:
        experiment = client.get_or_create_experiment("default", "serving-bench")
        run = client.create_run(experiment.id, name="gbc")
        info = client.log_model(run.id, model, "model", input_example=x.iloc[:5])
        client.create_registered_model(MODEL_NAME, risk_tier="low")
        version = client.register_model(info.uri, MODEL_NAME)
        client.set_model_alias(MODEL_NAME, "champion", version.version)
    finally:
        client.close()


# ---------------------------------------------------------------------- server processes
@dataclass
class Server:
    """One server process under test, in its own session so its whole group can be stopped."""

    name: str
    base_url: str
    predict_path: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    results: list[WrkResult] = field(default_factory=list)

    @property
    def predict_url(self) -> str:
        """Where the load goes."""
        return self.base_url + self.predict_path

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for error messages."""
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process group (a graceful stop flushes Modelyard's capture), then SIGKILL leftovers."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            log(f"{self.name} ignored SIGTERM for {STOP_GRACE_S:.0f} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def started(server: Server, command: Sequence[str], env: dict[str, str], ready_path: str) -> Iterator[Server]:
    """Start ``server`` with ``command``, wait until ``ready_path`` answers 200, and stop it on exit."""
    with server.log_path.open("wb") as out:
        server.proc = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        start = time.perf_counter()
        try:
            wait_http(server.base_url + ready_path, START_TIMEOUT_S, server.proc)
        except (TimeoutError, RuntimeError) as exc:
            raise RuntimeError(f"{server.name} did not start ({exc}). Its log:\n{server.log_tail()}") from exc
        log(f"{server.name} ready on {server.base_url} after {time.perf_counter() - start:.1f} s")
        yield server
    finally:
        server.stop()


def start_servers(
    stack: contextlib.ExitStack,
    work: Path,
    venv: Path,
    mlflow_model: Path,
    *,
    store: str,
    artifacts: Path,
    home: Path,
    predictions: Path,
) -> tuple[Server, Server, Server]:
    """Start MLflow, Modelyard with capture on and with capture off; ``stack`` stops them."""
    port = free_port()
    mlflow = Server("mlflow", f"http://127.0.0.1:{port}", "/invocations", work / "mlflow.log")
    command = [
        str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(mlflow_model), "-p", str(port),
        "-w", "1", "--env-manager", "local", "--host", "127.0.0.1",
    ]  # fmt: skip
    # `mlflow models serve` execs `uvicorn` from PATH: it must be the MLflow venv's.
    env = {**os.environ, **MLFLOW_ENV, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    stack.enter_context(started(mlflow, command, env, "/ping"))

    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_PREDICTIONS_URI": str(predictions)}
    ours = []
    for label, deployment, selector in (
        (
            "modelyard capture on",
            CAPTURE_ON,
            ["--model", f"models:/{MODEL_NAME}@champion", "--name", CAPTURE_ON],
        ),
        (
            "modelyard capture off",
            CAPTURE_OFF,
            ["--model", f"models:/{MODEL_NAME}@champion", "--name", CAPTURE_OFF, "--no-capture"],
        ),
    ):
        port = free_port()
        server = Server(
            label,
            f"http://127.0.0.1:{port}",
            f"/v1/deployments/{deployment}/predict",
            work / f"{deployment}.log",
        )
        command = [
            sys.executable, "-m", "modelyard.cli.main", "serve", *selector, "--port", str(port),
            "--workers", "1", "--store", store, "--artifacts", str(artifacts),
        ]  # fmt: skip
        ours.append(stack.enter_context(started(server, command, env, "/ready")))
    return mlflow, ours[0], ours[1]


def _sigterm_to_exit(signum: int, frame: object) -> None:
    log("terminated: stopping the servers")
    raise SystemExit(128 + signum)  # unwinds through every `finally`, so the servers are stopped


# ---------------------------------------------------------------------- HTTP checks
def post_json(url: str, body: object) -> Any:
    """POST ``body`` as JSON and return the decoded answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with _OPENER.open(request, timeout=30) as response:
        return json.loads(response.read())


def mlflow_body(rows: Any) -> dict[str, Any]:
    """MLflow's request body for ``rows``."""
    return {"dataframe_split": {"columns": COLUMNS, "data": rows.tolist()}}


def modelyard_body(rows: Any) -> dict[str, Any]:
    """Modelyard's request body for ``rows``."""
    return {"inputs": [dict(zip(COLUMNS, row, strict=True)) for row in rows.tolist()]}


def check_same_answers(mlflow: Server, ours: Sequence[Server], model: Any, rows: Any) -> None:
    """Every server must answer the model's own P(class 1) for ``rows`` (to 1e-9)."""
    import numpy as np
    import pandas as pd

    expected = model.predict_proba(pd.DataFrame(rows, columns=COLUMNS))[:, 1]
    got = {mlflow.name: np.array(post_json(mlflow.predict_url, mlflow_body(rows))["predictions"])[:, 1]}
    for server in ours:
        got[server.name] = np.array(post_json(server.predict_url, modelyard_body(rows))["scores"])
    for name, probabilities in got.items():
        if probabilities.shape != expected.shape or not np.allclose(
            probabilities, expected, rtol=0, atol=1e-9
        ):
            raise AssertionError(f"{name} answered {probabilities}, the model gives {expected}")
    log(f"all servers answer the model's probabilities on {len(rows)} rows")


def prometheus_values(url: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample at a Prometheus text endpoint."""
    with _OPENER.open(url, timeout=10) as response:
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def capture_counts(server: Server, deployment: str) -> dict[str, int]:
    """Requests and rows the server answered for ``deployment``, and its capture writer's row counts."""
    counts = {"answered": 0, "rows": 0, "written": 0, "dropped": 0, "queued": 0}
    for name, labels, value in prometheus_values(server.base_url + "/metrics"):
        if labels.get("deployment") == deployment and name == "modelyard_serving_rows_total":
            counts["rows"] += int(value)
        elif name == "modelyard_serving_requests_total" and labels.get("deployment") == deployment:
            if labels.get("code") == "200":
                counts["answered"] += int(value)
        elif name == "modelyard_serving_capture_rows" and labels.get("state") in counts:
            counts[labels["state"]] = int(value)
    return counts


def wait_capture_written(server: Server, deployment: str, timeout_s: float = 60.0) -> dict[str, int]:
    """Wait until the capture queue is empty (so its writes do not overlap the next measurement)."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = capture_counts(server, deployment)
        if counts["queued"] == 0 and counts["written"] + counts["dropped"] >= counts["rows"]:
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{server.name}: capture still has rows queued after {timeout_s:.0f} s: {counts}"
            )
        time.sleep(0.5)


def parquet_rows(predictions: Path, deployment: str) -> int:
    """Rows in the finished Parquet segments of ``deployment``'s prediction log."""
    import pyarrow.parquet as pq

    folder = predictions / deployment / "predictions"
    files = [p for p in folder.rglob("*.parquet") if not p.name.startswith(".")] if folder.is_dir() else []
    return sum(pq.ParquetFile(p).metadata.num_rows for p in files)


# ---------------------------------------------------------------------- load
def measure(server: Server, script: Path, *, warmup_s: float, duration_s: float) -> WrkResult:
    """A warm-up, then one measured wrk run; fails on any non-2xx answer or socket error."""
    for phase, seconds in (("warm-up", warmup_s), ("measure", duration_s)):
        if seconds <= 0:
            continue
        result = run_wrk(
            server.predict_url, script, seconds=seconds, threads=THREADS, connections=CONNECTIONS
        )
        if result.non_2xx or result.socket_errors:
            raise RuntimeError(
                f"{server.name} ({phase}): {result.non_2xx} non-2xx answers and {result.socket_errors} "
                f"socket errors out of {result.requests} requests. Its log:\n{server.log_tail()}"
            )
    log(
        f"{server.name}: {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms ({result.requests:,} requests)"
    )
    server.results.append(result)
    return result


def summary(server: Server) -> dict[str, Any]:
    """Median over rounds of each figure, plus every round."""
    runs = server.results
    return {
        "requests_per_s": statistics.median(r.requests_per_s for r in runs),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "requests": sum(r.requests for r in runs),
        "rounds": [r.as_dict() for r in runs],
    }


def versions(venv: Path) -> dict[str, str]:
    """mlflow (from its venv), scikit-learn and modelyard."""
    import sklearn

    import modelyard

    mlflow = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        env={**os.environ, **MLFLOW_ENV},
        check=True,
    ).stdout.strip()
    return {"mlflow": mlflow, "scikit-learn": sklearn.__version__, "modelyard": modelyard.__version__}


# ---------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set everything up, measure, and return the results."""
    from sklearn.ensemble import GradientBoostingClassifier

    ensure_wrk()
    venv = peer_venv("mlflow", MLFLOW_REQUIREMENTS)
    SCRATCH.mkdir(exist_ok=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="serving-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        x, y, held_out = make_data()
        log(f"fitting GradientBoostingClassifier({MODEL_PARAMS}) on {N_TRAIN:,} rows x {N_FEATURES} features")
        model = GradientBoostingClassifier(**MODEL_PARAMS).fit(x, y)
        predict_ms = in_process_ms(model, held_out)
        log(f"in-process predict_proba, one row: {predict_ms['dataframe']:.3f} ms (DataFrame)")

        mlflow_model = save_for_mlflow(venv, work, model, x, y)
        home, predictions = work / "modelyard-home", work / "predictions"
        store, artifacts = f"sqlite:///{work / 'modelyard.db'}", work / "artifacts"
        register_for_modelyard(home, store, artifacts, model, x)

        mlflow, capture_on, capture_off = start_servers(
            stack,
            work,
            venv,
            mlflow_model,
            store=store,
            artifacts=artifacts,
            home=home,
            predictions=predictions,
        )
        check_same_answers(mlflow, [capture_on, capture_off], model, held_out[:8])
        scripts = {
            server.name: write_post_script(
                work / f"{server.name.replace(' ', '-')}.lua",
                server.predict_path,
                [json.dumps(body(held_out[i : i + 1])) for i in range(N_BODIES)],
            )
            for server, body in (
                (mlflow, mlflow_body),
                (capture_on, modelyard_body),
                (capture_off, modelyard_body),
            )
        }
        for round_no in range(1, args.rounds + 1):
            log(f"round {round_no} of {args.rounds}: {args.warmup:g} s warm-up + {args.duration:g} s each")
            for server in (mlflow, capture_on, capture_off):
                measure(server, scripts[server.name], warmup_s=args.warmup, duration_s=args.duration)
                if server is capture_on:
                    wait_capture_written(capture_on, CAPTURE_ON)

        counts = wait_capture_written(capture_on, CAPTURE_ON)
        stack.close()  # graceful stops: Modelyard writes out what it still holds
        counts["parquet_rows"] = parquet_rows(predictions, CAPTURE_ON)
        counts["parquet_rows_capture_off"] = parquet_rows(predictions, CAPTURE_OFF)
        load_after = os.getloadavg()
        return {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python bench/serving.py " + " ".join(sys.argv[1:]),
            "machine": {
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_before": [round(v, 2) for v in load_before],
                "load_after": [round(v, 2) for v in load_after],
            },
            "versions": versions(venv),
            "load": {
                "tool": "wrk",
                "threads": THREADS,
                "connections": CONNECTIONS,
                "warmup_s": args.warmup,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "rows_per_request": 1,
                "server_workers": 1,
            },
            "model": {
                "class": "GradientBoostingClassifier",
                **MODEL_PARAMS,
                "features": N_FEATURES,
                "train_rows": N_TRAIN,
            },
            "in_process_predict_ms": predict_ms,
            "mlflow": summary(mlflow),
            "modelyard_capture_on": summary(capture_on),
            "modelyard_capture_off": summary(capture_off),
            "capture": counts,
        }


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    """The three targets: speed-up over MLflow, p99, capture cost."""
    peer, on, off = results["mlflow"], results["modelyard_capture_on"], results["modelyard_capture_off"]
    speedup = on["requests_per_s"] / peer["requests_per_s"]
    cost = 1 - on["requests_per_s"] / off["requests_per_s"]
    return {
        "speedup": speedup,
        "speedup_ok": speedup >= TARGET_SPEEDUP,
        "p99_ms": on["p99_ms"],
        "p99_ok": on["p99_ms"] <= TARGET_P99_MS,
        "capture_cost": cost,
        "capture_cost_ok": cost <= TARGET_CAPTURE_COST,
    }


def report(results: dict[str, Any]) -> None:
    """Print the tables."""
    ratios = results["ratios"]
    peer, on, off = results["mlflow"], results["modelyard_capture_on"], results["modelyard_capture_off"]
    load = results["load"]
    print(
        f"\nServing benchmark: GradientBoostingClassifier(n_estimators=50), {N_FEATURES} features, one row "
        f"per request, 1 worker, wrk -t{load['threads']} -c{load['connections']} -d{load['duration_s']:g}s "
        f"(median of {load['rounds']} round(s))\n"
    )
    systems = (("mlflow models serve", peer), ("modelyard, capture on", on), ("modelyard, capture off", off))
    rows = [
        {
            "system": name,
            "req/s": s["requests_per_s"],
            "p50 ms": s["p50_ms"],
            "p99 ms": s["p99_ms"],
            "requests": s["requests"],
        }
        for name, s in systems
    ]
    print(format_table(rows, SYSTEM_COLUMNS))
    print()
    targets = [
        {
            "measure": "requests/s (x MLflow)",
            "peer": peer["requests_per_s"],
            "modelyard": on["requests_per_s"],
            "ratio": ratios["speedup"],
            "target": f">= {TARGET_SPEEDUP:g}x",
            "ok": ratios["speedup_ok"],
        },
        {
            "measure": "p99 ms",
            "peer": peer["p99_ms"],
            "modelyard": on["p99_ms"],
            "ratio": peer["p99_ms"] / on["p99_ms"],
            "target": f"<= {TARGET_P99_MS:g} ms",
            "ok": ratios["p99_ok"],
        },
        {
            "measure": "capture cost (1 - on/off)",
            "modelyard": f"{ratios['capture_cost']:.1%}",
            "target": f"<= {TARGET_CAPTURE_COST:.0%}",
            "ok": ratios["capture_cost_ok"],
        },
    ]
    print(format_table(targets))
    predict = results["in_process_predict_ms"]
    capture = results["capture"]
    machine = results["machine"]
    print(
        f"\nin-process predict_proba, one row: {predict['dataframe']:.3f} ms (DataFrame), "
        f"{predict['numpy']:.3f} ms (NumPy)"
    )
    print(
        f"prediction log: {capture['answered']:,} requests ({capture['rows']:,} rows) answered with capture "
        f"on, {capture['parquet_rows']:,} rows in Parquet, {capture['dropped']:,} dropped; "
        f"capture off wrote {capture['parquet_rows_capture_off']:,} rows"
    )
    print(
        f"machine: {machine['cores']} cores, load average {machine['load_before'][0]:.2f} before, "
        f"{machine['load_after'][0]:.2f} after; versions {results['versions']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=15.0, help="measured seconds per system (default 15)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per system (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three measurements; medians")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS.name})")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _sigterm_to_exit)
    results = run(args)
    results["ratios"] = evaluate(results)
    report(results)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {args.json}")
    capture = results["capture"]
    if capture["parquet_rows"] < capture["rows"] or capture["parquet_rows_capture_off"]:
        raise SystemExit("the prediction log does not hold every answered request: capture lost rows")


if __name__ == "__main__":
    main()
