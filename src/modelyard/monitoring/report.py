"""A deployment's monitoring report: one self-contained HTML page with inline SVG charts.

The page needs nothing from outside (no scripts, fonts, images or stylesheets), so it can be
mailed, archived as validation evidence, or served under ``Content-Security-Policy:
default-src 'none'; style-src 'unsafe-inline'``. Every value reaches the page through Jinja2's
autoescaping; this module only computes chart geometry (numbers) and plain text.

The charts are a few lines and bars, drawn by the small helpers below rather than a plotting
library: the report must stay dependency-free, script-free and a few hundred kilobytes at most.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from modelyard.monitoring import drift as drift_methods
from modelyard.monitoring.schemas import Check, DeploymentHealth, MonitorRun

_env = Environment(
    loader=PackageLoader("modelyard.monitoring", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
MAX_FEATURE_CHARTS = 48  # drift and distribution small multiples; a note says how many were left out
MAX_HISTORY_ROWS = 50
MAX_DOTS = 60  # beyond this many runs a line keeps dots (with tooltips) only where it crossed a limit
MAX_CATEGORIES = 12
BLUE, ORANGE, GREEN, GREY = "#2f6fb3", "#e07b1a", "#2e7d32", "#8a94a6"
HEALTH_CLASS = {"green": "green", "yellow": "yellow", "red": "red", "failed": "red"}


# ------------------------------------------------------------------ public
def render_report(
    deployment: str,
    runs: list[MonitorRun],
    health: DeploymentHealth,
    *,
    reference: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
) -> str:
    """The deployment's monitoring report as one self-contained HTML page.

    Args:
        deployment: the deployment's name.
        runs: its monitor runs, in any order (the route passes newest first).
        health: its current roll-up health.
        reference: the deployed version's reference profile (``build_profile``); with
            ``current`` it gives the reference-against-current distributions of the latest run.
        current: a summary (``summarize``) of the latest window over that profile.
            Without both, the distributions come from the latest run's ``result["distributions"]``
            when the run stored them, else the page says they are not available.
    """
    ordered = sorted(runs, key=lambda r: (r.started_at, r.id))
    done = [r for r in ordered if r.health != "failed"]
    latest = ordered[-1] if ordered else None
    latest_ok = done[-1] if done else None
    dists: Mapping[str, Any] | None = None
    if reference is not None and current is not None:
        dists = distributions(reference, current)
    elif latest_ok is not None:
        dists = latest_ok.result.get("distributions")
    drift_charts, drift_left_out = _drift_charts(done)
    dist_charts, dist_left_out = _distribution_charts(dists, latest_ok)
    context = {
        "deployment": deployment,
        "health": health,
        "health_class": HEALTH_CLASS.get(health.health, "unknown"),
        "monitors": [(n, h, HEALTH_CLASS.get(h, "unknown")) for n, h in sorted(health.monitors.items())],
        "generated": _time(int(datetime.now(UTC).timestamp() * 1000)),
        "checked": _time(health.checked_at) if health.checked_at else "never",
        "latest": _latest(latest) if latest else None,
        "model": _model(latest_ok or latest),
        "checks": [_check_row(c) for c in latest.checks] if latest else [],
        "n_runs": len(ordered),
        "n_failed": len(ordered) - len(done),
        "share_chart": _share_chart(done),
        "drift_charts": drift_charts,
        "drift_left_out": drift_left_out,
        "dist_charts": dist_charts,
        "dist_left_out": dist_left_out,
        "perf_chart": _performance_chart(done),
        "latency_chart": _latency_chart(done),
        "history": [_history_row(r) for r in reversed(ordered[-MAX_HISTORY_ROWS:])],
    }
    return _env.get_template("report.html.j2").render(**context)


def distributions(
    profile: Mapping[str, Any],
    summary: Mapping[str, Any],
    *,
    features: Sequence[str] | None = None,
    max_categories: int = MAX_CATEGORIES,
) -> dict[str, dict[str, Any]]:
    """Reference and current shares per feature, small enough to keep with every monitor run.

    Numeric: the reference's deciles (the bins PSI uses), or its values when it has at most
    ``max_categories`` distinct ones; ``edges`` e_1 < ... < e_k bound k+1 bins (-inf, e_1), ...,
    [e_k, inf). Categorical: the ``max_categories - 1`` commonest categories of either side
    (new ones included), the rest pooled in a last ``(other)`` cell. Shares exclude missing values.

    Returns:
        ``{feature: {"kind", "edges" | "categories", "reference": [...], "current": [...]}}``;
        the prediction is included (``"role": "prediction"``) when both sides have it.
    """
    columns = profile.get("columns", {})
    names = [n for n in (features if features is not None else columns) if n in columns]
    entries = [(n, columns[n], summary.get("columns", {}).get(n), "feature") for n in names]
    if profile.get("prediction") and summary.get("prediction"):
        pred = profile["prediction"]
        entries.append((pred["name"], pred, summary["prediction"], "prediction"))
    out: dict[str, dict[str, Any]] = {}
    for name, ref, cur, role in entries:
        if not cur or not cur.get("present", True):
            continue
        if ref.get("kind") == "numeric":
            found = _numeric_shares(ref, cur, max_categories)
        elif ref.get("kind") == "categorical":
            found = _categorical_shares(ref, cur, max_categories)
        else:
            found = None
        if found is not None:
            out[name if name not in out else f"{role}:{name}"] = {**found, "role": role}
    return out


# -------------------------------------------------------------- distributions
def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [round(float(x) / total, 5) if total > 0 else 0.0 for x in counts]


def _numeric_shares(ref: Mapping[str, Any], cur: Mapping[str, Any], max_values: int) -> dict[str, Any] | None:
    r = np.asarray(ref.get("counts", []), dtype=float)
    c = np.asarray(cur.get("counts", []), dtype=float)
    edges = [float(e) for e in ref.get("edges", [])]
    if len(r) != len(c) or len(r) != len(edges) + 1 or not (r.sum() and c.sum()):
        return None
    if ref.get("discrete") and len(edges) <= max_values:
        return {
            "kind": "numeric",
            "discrete": True,
            "edges": edges,
            "reference": _shares(r),
            "current": _shares(c),
        }
    groups = drift_methods.coarse_groups(r)
    last = [int(np.flatnonzero(groups == g)[-1]) for g in range(int(groups.max()))]
    return {
        "kind": "numeric",
        "edges": [edges[i] for i in last],
        "reference": _shares(drift_methods.coarsen(r, groups)),
        "current": _shares(drift_methods.coarsen(c, groups)),
    }


def _categorical_shares(
    ref: Mapping[str, Any], cur: Mapping[str, Any], max_categories: int
) -> dict[str, Any] | None:
    r = np.asarray(ref.get("counts", []), dtype=float)
    c = np.asarray(cur.get("counts", []), dtype=float)
    if len(r) != len(c):
        return None
    unseen = {str(k): float(v) for k, v in (cur.get("unseen") or {}).items()}
    r_total = float(r.sum()) + float(ref.get("other") or 0)
    c_total = float(c.sum()) + float(cur.get("unseen_count") or 0)
    if not (r_total and c_total):
        return None
    cells = [
        (str(k), float(rv) / r_total, float(cv) / c_total)
        for k, rv, cv in zip(ref["categories"], r, c, strict=True)
    ]
    cells += [(k, 0.0, v / c_total) for k, v in unseen.items()]
    cells.sort(key=lambda x: (-x[1], -x[2]))
    if len(cells) > max_categories:
        keep = sorted(cells, key=lambda x: -max(x[1], x[2]))[: max_categories - 1]
        cells = [x for x in cells if x in keep]
    rest_r, rest_c = 1.0 - sum(x[1] for x in cells), 1.0 - sum(x[2] for x in cells)
    other = bool(rest_r > 1e-9 or rest_c > 1e-9)
    if other:
        cells.append(("(other)", max(rest_r, 0.0), max(rest_c, 0.0)))
    return {
        "kind": "categorical",
        "categories": [x[0] for x in cells],
        "reference": [round(x[1], 5) for x in cells],
        "current": [round(x[2], 5) for x in cells],
        "other": other,
    }


# ------------------------------------------------------------------ charts
@dataclass
class Tick:
    """An axis label at ``pos`` pixels."""

    pos: float
    label: str
    anchor: str = "middle"


@dataclass
class Dot:
    """One observation on a line, with its tooltip."""

    x: float
    y: float
    title: str
    bad: bool = False


@dataclass
class Line:
    """One series: an SVG polyline and its dots."""

    name: str
    color: str
    points: str
    dots: list[Dot]


@dataclass
class Bar:
    """One bar, with its tooltip."""

    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass
class Chart:
    """What the template draws: a plot box, axes, threshold rules, lines or bars."""

    title: str
    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float
    subtitle: str = ""
    empty: str = ""
    xticks: list[Tick] = field(default_factory=list)
    xlabels: list[tuple[float, str, str]] = field(default_factory=list)  # (x, text, full text)
    yticks: list[Tick] = field(default_factory=list)
    rules: list[Tick] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, color)
    flagged: bool = False
    rotate: bool = False  # x labels slanted (category names)


Point = tuple[int, float, str, bool]  # (time ms, value, tooltip, out of bounds)


def _nice_ticks(lo: float, hi: float, n: int = 4) -> tuple[float, float, list[float]]:
    if not hi > lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start, stop = math.floor(lo / step) * step, math.ceil(hi / step) * step
    count = round((stop - start) / step)
    return start, stop, [start + i * step for i in range(count + 1)]


def line_chart(
    title: str,
    series: Sequence[tuple[str, str, Sequence[Point]]],
    *,
    rules: Sequence[tuple[float, str]] = (),
    floor: float | None = None,
    ceil: float | None = None,
    size: tuple[int, int] = (640, 220),
    subtitle: str = "",
    empty: str = "No data yet.",
) -> Chart:
    """Lines over time; ``rules`` are dashed horizontal thresholds; ``floor``/``ceil`` clamp the axis."""
    width, height = size
    small = width < 400
    c = Chart(title, width, height, 44.0, width - 10.0, 10.0, height - 24.0, subtitle=subtitle)
    pts = [p for _, _, s in series for p in s if p[1] is not None and math.isfinite(p[1])]
    if not pts:
        c.empty = empty
        return c
    values = [p[1] for p in pts] + [v for v, _ in rules if math.isfinite(v)]
    lo, hi = min(values), max(values)
    lo, hi = (min(lo, floor) if floor is not None else lo), (max(hi, ceil) if ceil is not None else hi)
    if floor is not None and ceil is not None:
        lo, hi = floor, ceil
    start, stop, yticks = _nice_ticks(lo, hi, 3 if small else 4)
    if floor is not None:
        start = max(start, floor)
        yticks = [t for t in yticks if t >= floor]
    t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
    if t0 == t1:
        t0, t1 = t0 - 3_600_000, t1 + 3_600_000

    def sx(t: float) -> float:
        return round(c.x0 + (t - t0) / (t1 - t0) * (c.x1 - c.x0), 1)

    def sy(v: float) -> float:
        return round(c.y1 - (v - start) / ((stop - start) or 1) * (c.y1 - c.y0), 1)

    c.yticks = [Tick(sy(v), _num(v)) for v in yticks]
    times = sorted({p[0] for p in pts})
    shown = (
        [times[0], times[-1]] if small or len(times) < 3 else [times[0], times[len(times) // 2], times[-1]]
    )
    c.xticks = [
        Tick(sx(t), _time(t, short=True), "start" if t == t0 else "end" if t == t1 else "middle")
        for t in dict.fromkeys(shown)
    ]
    c.rules = [Tick(sy(v), label) for v, label in rules if math.isfinite(v)]
    for name, color, s in series:
        ok = [p for p in sorted(s, key=lambda p: p[0]) if p[1] is not None and math.isfinite(p[1])]
        if not ok:
            continue
        dots = [Dot(sx(p[0]), sy(p[1]), p[2], p[3]) for p in ok]
        points = " ".join(f"{d.x},{d.y}" for d in dots)
        if len(dots) > MAX_DOTS:  # a long history: keep the page small, mark only what matters
            dots = [d for d in dots[:-1] if d.bad] + dots[-1:]
        c.lines.append(Line(name, color, points, dots))
        c.flagged = c.flagged or any(p[3] for p in ok)
    if len(series) > 1:
        c.legend = [(ln.name, ln.color) for ln in c.lines]
    return c


def bar_chart(
    title: str,
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    boundaries: Sequence[str] | None = None,
    subtitle: str = "",
    rotate: bool = False,
    flagged: bool = False,
) -> Chart:
    """Reference against current shares, bin by bin.

    ``labels`` name each bin (shown under it, shortened, and in full in its tooltip); with
    ``boundaries`` (one per gap between bins, e.g. numeric edges) those are shown instead.
    """
    width, height = 300, 160 if rotate else 150
    c = Chart(title, width, height, 34.0, width - 8.0, 8.0, height - (42.0 if rotate else 22.0))
    c.subtitle, c.flagged, c.rotate = subtitle, flagged, rotate
    c.legend = [("reference", GREY), ("current", ORANGE)]
    top = max([*reference, *current, 0.0])
    _, stop, ticks = _nice_ticks(0.0, top or 1.0, 3)
    scale = (c.y1 - c.y0) / (stop or 1.0)
    c.yticks = [Tick(round(c.y1 - t * scale, 1), f"{t:.0%}" if stop >= 0.1 else f"{t:.1%}") for t in ticks]
    slot = (c.x1 - c.x0) / max(len(labels), 1)
    bar = max(slot * 0.38, 1.0)
    for i, (full, r, k) in enumerate(zip(labels, reference, current, strict=True)):
        x = c.x0 + i * slot + slot * 0.12
        for j, (v, color, who) in enumerate(((r, GREY, "reference"), (k, ORANGE, "current"))):
            h = round(v * scale, 1)
            c.bars.append(
                Bar(
                    round(x + j * bar, 1),
                    round(c.y1 - h, 1),
                    round(bar, 1),
                    h,
                    color,
                    f"{full}: {who} {v:.1%}",
                )
            )
    if boundaries is not None:
        every = max(1, math.ceil(len(boundaries) / 5))
        c.xlabels = [
            (round(c.x0 + (i + 1) * slot, 1), text, text)
            for i, text in enumerate(boundaries)
            if i % every == 0
        ]
    else:
        every = 1 if rotate else max(1, math.ceil(len(labels) / 8))
        c.xlabels = [
            (round(c.x0 + (i + 0.5) * slot, 1), _short(text), text)
            for i, text in enumerate(labels)
            if i % every == 0
        ]
    return c


def _short(text: str, n: int = 10) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ------------------------------------------------------------- sections
def _drift(run: MonitorRun) -> Mapping[str, Any]:
    return run.result.get("drift") or {}


def _share_chart(runs: list[MonitorRun]) -> Chart:
    points: list[Point] = []
    threshold = None
    for r in runs:
        ds = _drift(r).get("dataset")
        if not ds:
            continue
        share = ds["weighted_share"] if ds.get("weighted_share") is not None else ds.get("share")
        if share is None:
            continue
        tip = f"{_time(r.started_at)}: {ds.get('n_drifted')} of {ds.get('n_features')} features drifted"
        points.append((r.started_at, float(share), tip, bool(ds.get("drifted"))))
        threshold = ds.get("threshold")
    rules = [(float(threshold), f"data-set drift at {threshold:g}")] if threshold is not None else []
    return line_chart(
        "Share of drifted features",
        [("share", BLUE, points)],
        rules=rules,
        floor=0.0,
        ceil=1.0,
        empty="No drift results yet (no reference profile, or too few rows).",
    )


def _drift_charts(runs: list[MonitorRun]) -> tuple[list[Chart], int]:
    by_feature: dict[str, list[tuple[MonitorRun, Mapping[str, Any]]]] = {}
    for r in runs:
        d = _drift(r)
        for f in [*d.get("features", []), *([d["prediction"]] if d.get("prediction") else [])]:
            by_feature.setdefault(f["feature"], []).append((r, f))
    if not by_feature:
        return [], 0
    charts = []
    for name, seen in by_feature.items():
        usable = [(r, f) for r, f in seen if f.get("method") and f.get("statistic") is not None]
        last = seen[-1][1]
        if not usable:
            charts.append(line_chart(name, [], size=(300, 130), empty=last.get("error") or "No statistic."))
            continue
        method = usable[-1][1]["method"]
        threshold = float(usable[-1][1]["threshold"])
        p_value = drift_methods.METHODS[method].p_value if method in drift_methods.METHODS else False
        points = [
            (
                r.started_at,
                float(f["statistic"]),
                f"{_time(r.started_at)}: {method} {_num(f['statistic'])}"
                + (" (drifted)" if f.get("drifted") else ""),
                bool(f.get("drifted")),
            )
            for r, f in usable
            if f["method"] == method
        ]
        other = len(usable) - len(points)
        role = " (prediction)" if last.get("role") == "prediction" else ""
        sub = (
            f"{method} p-value, drift below {threshold:g}" if p_value else f"{method}, drift at {threshold:g}"
        )
        if other:
            sub += f"; {other} earlier run(s) used another method"
        chart = line_chart(
            f"{name}{role}",
            [(method, BLUE, points)],
            rules=[(threshold, "threshold")],
            floor=0.0,
            ceil=1.0 if p_value else None,
            size=(300, 130),
            subtitle=sub,
        )
        chart.flagged = bool(last.get("drifted"))
        charts.append(chart)
    charts.sort(key=lambda ch: not ch.flagged)  # drifted now: first; otherwise the run's order
    return charts[:MAX_FEATURE_CHARTS], max(len(charts) - MAX_FEATURE_CHARTS, 0)


def _distribution_charts(
    dists: Mapping[str, Any] | None, latest: MonitorRun | None
) -> tuple[list[Chart], int]:
    if not dists:
        return [], 0
    verdicts: dict[str, Mapping[str, Any]] = {}
    if latest is not None:
        d = _drift(latest)
        for f in [*d.get("features", []), *([d["prediction"]] if d.get("prediction") else [])]:
            verdicts[f["feature"]] = f
    charts = []
    for name, dist in dists.items():
        if not isinstance(dist, Mapping):
            continue
        ref, cur = list(dist.get("reference") or []), list(dist.get("current") or [])
        boundaries: list[str] | None = None
        if dist.get("kind") == "categorical":
            labels = [str(x) for x in dist.get("categories") or []]
        else:
            edges = [float(e) for e in dist.get("edges") or []]
            labels = _bin_labels(edges, bool(dist.get("discrete")))
            boundaries = None if dist.get("discrete") else [f"{e:.3g}" for e in edges]
        if not (len(labels) == len(ref) == len(cur)) or not labels:
            continue
        if dist.get("discrete") and ref[0] == 0 and cur[0] == 0:
            labels, ref, cur = labels[1:], ref[1:], cur[1:]  # nothing below the reference's values
        v = verdicts.get(name, {})
        sub = ""
        if v.get("statistic") is not None:
            sub = f"{v.get('method')} {_num(v['statistic'])} (threshold {_num(v.get('threshold'))})"
        charts.append(
            bar_chart(
                f"{name} (prediction)" if dist.get("role") == "prediction" else name,
                labels,
                ref,
                cur,
                boundaries=boundaries,
                subtitle=sub,
                flagged=bool(v.get("drifted")),
                rotate=dist.get("kind") == "categorical",
            )
        )
    charts.sort(key=lambda ch: not ch.flagged)
    return charts[:MAX_FEATURE_CHARTS], max(len(charts) - MAX_FEATURE_CHARTS, 0)


def _bin_labels(edges: list[float], discrete: bool) -> list[str]:
    """Bins (-inf, e_1), [e_1, e_2), ..., [e_k, inf) by name; a discrete column's bins by value."""
    if not edges:
        return ["all values"]
    if discrete:
        return [f"<{_num(edges[0])}", *(_num(e) for e in edges[:-1]), f"≥{_num(edges[-1])}"]
    inner = [f"[{_num(a)}, {_num(b)})" for a, b in itertools.pairwise(edges)]
    return [f"<{_num(edges[0])}", *inner, f"≥{_num(edges[-1])}"]


