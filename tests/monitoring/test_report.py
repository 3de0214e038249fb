"""The monitoring report: real monitor results over a real prediction log, rendered to one safe page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.monitoring.performance import fit_confidence
from modelyard.monitoring.profile import build_profile
from modelyard.monitoring.report import distributions, render_report
from modelyard.monitoring.runner import run_checks
from modelyard.monitoring.schemas import DeploymentHealth, MonitorRun, MonitorSpec
from modelyard.monitoring.summary import summarize
from modelyard.serving.predlog import CaptureWriter, write_actuals

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000
SVG = "{http://www.w3.org/2000/svg}"
SHIFTS = (0.0, 0.2, 1.5)  # feature "a" drifts further each day


def _frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1, n)
    city = rng.choice(["oslo", "bergen", "tromso" if shift else "oslo"], n)
    score = 1 / (1 + np.exp(-2 * a))
    y = np.where(a + rng.normal(0, 0.7, n) > 0, "1", "0")
    return pd.DataFrame({"a": a, "b": rng.normal(0, 1, n), "city": city, "score": score, "y": y})


class History:
    """Three days of captured traffic on deployment "credit", judged by the real runner."""

    def __init__(self, root: Path) -> None:
        ref = _frame(2000, 0.0, 1)
        self.profile = build_profile(ref, target="y", prediction="score")
        self.profile["confidence"] = fit_confidence(ref["y"].to_numpy(), ref["score"].to_numpy())
        self.frames = [_frame(400, shift, 10 + day) for day, shift in enumerate(SHIFTS)]
        writer = CaptureWriter(str(root), flush_s=60).start()
        for day, f in enumerate(self.frames):
            ids = [f"d{day}-{i}" for i in range(len(f))]
            for k in range(8):  # eight requests of 50 rows, each with its own latency
                part = slice(k * 50, (k + 1) * 50)
                writer.submit(
                    deployment="credit",
                    model="credit-model",
                    version=3,
                    variant="primary",
                    prediction_ids=ids[part],
                    features={c: f[c].tolist()[part] for c in ("a", "b", "city")},
                    predictions=(f["score"][part] > 0.5).astype(int).astype(str).tolist(),
                    scores=f["score"][part].tolist(),
                    latency_ms=float(2 + k + 10 * day),
                    ts_ms=T0 + day * DAY + k * 1000,
                )
            write_actuals(
                str(root),
                "credit",
                [{"prediction_id": i, "actual": y} for i, y in zip(ids, f["y"], strict=True)],
            )
        writer.stop()
        spec = MonitorSpec(min_rows=100, performance={"minimum": {"accuracy": 0.7}})
        self.runs = []
        for day in range(len(SHIFTS)):
            start, end = T0 + day * DAY, T0 + (day + 1) * DAY
            result = run_checks(
                spec, root=str(root), deployment="credit", profile=self.profile, start_ms=start, end_ms=end
            )
            result.update(model="credit-model", version=3, window="24h")
            self.runs.append(_run(f"r{day}", result, end))
        self.summary = summarize(self.profile, self.frames[-1])
        # What a run keeps once the runner stores per-bin shares (see report.distributions).
        self.runs[-1].result["distributions"] = distributions(self.profile, self.summary)


def _run(rid: str, result: dict[str, Any], at: int, monitor: str = "default") -> MonitorRun:
    return MonitorRun(
        id=rid,
        monitor_id="m1",
        monitor=monitor,
        deployment="credit",
        health=result["health"],
        window_start=at - DAY,
        window_end=at,
        rows=int(result.get("rows", 0)),
        trigger="manual",
        started_at=at,
        finished_at=at + 50,
        result=result,
    )


def _health(health: str = "red", firing: int = 0, **monitors: str) -> DeploymentHealth:
    return DeploymentHealth(
        deployment="credit",
        health=health,
        monitors=monitors or {"default": health},
        firing_alerts=firing,
        checked_at=T0,
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return History(tmp_path_factory.mktemp("predictions"))


def _svgs(html: str) -> list[ET.Element]:
    """Every inline chart, parsed as XML (so each is well-formed SVG)."""
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def _figure(html: str, title: str) -> str:
    """The <figure> whose caption starts with ``title``."""
    for fig in re.findall(r"<figure\b.*?</figure>", html, re.S):
        if re.search(rf"<figcaption><strong>{re.escape(title)}</strong>", fig):
            return fig
    raise AssertionError(f"no chart titled {title!r}")


def _tips(fragment: str) -> list[str]:
    return re.findall(r"<title>(.*?)</title>", fragment)


def _check_row(html: str, check: str, name: str) -> list[str]:
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if len(cells) == 6 and cells[1] == check and cells[2] == name:
            return [re.sub(r"<[^>]+>", "", c) for c in cells]
    raise AssertionError(f"no check row {check}/{name}")


def test_header_and_latest_checks_show_the_runs_numbers(history: History) -> None:
    html = render_report("credit", list(reversed(history.runs)), _health("red", firing=2))
    latest = history.runs[-1]
    assert "<title>Monitoring report: credit</title>" in html
    assert '<span class="badge red">red</span>' in html
    assert re.search(r"<span>Firing alerts</span>2</div>", html)
    assert "credit-model v3" in html
    a = next(c for c in latest.checks if c.check == "drift" and c.name == "a")
    assert _check_row(html, "drift", "a") == [
        "warn",
        "drift",
        "a",
        f"{a.value:.3g}",
        f"{a.threshold:.4g}",
        a.detail,
    ]
    dataset = next(c for c in latest.checks if c.name == "dataset")
    assert _check_row(html, "drift", "dataset")[:5] == [
        "fail",
        "drift",
        "dataset",
        f"{dataset.value:.4g}",
        "0.5",
    ]
    assert "2 of 3 features drifted" in html
    p99 = latest.values["service.latency_p99_ms"]
    assert _check_row(html, "service", "latency_p99_ms")[3] == f"{p99:.4g}"


def test_charts_are_valid_svg_carrying_every_run(history: History) -> None:
    html = render_report("credit", history.runs, _health())
    charts = _svgs(html)
    assert charts and all(c.tag == f"{SVG}svg" for c in charts)
    assert all(c.find(f"{SVG}rect") is not None for c in charts)
    # (a) drift per feature over time: one dot per run, threshold marked, drifted runs flagged.
    fig = _figure(html, "a")
    stats = [r.result["drift"]["features"][0]["statistic"] for r in history.runs]
    assert len(re.findall(r"<circle\b", fig)) == 3
    assert [t.split(": ks ")[1].removesuffix(" (drifted)") for t in _tips(fig)] == [
        f"{s:.4g}" if s >= 1e-3 else f"{s:.3g}" for s in stats
    ]
    assert 'class="threshold"' in fig and "drift below 0.05" in fig
    assert fig.count('fill="#c62828"') == 2  # the two days it drifted
    share = _figure(html, "Share of drifted features")
    assert "data-set drift at 0.5" in share and len(re.findall(r"<circle\b", share)) == 3
    # (c) accuracy, measured and estimated; (d) latency p50 and p99.
    acc = _tips(_figure(html, "Accuracy"))
    measured = [r.values["performance.accuracy"] for r in history.runs]
    assert [t for t in acc if ": accuracy " in t] == [
        f"{_when(r)}: accuracy {m:.4g}" for r, m in zip(history.runs, measured, strict=True)
    ]
    assert sum(": estimated accuracy " in t for t in acc) == 3
    assert "minimum" in _figure(html, "Accuracy")
    lat = _tips(_figure(html, "Model latency (ms)"))
    assert [t for t in lat if "p99" in t] == [
        f"{_when(r)}: p99 ms {r.values['service.latency_p99_ms']:.4g}" for r in history.runs
    ]
    assert "p99 limit 100 ms" in html


def _when(run: MonitorRun) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(run.started_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_reference_against_current_from_stored_or_given_shares(history: History) -> None:
    dists = history.runs[-1].result["distributions"]
    assert set(dists) == {"a", "b", "city", "score"} and dists["score"]["role"] == "prediction"
    a = dists["a"]
    assert len(a["reference"]) == len(a["current"]) == len(a["edges"]) + 1 == 10
    assert all(abs(s - 0.1) < 0.01 for s in a["reference"])  # the reference's deciles
    assert a["current"][-1] > 0.5  # shifted by 1.5 sd: most of today sits above the top decile
    assert sum(a["current"]) == pytest.approx(1, abs=1e-5)
    city = dists["city"]
    assert city["categories"][-1] == "tromso" and city["reference"][-1] == 0 and city["current"][-1] > 0.2

    stored = render_report("credit", history.runs, _health())
    given = render_report(
        "credit", history.runs[:2], _health(), reference=history.profile, current=history.summary
    )
    for html in (stored, given):
        fig = _figure(html, "a")  # the drift chart comes first; the bars are the second figure
        bars = [f for f in re.findall(r"<figure\b.*?</figure>", html, re.S) if "<strong>a</strong>" in f][1]
        tips = [t for t in _tips(bars) if ": reference " in t or ": current " in t]
        assert len(tips) == 20 and fig
        assert tips[-1] == f"≥{a['edges'][-1]:.4g}: current {a['current'][-1]:.1%}"
        assert tips[-2] == f"≥{a['edges'][-1]:.4g}: reference {a['reference'][-1]:.1%}"
        assert "tromso: current" in html


def test_distributions_pool_rare_categories_and_keep_new_ones() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"c": rng.choice([f"k{i}" for i in range(30)], 3000), "n": rng.integers(0, 4, 3000)})
    cur = pd.DataFrame({"c": ["brand-new"] * 500 + ["k1"] * 500, "n": [5] * 1000})
    profile = build_profile(ref)
    d = distributions(profile, summarize(profile, cur), max_categories=6)
    c = d["c"]
    assert len(c["categories"]) == 6 and c["categories"][-1] == "(other)" and c["other"]
    assert "brand-new" in c["categories"] and "k1" in c["categories"]
    assert sum(c["reference"]) == pytest.approx(1, abs=1e-5) and sum(c["current"]) == pytest.approx(
        1, abs=1e-5
    )
    n = d["n"]  # four distinct values: one bin per value, plus "below"
    assert n["discrete"] and n["edges"] == [0.0, 1.0, 2.0, 3.0]
    assert n["current"] == [0, 0, 0, 0, 1.0]  # 5 falls in the last bin, "3 and above"


def test_no_runs_one_run_and_runs_without_sections() -> None:
    empty = render_report("credit", [], _health("unknown", **{}))
    assert "No monitor runs yet" in empty and "modelyard monitor run credit" in empty
    assert "<svg" not in empty and '<span class="badge unknown">unknown</span>' in empty

    few = {
        "rows": 12,
        "health": "unknown",
        "checks": [
            {
                "check": "window",
                "name": "rows",
                "status": "skipped",
                "value": 12,
                "threshold": 100,
                "detail": "12 primary predictions in the window; the monitor needs 100.",
            }
        ],
        "values": {
            "rows": 12.0,
            "service.latency_p50_ms": 3.0,
            "service.latency_p99_ms": 7.5,
            "health": -1.0,
        },
        "service": {"latency_p50_ms": 3.0, "latency_p99_ms": 7.5},
        "model": "credit-model",
        "version": 3,
        "window": "24h",
    }
    one = render_report("credit", [_run("r1", few, T0)], _health("unknown"))
    assert "No drift results yet" in one and "No accuracy yet" in one
    assert "Distributions not available" in one
    assert "12 primary predictions in the window" in one
    [latency] = [c for c in _svgs(one)]
    dots = latency.findall(f".//{SVG}circle")
    assert len(dots) == 2 and {d.get("cx") for d in dots} == {str((44 + 630) / 2)}  # one run: centred


def test_failed_run_shows_its_error(history: History) -> None:
    failed = _run(
        "f1",
        {
            "health": "failed",
            "error": "Segment x.parquet is not a Parquet file.",
            "rows": 0,
            "model": "credit-model",
            "version": 3,
            "window": "24h",
        },
        T0 + 4 * DAY,
    )
    html = render_report("credit", [*history.runs, failed], _health("red"))
    assert '<p class="error">The monitor run failed: Segment x.parquet is not a Parquet file.</p>' in html
    assert "(1 failed)" in html
    assert (
        len(re.findall(r"<circle\b", _figure(html, "Share of drifted features"))) == 3
    )  # failed runs plot nothing
    only_failed = render_report("credit", [failed], _health("red"))
    assert "The monitor run failed" in only_failed and "Traceback" not in only_failed


def test_hostile_names_and_messages_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    result = {
        "rows": 500,
        "health": "yellow",
        "checks": [
            {
                "check": "drift",
                "name": evil,
                "status": "warn",
                "value": 0.4,
                "threshold": 0.1,
                "detail": '"><img src=x onerror=alert(2)>',
            }
        ],
        "values": {"rows": 500.0, f"drift.{evil}": 0.4},
        "drift": {
            "features": [
                {
                    "feature": evil,
                    "kind": "categorical",
                    "method": "jensenshannon",
                    "statistic": 0.4,
                    "threshold": 0.1,
                    "drifted": True,
                }
            ],
            "dataset": {
                "n_features": 1,
                "n_drifted": 1,
                "share": 1.0,
                "weighted_share": None,
                "threshold": 0.5,
                "drifted": True,
            },
            "prediction": None,
        },
        "distributions": {
            evil: {
                "kind": "categorical",
                "categories": [evil, "</svg><script>x</script>"],
                "reference": [0.9, 0.1],
                "current": [0.2, 0.8],
                "other": False,
            }
        },
        "model": "<b>m</b>",
        "version": 1,
        "window": "24h",
    }
    runs = [
        _run("x1", result, T0, monitor="<i>mon</i>"),
        _run("x2", {**result, "health": "failed", "error": "<script>boom</script>"}, T0 + DAY),
    ]
    html = render_report("<svg onload=alert(3)>", runs, _health("yellow", **{"<i>mon</i>": "yellow"}))
    assert (
        "<script" not in html.lower()
        and "<img" not in html
        and "<svg onload" not in html
        and "<b>m" not in html
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;script&gt;boom&lt;/script&gt;" in html
    assert len(_svgs(html)) == 3  # drift share, the feature's drift, its bars; all well-formed XML
    assert "http" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # nothing fetched from outside
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)  # real tags only: escaped text has no "<"
    assert tags and not [t for t in tags if re.search(r"\son\w+\s*=", t)]  # no event-handler attributes
