"""Shared helpers for the tracking benchmark (``bench/tracking.py``) and its peers.

Standard library only: the peer client scripts import this module from their own
throwaway virtualenvs, where the project's dependencies are not installed.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRATCH = REPO_ROOT / ".bench"  # git-ignored

SEARCH_SEED = 20240611
SEARCH_LIMIT = 100
TABLE_COLUMNS = ("measure", "peer", "modelyard", "ratio", "target", "ok")


def log(message: str) -> None:
    """Print a progress line to stderr (stdout is kept for results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers HTTP 200.

    Raises TimeoutError after ``timeout_s``, or RuntimeError at once if ``proc``
    (the server being waited for) has exited.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {url} answered")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.2)


def peer_venv(name: str, requirements: list[str]) -> Path:
    """Return ``.bench/<name>-venv`` with ``requirements`` pip-installed, creating it on first use.

    A marker file records the installed requirement list, so later calls with the
    same list return at once; a changed list re-runs pip in the same venv.
    """
    venv = SCRATCH / f"{name}-venv"
    marker = venv / "bench-requirements.json"
    wanted = json.dumps(requirements)
    if marker.is_file() and marker.read_text() == wanted:
        return venv
    if not (venv / "bin" / "python").exists():
        log(f"creating virtualenv {venv}")
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip_log = venv / "pip-install.log"
    log(f"pip install {' '.join(requirements)} into {venv} (can take minutes; log: {pip_log})")
    with Timer() as timer, pip_log.open("w") as out:
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off", *requirements],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = "\n".join(pip_log.read_text().splitlines()[-20:])
        raise RuntimeError(f"pip install into {venv} failed (exit {result.returncode}):\n{tail}")
    marker.write_text(wanted)
    log(f"installed in {timer.elapsed:.0f} s")
    return venv


class Timer:
    """Context manager that stores the wall-clock seconds of its block in ``elapsed``."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.elapsed = time.perf_counter() - self._start


class SearchRow(NamedTuple):
    """One run of the search data set, as both peers load it."""

    run_id: str
    name: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


def make_search_rows(n: int, seed: int = SEARCH_SEED) -> Iterator[SearchRow]:
    """Yield ``n`` deterministic runs for the search benchmark.

    params: depth in {'2','3','4','5'}, lr; tag: team in {'risk','fraud','ops'};
    metrics: auc ~ U(0.5, 1.0), ks, loss.
    """
    rng = random.Random(seed)
    for i in range(n):
        yield SearchRow(
            run_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            name=f"search-{i:06d}",
            params={"depth": rng.choice(("2", "3", "4", "5")), "lr": f"{rng.uniform(0.001, 0.3):.4f}"},
            tags={"team": rng.choice(("risk", "fraud", "ops"))},
            metrics={
                "auc": rng.uniform(0.5, 1.0),
                "ks": rng.uniform(0.1, 0.7),
                "loss": rng.uniform(0.05, 1.0),
            },
        )


def expected_search_ids(n: int, seed: int = SEARCH_SEED, limit: int = SEARCH_LIMIT) -> list[str]:
    """Run ids the benchmark query must return, in order.

    The query: auc > 0.9 and depth = '3' and team = 'risk', ordered by auc
    descending, first ``limit`` runs.
    """
    hits = [
        row
        for row in make_search_rows(n, seed)
        if row.metrics["auc"] > 0.9 and row.params["depth"] == "3" and row.tags["team"] == "risk"
    ]
    hits.sort(key=lambda row: row.metrics["auc"], reverse=True)
    return [row.run_id for row in hits[:limit]]


def _format_cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """Render rows (mappings keyed by ``columns``; missing keys show '-') as an aligned text table."""
    cells = [list(columns)] + [[_format_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def render(line: list[str]) -> str:
        first = line[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(cells[0]), rule, *(render(line) for line in cells[1:])])