def _series(
    runs: Iterable[MonitorRun],
    key: str,
    label: str,
    *,
    below: float | None = None,
    above: float | None = None,
) -> list[Point]:
    """A value over time; points under ``below`` or over ``above`` are flagged."""
    out: list[Point] = []
    for r in runs:
        v = r.values.get(key)
        if v is not None and math.isfinite(v):
            bad = (below is not None and v < below) or (above is not None and v > above)
            out.append((r.started_at, float(v), f"{_time(r.started_at)}: {label} {_num(v)}", bad))
    return out


def _threshold(runs: list[MonitorRun], check: str, name: str) -> float | None:
    for r in reversed(runs):
        for c in r.checks:
            if c.check == check and c.name == name and c.threshold is not None:
                return float(c.threshold)
    return None


def _performance_chart(runs: list[MonitorRun]) -> Chart:
    minimum = _threshold(runs, "performance", "accuracy")
    floor = _threshold(runs, "estimate", "accuracy")
    measured = _series(runs, "performance.accuracy", "accuracy", below=minimum)
    estimated = _series(runs, "estimate.accuracy", "estimated accuracy", below=floor)
    if measured or estimated:
        rules = [(minimum, "minimum")] if minimum is not None else []
        rules += [(floor, "estimate floor")] if floor is not None else []
        return line_chart(
            "Accuracy",
            [("measured (actuals)", GREEN, measured), ("estimated (no labels)", ORANGE, estimated)],
            rules=rules,
            ceil=1.0,
        )
    limit = _threshold(runs, "performance", "rmse")
    rmse = _series(runs, "performance.rmse", "RMSE", above=limit)
    mae = _series(runs, "performance.mae", "MAE")
    return line_chart(
        "Error (regression)",
        [("RMSE", GREEN, rmse), ("MAE", ORANGE, mae)],
        floor=0.0,
        rules=[(limit, "maximum RMSE")] if limit is not None else [],
        empty="No accuracy yet: actuals have not arrived and no label-free estimate was made.",
    )


