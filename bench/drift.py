"""Drift benchmark: Evidently 0.7.23 and Modelyard on the same data, same machine, same run.

1. Ad hoc, 200,000 x 20 numeric columns, reference and current pandas DataFrames (four column
   shapes: normal, log-normal, exponential, uniform; drift injected in 5 columns). Evidently:
   ``Report([DataDriftPreset()]).run(current, reference)`` in its own throwaway venv
   (``.bench/evidently-venv``, a subprocess). Modelyard: ``my.monitoring.compare(reference,
   current)``, which profiles the reference and summarizes the current data on the way.
   Only that call is timed on both sides: not the imports, not making or loading the data;
   each side first runs once on 2,000 rows so one-time lazy imports are not counted.
   Evidently is timed once (it takes seconds), Modelyard as the median of 5 runs. The per-column
   statistics are checked against Evidently's (both use normalized Wasserstein here).
2. Monitoring, 1,000,000 x 50 against a stored profile: the reference profile is built and
   saved as JSON, the current window written as 10 Parquet segments with prediction-log names
   (``input.<feature>``), then a fresh process loads the profile and streams the segments
   batch by batch (``summarize`` + ``compare``, 65,536-row batches, the next batch read while
   this one is counted). Timed from the first read to the report; the peak resident memory the
   stream adds is read from /proc (VmHWM after resetting it). Most of it is the Parquet
   reader's decoded row group; it does not grow with the window (see ``--window-rows``).

The machine's load average is recorded: other work on a 2-core machine slows both sides.

    python bench/drift.py             # full sizes (about a minute, most of it Evidently)
    python bench/drift.py --quick     # small sizes, a smoke test
    python bench/drift.py --window-rows 10000000   # also stream a 10M-row window (4 GB Parquet)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, SCRATCH, Timer, format_table, log, peer_venv

EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3"]  # 0.7.23 does not import under pandas 3
RATIO_TARGET = 30.0
STREAM_TARGET_S = 3.0
SEED = 20240601

EVIDENTLY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    folder = sys.argv[1]
    ref, cur = np.load(folder + "/reference.npy"), np.load(folder + "/current.npy")
    columns = [f"f{i}" for i in range(ref.shape[1])]
    reference, current = pd.DataFrame(ref, columns=columns), pd.DataFrame(cur, columns=columns)
    Report([DataDriftPreset()]).run(current.head(2000), reference.head(2000))  # warm-up
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    seconds = time.perf_counter() - start
    values = {}
    for metric in snapshot.dict()["metrics"]:
        if metric["config"].get("type", "").endswith("ValueDrift"):
            config = metric["config"]
            values[config["column"]] = {
                "value": metric["value"], "method": config["method"], "threshold": config["threshold"]
            }
    print(json.dumps({"seconds": seconds, "columns": values}))
    """
)

STREAM_SCRIPT = textwrap.dedent(
    """
    import glob, json, sys, time
    import pyarrow.parquet as pq
    from modelyard.monitoring import compare, summarize

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    folder = sys.argv[1]
    profile = json.load(open(folder + "/profile.json"))
    compare(profile, summarize(profile, {"input.f0": [0.0]}, prefix="input."))  # imports, warm-up
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter (VmHWM) to the current RSS
    base = status("VmRSS")
    start = time.perf_counter()
    def batches():  # segment by segment, as the prediction log is read
        for path in sorted(glob.glob(folder + "/window/*.parquet")):
            yield from pq.ParquetFile(path).iter_batches(batch_size=65_536)
    summary = summarize(profile, batches(), prefix="input.")
    report = compare(profile, summary)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": summary["n_rows"], "rss_base_mb": base,
                      "peak_growth_mb": status("VmHWM") - base, "drifted": report.drifted_features}))
    """
)


