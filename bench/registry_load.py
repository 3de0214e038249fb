"""Registry benchmark: fetch and load a ~50 MB scikit-learn model from a Modelyard server.

The model is registered once; then a fresh process loads ``models:/bench-forest@champion``
over HTTP (download streamed to the local cache, digests checked, skops load) and reports
the wall time and its peak resident memory above the process's own baseline, next to the
model's size on disk. Streaming means the download adds one chunk, not the file, to memory:
the peak is what the loaded model itself needs.

    python bench/registry_load.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SCRATCH, free_port, log, wait_http

LOADER = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from modelyard import Client
    from modelyard.core.settings import Settings
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client = Client(sys.argv[1], settings=Settings(home=sys.argv[2]))
    t0 = time.perf_counter()
    path, version = client.download_model("models:/bench/bench-forest@champion")
    fetched = time.perf_counter() - t0
    model = client.load_model("models:/bench/bench-forest@champion")  # now from the local cache
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.predict(np.zeros((1, 20)))
    grew_mb = (peak - baseline) / 1024
    print(json.dumps({"seconds": seconds, "fetch_s": fetched, "peak_mb_above_baseline": grew_mb}))
""")


def main() -> None:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from modelyard import Client
    from modelyard.core.settings import Settings

    SCRATCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH, prefix="registry-") as tmp:
        work = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelyard.cli.main",
                "server",
                "--port",
                str(port),
                "--store",
                f"sqlite:///{work / 'm.db'}",
                "--artifacts",
                str(work / "artifacts"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_http(f"{url}/health", 60, server)
            rng = np.random.default_rng(0)
            X, y = rng.normal(size=(20_000, 20)), rng.integers(0, 2, 20_000)
            log("training a random forest of about 50 MB ...")
            forest = RandomForestClassifier(n_estimators=90, random_state=0, n_jobs=2).fit(X, y)
            client = Client(url, settings=Settings(home=work / "writer"))
            exp = client.get_or_create_experiment("bench", "registry")
            run = client.create_run(exp.id)
            info = client.log_model(run.id, forest, "model")
            client.create_registered_model("bench-forest", project="bench", risk_tier="low")
            v = client.register_model(info.uri, "bench-forest", project="bench")
            client.set_model_alias("bench-forest", "champion", v.version, project="bench")
            log(f"registered v{v.version}: {v.size_bytes / 1e6:.1f} MB")
            out = subprocess.run(
                [sys.executable, "-c", LOADER, url, str(work / "reader")],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"model size on disk: {v.size_bytes / 1e6:.1f} MB")
    print(
        f"fetch + verify + load over HTTP: {result['seconds']:.2f} s (of which the streamed download "
        f"{result['fetch_s']:.2f} s)"
    )
    print(
        f"peak memory above the process baseline: {result['peak_mb_above_baseline']:.0f} MB "
        f"({result['peak_mb_above_baseline'] / (v.size_bytes / 1e6):.2f}x the model's size)"
    )


if __name__ == "__main__":
    main()