def _latency_chart(runs: list[MonitorRun]) -> Chart:
    limit = _threshold(runs, "service", "latency_p99_ms")
    p50 = _series(runs, "service.latency_p50_ms", "p50 ms")
    p99 = _series(runs, "service.latency_p99_ms", "p99 ms", above=limit)
    return line_chart(
        "Model latency (ms)",
        [("p50", BLUE, p50), ("p99", ORANGE, p99)],
        floor=0.0,
        rules=[(limit, f"p99 limit {limit:g} ms")] if limit is not None else [],
        empty="No service figures yet (no predictions in the windows).",
    )


# ---------------------------------------------------------------- tables
def _latest(run: MonitorRun) -> dict[str, Any]:
    ds = _drift(run).get("dataset") or {}
    return {
        "monitor": run.monitor,
        "health": run.health,
        "health_class": HEALTH_CLASS.get(run.health, "unknown"),
        "started": _time(run.started_at),
        "window": run.result.get("window", ""),
        "span": f"{_time(run.window_start)} to {_time(run.window_end)}",
        "rows": run.rows,
        "trigger": run.trigger,
        "error": run.result.get("error") if run.health == "failed" else None,
        "drift": f"{ds['n_drifted']} of {ds['n_features']} features drifted" if ds else None,
    }


def _model(run: MonitorRun | None) -> str:
    if run is None or not run.result.get("model"):
        return "—"
    return f"{run.result['model']} v{run.result.get('version', '?')}"


def _check_row(c: Check) -> dict[str, Any]:
    return {
        "status": c.status,
        "check": c.check,
        "name": c.name,
        "value": _num(c.value),
        "threshold": _num(c.threshold),
        "detail": c.detail,
    }


def _history_row(r: MonitorRun) -> dict[str, Any]:
    checks = r.checks
    ds = _drift(r).get("dataset") or {}
    return {
        "started": _time(r.started_at),
        "monitor": r.monitor,
        "health": r.health,
        "health_class": HEALTH_CLASS.get(r.health, "unknown"),
        "rows": r.rows,
        "window": r.result.get("window", ""),
        "trigger": r.trigger,
        "share": _num(ds.get("weighted_share") if ds.get("weighted_share") is not None else ds.get("share")),
        "fails": sum(c.status == "fail" for c in checks),
        "warns": sum(c.status == "warn" for c in checks),
        "error": r.result.get("error") or "",
    }


def _num(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    if not math.isfinite(v):
        return "—"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3g}"


def _time(ms: int | None, *, short: bool = False) -> str:
    if ms is None:
        return "—"
    at = datetime.fromtimestamp(ms / 1000, UTC)
    return at.strftime("%m-%d %H:%M") if short else at.strftime("%Y-%m-%d %H:%M UTC")