def make_columns(n: int, k: int, seed: int, drift: bool) -> np.ndarray:
    """``n`` x ``k`` float64: column j is normal, log-normal, exponential or uniform (j % 4).

    With ``drift``: columns 0-3 shift by half a standard deviation, column 4 doubles its spread.
    """
    rng = np.random.default_rng([seed, int(drift)])
    out = np.empty((n, k))
    for j in range(k):
        shape = j % 4
        col = (
            rng.normal(size=n) if shape == 0
            else rng.lognormal(sigma=0.5, size=n) if shape == 1
            else rng.exponential(size=n) if shape == 2
            else rng.random(size=n)
        )  # fmt: skip
        if drift and j < 4:
            col = col + 0.5 * np.std(col)
        if drift and j == 4:
            col = col.mean() + (col - col.mean()) * 2
        out[:, j] = col
    return out


def frame(values: np.ndarray):  # -> pandas.DataFrame
    import pandas as pd

    return pd.DataFrame(values, columns=[f"f{i}" for i in range(values.shape[1])])


def adhoc(workdir: Path, rows: int, features: int) -> dict:
    """Part 1: the same compare through Evidently (subprocess) and Modelyard (in process)."""
    from modelyard.monitoring import compare

    ref = make_columns(rows, features, SEED, drift=False)
    cur = make_columns(rows, features, SEED + 1, drift=True)
    np.save(workdir / "reference.npy", ref)
    np.save(workdir / "current.npy", cur)
    venv = peer_venv("evidently", EVIDENTLY_REQUIREMENTS)
    script = workdir / "evidently_run.py"
    script.write_text(EVIDENTLY_SCRIPT)
    log(f"Evidently: DataDriftPreset on {rows:,} x {features} ...")
    done = subprocess.run(
        [str(venv / "bin" / "python"), str(script), str(workdir)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"Evidently run failed:\n{done.stderr[-3000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])

    log(f"Modelyard: compare on {rows:,} x {features} ...")
    reference, current = frame(ref), frame(cur)
    compare(reference.head(2000), current.head(2000))  # warm-up, as Evidently's
    times, report = [], None
    for _ in range(5):
        with Timer() as t:
            report = compare(reference, current)
        times.append(t.elapsed)
    with Timer() as single:
        compare(reference, current, threads=1)
    assert report is not None
    ours = {f.feature: f for f in report.features}
    diffs = [abs(ours[c].statistic - v["value"]) for c, v in peer["columns"].items()]
    peer_drifted = sorted(c for c, v in peer["columns"].items() if v["value"] >= v["threshold"])
    return {
        "rows": rows,
        "features": features,
        "evidently_s": peer["seconds"],
        "modelyard_s": statistics.median(times),
        "modelyard_runs_s": times,
        "modelyard_one_thread_s": single.elapsed,
        "methods": {
            "evidently": sorted({v["method"] for v in peer["columns"].values()}),
            "modelyard": sorted({f.method for f in report.features}),
        },
        "max_abs_statistic_difference": max(diffs),
        "drifted_evidently": peer_drifted,
        "drifted_modelyard": sorted(report.drifted_features),
    }


def stream(workdir: Path, rows: int, features: int, reference_rows: int, segments: int = 10) -> dict:
    """Part 2: a stored profile, a Parquet window, a fresh process that streams it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelyard.monitoring import build_profile

    reference = make_columns(reference_rows, features, SEED + 2, drift=False)
    with Timer() as t:
        profile = build_profile(frame(reference))
    profile_s = t.elapsed
    (workdir / "profile.json").write_text(json.dumps(profile))
    window = workdir / "window"
    window.mkdir()
    per_segment = rows // segments
    log(f"writing the {rows:,} x {features} window as {segments} Parquet segments ...")
    for i in range(segments):
        part = make_columns(per_segment, features, SEED + 10 + i, drift=i % 2 == 1)
        table = pa.table({f"input.f{j}": part[:, j] for j in range(features)})
        pq.write_table(table, window / f"segment-{i:03d}.parquet", row_group_size=131_072)
        del part, table
    log("streaming it against the stored profile in a fresh process ...")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", STREAM_SCRIPT, str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"stream run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == per_segment * segments
    return {
        "rows": result["rows"],
        "features": features,
        "reference_rows": reference_rows,
        "profile_build_s": profile_s,
        "profile_json_kb": len(json.dumps(profile)) / 1024,
        "seconds": result["seconds"],
        "peak_rss_growth_mb": result["peak_growth_mb"],
        "window_in_memory_mb": result["rows"] * features * 8 / 2**20,
        "drifted": result["drifted"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--window-rows", type=int, default=0, help="also stream a window of this many rows")
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results-drift.json"))
    args = parser.parse_args()
    adhoc_rows, stream_rows = (20_000, 100_000) if args.quick else (200_000, 1_000_000)
    SCRATCH.mkdir(exist_ok=True)
    results: dict = {
        "command": shlex.join(["python", "bench/drift.py", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "load_average_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="drift-") as tmp:
        (Path(tmp) / "adhoc").mkdir()
        results["adhoc"] = adhoc(Path(tmp) / "adhoc", adhoc_rows, 20)
        (Path(tmp) / "stream").mkdir()
        results["stream"] = stream(Path(tmp) / "stream", stream_rows, 50, 200_000)
    if args.window_rows:
        with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="drift-window-") as tmp:
            results["window"] = stream(Path(tmp), args.window_rows, 50, 200_000, segments=100)

    results["load_average_after"] = os.getloadavg()
    a, s = results["adhoc"], results["stream"]
    ratio = a["evidently_s"] / a["modelyard_s"]
    rows = [
        {"measure": f"compare {a['rows']:,} x {a['features']} (s)", "peer": a["evidently_s"],
         "modelyard": a["modelyard_s"], "ratio": ratio, "target": f">= {RATIO_TARGET:.0f}x",
         "ok": ratio >= RATIO_TARGET},
        {"measure": f"{s['rows']:,} x {s['features']} vs stored profile (s)", "peer": None,
         "modelyard": s["seconds"], "ratio": None, "target": f"<= {STREAM_TARGET_S:.0f} s",
         "ok": s["seconds"] <= STREAM_TARGET_S},
        {"measure": "  peak RSS growth while streaming (MB)", "peer": None,
         "modelyard": s["peak_rss_growth_mb"], "target": f"<< {s['window_in_memory_mb']:.0f} MB window"},
    ]  # fmt: skip
    if "window" in results:
        w = results["window"]
        rows += [
            {"measure": f"{w['rows']:,} x {w['features']} vs stored profile (s)", "modelyard": w["seconds"]},
            {"measure": "  peak RSS growth while streaming (MB)", "modelyard": w["peak_rss_growth_mb"],
             "target": f"<< {w['window_in_memory_mb']:.0f} MB window"},
        ]  # fmt: skip
    load = results["load_average_before"][0], results["load_average_after"][0]
    print(
        f"\nDrift benchmark on {os.cpu_count()} cores, load average {load[0]:.1f} before and "
        f"{load[1]:.1f} after (ratio = how many times faster Modelyard is)\n"
    )
    print(format_table(rows))
    print(
        f"\nEvidently 0.7.23 DataDriftPreset vs my.monitoring.compare, only the call timed "
        f"(Modelyard median of 5, {a['modelyard_one_thread_s']:.3f} s on one thread)."
        f"\nSame verdicts: {a['drifted_evidently'] == a['drifted_modelyard']} "
        f"(drifted {', '.join(a['drifted_modelyard'])}); largest per-column statistic difference "
        f"{a['max_abs_statistic_difference']:.4f} (methods {a['methods']['modelyard']})."
        f"\nStored profile of {s['reference_rows']:,} rows: built in {s['profile_build_s']:.2f} s, "
        f"{s['profile_json_kb']:.0f} KB of JSON; the stream found drift in "
        f"{len(s['drifted'])} of {s['features']} features."
    )
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json.relative_to(REPO_ROOT) if args.json.is_relative_to(REPO_ROOT) else args.json}")


if __name__ == "__main__":
    main()
