"""Load generation for the serving benchmark: wrk, a Lua script that POSTs JSON, and its report parsed.

wrk is a closed-loop load generator (each connection sends its next request when the last
one is answered), so requests/s and latency are those of the server at that concurrency.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import log

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass
class WrkResult:
    """What one wrk run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields, for the results file."""
        return asdict(self)


def ensure_wrk() -> str:
    """The path of wrk, installing it with apt-get when missing and running as root.

    Raises SystemExit(2) with instructions when wrk is missing and cannot be installed.
    """
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found; installing it with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
            subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    print(
        "This benchmark drives load with wrk (https://github.com/wg/wrk), which is not installed.\n"
        "Install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk) and run again.",
        flush=True,
    )
    raise SystemExit(2)


def _lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket string literal (no escaping needed inside)."""
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def write_post_script(path: Path, url_path: str, bodies: Sequence[str]) -> Path:
    """Write a wrk Lua script that POSTs ``bodies`` to ``url_path`` in turn, one per request.

    Requests are formatted once in ``init``, so the script adds no per-request work beyond
    picking the next one.
    """
    lines = [
        "local bodies = {",
        *(f"  {_lua_string(body)}," for body in bodies),
        "}",
        "local requests = {}",
        "local n = 0",
        "local i = 0",
        "function init(args)",
        '  local headers = {["Content-Type"] = "application/json"}',
        "  for k, body in ipairs(bodies) do",
        f'    requests[k] = wrk.format("POST", {_lua_string(url_path)}, headers, body)',
        "  end",
        "  n = #requests",
        "end",
        "function request()",
        "  i = i % n + 1",
        "  return requests[i]",
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    url: str, script: Path, *, seconds: float, threads: int, connections: int, timeout_s: float = 5.0
) -> WrkResult:
    """Run wrk against ``url`` for ``seconds`` and return what it reports."""
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return parse_wrk(out.stdout)


def parse_wrk(text: str) -> WrkResult:
    """Parse wrk's ``--latency`` report."""
    latencies = {pct: float(value) * _UNITS_MS[unit] for pct, value, unit in _LATENCY.findall(text)}
    total = _TOTAL.search(text)
    rate = _RATE.search(text)
    if total is None or rate is None or "50" not in latencies or "99" not in latencies:
        raise ValueError(f"could not read wrk's report (was --latency given?):\n{text}")
    non_2xx = _NON_2XX.search(text)
    socket = _SOCKET.search(text)
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )
