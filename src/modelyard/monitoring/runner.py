"""One monitor run: read a window of the prediction log, judge it against the reference profile.

Everything that can be summarized streams: drift and data quality read the window batch by
batch into counts over the reference's bins (``summarize``), so memory stays bounded however
long the window. Accuracy, the label-free estimate and fairness need rows; they read only the
few columns they use, capped at ``MAX_LABELLED_ROWS`` rows (a uniform sample beyond that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.monitoring.schemas import Check, MonitorSpec, parse_window
from modelyard.serving import predlog
from modelyard.serving.predlog import INPUT_PREFIX

MAX_LABELLED_ROWS = 1_000_000
HEALTH_CODE = {"green": 0, "yellow": 1, "red": 2, "unknown": -1}


def window_bounds(spec: MonitorSpec, root: str, deployment: str, now_ms: int) -> tuple[int, int]:
    """[start, end) in ms for the monitor's window; a row window starts at its N-th newest row."""
    kind, n = parse_window(spec.window)
    if kind == "ms":
        return now_ms - n, now_ms
    rel = predlog.scan(root, deployment, None, now_ms, columns=["ts"], variant="primary")
    found = rel.order("ts DESC").limit(n).aggregate("epoch_ms(min(ts))").fetchall()
    start = found[0][0] if found and found[0][0] is not None else 0
    return int(start), now_ms


def run_checks(
    spec: MonitorSpec,
    *,
    root: str,
    deployment: str,
    profile: Mapping[str, Any] | None,
    start_ms: int,
    end_ms: int,
) -> dict[str, Any]:
    """Judge one window. Returns ``{"rows", "health", "checks", "values", "drift", ...}``."""
    counts = predlog.counts(root, deployment, start_ms, end_ms, with_actuals=True)
    primary = counts["variants"].get("primary", {"rows": 0, "with_actuals": 0})
    rows = int(primary["rows"])
    out: dict[str, Any] = {"rows": rows, "variants": counts["variants"], "checks": [], "values": {}}
    checks: list[Check] = []
    values: dict[str, float] = {"rows": float(rows)}

    if spec.service.enabled and counts["rows"]:
        out["service"] = _service(root, deployment, start_ms, end_ms)
        checks += _service_checks(spec, out["service"], values)
    if rows < spec.min_rows:
        checks.append(
            Check(
                check="window",
                name="rows",
                status="skipped",
                value=rows,
                threshold=spec.min_rows,
                detail=f"{rows} primary predictions in the window; the monitor needs {spec.min_rows}.",
            )
        )
        return _finish(out, checks, values, enough=False)
    if profile is None:
        checks.append(
            Check(
                check="drift",
                name="reference",
                status="skipped",
                detail="The deployed version has no reference profile: set one to check drift and quality.",
            )
        )
    else:
        summary = _summarize(root, deployment, start_ms, end_ms, profile)
        if spec.drift.enabled:
            from modelyard.monitoring.report import distributions

            out["drift"] = _drift(spec, profile, summary)
            checks += _drift_checks(out["drift"], values)
            features = [f["feature"] for f in out["drift"]["features"]]
            out["distributions"] = distributions(profile, summary, features=features)  # for the report
        if spec.quality.enabled:
            out["quality"] = _quality(spec, profile, summary)
            checks += _quality_checks(out["quality"], values)
        if spec.drift.enabled and profile.get("target") and primary.get("with_actuals"):
            out["target_drift"] = _target_drift(spec, root, deployment, start_ms, end_ms, profile)
            checks += _target_checks(out["target_drift"], values)
    if spec.performance.enabled or spec.fairness.attributes:
        labelled = _labelled_rows(root, deployment, start_ms, end_ms, spec, rows)
        checks += _performance(spec, profile, labelled, int(primary.get("with_actuals", 0)), out, values)
        if spec.fairness.attributes:
            checks += _fairness(spec, labelled, out, values)
    return _finish(out, checks, values, enough=True)


# ---------------------------------------------------------------- service
def _service(root: str, deployment: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    rel = predlog.scan(
        root, deployment, start_ms, end_ms, columns=["ts", "latency_ms", "prediction_id", "variant"]
    )
    answered = rel.filter("variant NOT LIKE 'replay-%'")
    p50, p95, p99, requests, first, last = answered.aggregate(
        "quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99), "
        "count(DISTINCT prediction_id), epoch_ms(min(ts)), epoch_ms(max(ts))"
    ).fetchall()[0]
    span_s = max((end_ms - start_ms) / 1000.0, 1e-3)
    return {
        "latency_p50_ms": _num(p50),
        "latency_p95_ms": _num(p95),
        "latency_p99_ms": _num(p99),
        "predictions": int(requests or 0),
        "throughput_per_s": float(requests or 0) / span_s,
        "first_ts_ms": first,
        "last_ts_ms": last,
    }


def _service_checks(spec: MonitorSpec, service: dict[str, Any], values: dict[str, float]) -> list[Check]:
    for key in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "throughput_per_s"):
        if service.get(key) is not None:
            values[f"service.{key}"] = float(service[key])
    p99 = service.get("latency_p99_ms")
    if p99 is None:
        return []
    bad = p99 > spec.service.max_p99_ms
    return [
        Check(
            check="service",
            name="latency_p99_ms",
            status="fail" if bad else "ok",
            value=p99,
            threshold=spec.service.max_p99_ms,
            detail=f"p99 model latency {p99:.1f} ms" + (" is above its limit." if bad else "."),
        )
    ]


# ------------------------------------------------------------ drift, quality
def _summarize(
    root: str, deployment: str, start_ms: int, end_ms: int, profile: Mapping[str, Any]
) -> dict[str, Any]:
    from modelyard.monitoring.summary import summarize

    wanted = [INPUT_PREFIX + name for name in profile.get("columns", {})]
    column_map: dict[str, str] = {}
    pred = profile.get("prediction")
    if pred:
        column = "score" if pred.get("kind") == "numeric" else "prediction"
        wanted.append(column)
        column_map[pred["name"]] = column
    batches = predlog.iter_batches(root, deployment, start_ms, end_ms, columns=wanted, variant="primary")
    return summarize(profile, batches, column_map=column_map, prefix=INPUT_PREFIX)


def _drift(spec: MonitorSpec, profile: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    from modelyard.monitoring.comparison import compare

    cfg = spec.drift
    features = [f for f in (cfg.features or list(profile["columns"])) if f in profile["columns"]]
    report = compare(
        profile,
        summary,
        columns=features,
        methods=cfg.methods or None,
        thresholds=cfg.thresholds or None,
        importance=cfg.importance,
        drift_share=cfg.share_threshold,
    )
    return report.to_dict()


def _drift_checks(drift: Mapping[str, Any], values: dict[str, float]) -> list[Check]:
    checks = []
    for f in drift["features"]:
        if f.get("error"):
            checks.append(Check(check="drift", name=f["feature"], status="skipped", detail=f["error"]))
            continue
        values[f"drift.{f['feature']}"] = float(f["statistic"])
        checks.append(
            Check(
                check="drift",
                name=f["feature"],
                status="warn" if f["drifted"] else "ok",
                value=f["statistic"],
                threshold=f["threshold"],
                detail=f"{f['method']}",
            )
        )
    ds = drift["dataset"]
    share = ds["weighted_share"] if ds.get("weighted_share") is not None else ds["share"]
    values["drift.share"] = float(ds["share"])
    values["drift.drifted_features"] = float(ds["n_drifted"])
    if ds.get("weighted_share") is not None:
        values["drift.weighted_share"] = float(ds["weighted_share"])
    checks.append(
        Check(
            check="drift",
            name="dataset",
            status="fail" if ds["drifted"] else "ok",
            value=share,
            threshold=ds["threshold"],
            detail=f"{ds['n_drifted']} of {ds['n_features']} features drifted"
            + (" (weighted by importance)" if ds.get("weighted_share") is not None else ""),
        )
    )
    pred = drift.get("prediction")
    if pred and not pred.get("error"):
        values["drift.prediction"] = float(pred["statistic"])
        checks.append(
            Check(
                check="drift",
                name="prediction",
                status="warn" if pred["drifted"] else "ok",
                value=pred["statistic"],
                threshold=pred["threshold"],
                detail=pred["method"],
            )
        )
    return checks


def _target_drift(
    spec: MonitorSpec, root: str, deployment: str, start_ms: int, end_ms: int, profile: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The actuals that arrived for the window against the reference's target distribution."""
    from modelyard.monitoring.comparison import compare
    from modelyard.monitoring.summary import summarize

    target = profile["target"]
    column = "actual_value" if target.get("kind") == "numeric" else "actual"
    rel = predlog.scan(
        root, deployment, start_ms, end_ms, columns=["prediction_id"], variant="primary", with_actuals=True
    )
    batches = rel.filter("actual IS NOT NULL").project(column).to_arrow_reader(50_000)
    summary = summarize(profile, batches, column_map={target["name"]: column})
    report = compare(
        profile,
        summary,
        columns=[],
        methods=spec.drift.methods or None,
        thresholds=spec.drift.thresholds or None,
    ).to_dict()
    return report.get("target")


def _target_checks(target: Mapping[str, Any] | None, values: dict[str, float]) -> list[Check]:
    if not target or target.get("error"):
        return []
    values["drift.target"] = float(target["statistic"])
    return [
        Check(
            check="drift",
            name="target",
            status="warn" if target["drifted"] else "ok",
            value=target["statistic"],
            threshold=target["threshold"],
            detail=f"{target['method']} on the actuals (label shift)",
        )
    ]


def _quality(spec: MonitorSpec, profile: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    from modelyard.monitoring.quality import check_quality

    cfg = spec.quality
    return check_quality(
        profile,
        summary,
        missing_tolerance=cfg.max_missing_increase,
        out_of_range_tolerance=cfg.max_out_of_range,
        unseen_tolerance=cfg.max_unseen,
    ).to_dict()


def _quality_checks(quality: Mapping[str, Any], values: dict[str, float]) -> list[Check]:
    checks = []
    for col in quality.get("columns", []):
        problems = col.get("issues") or []
        values[f"quality.{col['column']}.missing_rate"] = float(col.get("missing_rate") or 0.0)
        checks.append(
            Check(
                check="quality",
                name=col["column"],
                status="warn" if problems else "ok",
                value=_worst_rate(col),
                detail="; ".join(problems),
            )
        )
    for name in quality.get("missing_columns", []) or []:
        checks.append(
            Check(check="quality", name=name, status="warn", detail="missing from the served inputs")
        )
    values["quality.issues"] = float(sum(c.status == "warn" for c in checks))
    return checks


# ------------------------------------------------- accuracy, estimate, fairness
def _labelled_rows(
    root: str, deployment: str, start_ms: int, end_ms: int, spec: MonitorSpec, rows: int
) -> pa.Table:
    """The window's primary rows with their actuals; ``rows`` is their count (from ``counts``)."""
    columns = ["prediction", "prediction_value", "score"]
    columns += [
        INPUT_PREFIX + c for c in dict.fromkeys([*spec.performance.segments, *spec.fairness.attributes])
    ]
    rel = predlog.scan(
        root, deployment, start_ms, end_ms, columns=columns, variant="primary", with_actuals=True
    )
    if rows > MAX_LABELLED_ROWS:  # the actuals join keeps one row per prediction
        rel = rel.order("random()").limit(MAX_LABELLED_ROWS)
    result = rel.arrow()  # a reader on DuckDB 2, a table before
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def _performance(
    spec: MonitorSpec,
    profile: Mapping[str, Any] | None,
    table: pa.Table,
    n_actuals: int,
    out: dict[str, Any],
    values: dict[str, float],
) -> list[Check]:
    from modelyard.monitoring.performance import (
        by_segment,
        classification_metrics,
        estimate_performance,
        regression_metrics,
    )

    checks: list[Check] = []
    cfg = spec.performance
    task = _task(profile, table)
    score = (
        table.column("score").to_numpy(zero_copy_only=False).astype(float) if table.num_rows else np.array([])
    )
    confidence = (profile or {}).get("confidence")
    if (
        task == "classification"
        and cfg.estimate
        and confidence
        and table.num_rows
        and not np.isnan(score).all()
    ):
        mask = ~np.isnan(score)
        estimate = estimate_performance(confidence, score[mask])
        out["estimate"] = estimate
        base = confidence.get("reference", {}).get("actual", {}).get("accuracy")
        est = estimate.get("accuracy")
        if est is not None:
            values["estimate.accuracy"] = float(est)
            drop = (base - est) if base is not None else None
            bad = drop is not None and drop > cfg.max_estimated_drop
            checks.append(
                Check(
                    check="estimate",
                    name="accuracy",
                    status="warn" if bad else "ok",
                    value=est,
                    threshold=None if base is None else base - cfg.max_estimated_drop,
                    detail="label-free estimate" + (f"; reference {base:.3f}" if base is not None else ""),
                )
            )
    if not cfg.enabled:
        return checks
    has = (
        table.column("actual").is_valid().to_numpy(zero_copy_only=False)
        if table.num_rows
        else np.array([], bool)
    )
    if not has.any():
        checks.append(
            Check(
                check="performance", name="actuals", status="skipped", detail="No actuals in the window yet."
            )
        )
        return checks
    labelled = table.filter(pa.array(has))
    if task == "classification":
        y_true = labelled.column("actual").to_numpy(zero_copy_only=False)
        y_pred = labelled.column("prediction").to_numpy(zero_copy_only=False)
        y_score = labelled.column("score").to_numpy(zero_copy_only=False).astype(float)
        kwargs: dict[str, Any] = {"y_score": y_score} if not np.isnan(y_score).any() else {}
        metrics = classification_metrics(y_true, y_pred, **kwargs)
        segment_fn, seg_args = classification_metrics, (y_true, y_pred)
    else:
        y_true = labelled.column("actual_value").to_numpy(zero_copy_only=False).astype(float)
        y_pred = labelled.column("prediction_value").to_numpy(zero_copy_only=False).astype(float)
        metrics = regression_metrics(y_true, y_pred)
        segment_fn, seg_args, kwargs = regression_metrics, (y_true, y_pred), {}
    metrics["task"] = task
    metrics["rows_with_actuals"] = int(labelled.num_rows)
    metrics["actuals_total"] = n_actuals
    if cfg.segments:
        metrics["segments"] = {
            seg: by_segment(
                labelled.column(INPUT_PREFIX + seg).to_numpy(zero_copy_only=False),
                segment_fn,
                *seg_args,
                **kwargs,
            )
            for seg in cfg.segments
        }
    out["performance"] = metrics
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and value is not None:
            values[f"performance.{name}"] = float(value)
    for name, bound in cfg.minimum.items():
        checks.append(_bound("performance", name, metrics.get(name), bound, low=True))
    for name, bound in cfg.maximum.items():
        checks.append(_bound("performance", name, metrics.get(name), bound, low=False))
    return checks


def _bound(check: str, name: str, value: Any, bound: float, *, low: bool) -> Check:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Check(
            check=check, name=name, status="skipped", threshold=bound, detail=f"no {name} for this window"
        )
    bad = value < bound if low else value > bound
    word = "below" if low else "above"
    return Check(
        check=check,
        name=name,
        status="fail" if bad else "ok",
        value=float(value),
        threshold=bound,
        detail=f"{name} {value:.4g} is {word} {bound:g}" if bad else "",
    )


def _task(profile: Mapping[str, Any] | None, table: pa.Table) -> str:
    target = (profile or {}).get("target") or (profile or {}).get("prediction")
    if target:
        return "regression" if target.get("kind") == "numeric" else "classification"
    if table.num_rows and table.column("score").null_count < table.num_rows:
        return "classification"
    return "regression"


def _fairness(
    spec: MonitorSpec, table: pa.Table, out: dict[str, Any], values: dict[str, float]
) -> list[Check]:
    from modelyard.monitoring.fairness import check_fairness

    cfg = spec.fairness
    if not table.num_rows:
        return [
            Check(check="fairness", name="window", status="skipped", detail="No predictions in the window.")
        ]
    y_pred = table.column("prediction").to_numpy(zero_copy_only=False)
    favorable = str(cfg.favorable)
    has = table.column("actual").is_valid().to_numpy(zero_copy_only=False)
    y_true = table.column("actual").to_numpy(zero_copy_only=False) if has.all() else None
    groups = {
        a: table.column(INPUT_PREFIX + a).to_numpy(zero_copy_only=False).astype(str) for a in cfg.attributes
    }
    report = check_fairness(
        y_pred.astype(str),
        groups,
        y_true=None if y_true is None else y_true.astype(str),
        favorable=favorable,
        disparate_impact_threshold=cfg.min_disparate_impact,
        parity_threshold=cfg.max_parity_difference,
        opportunity_threshold=cfg.max_tpr_gap,
    )
    out["fairness"] = report.to_dict()
    checks = []
    for attr in out["fairness"]["attributes"]:
        name = attr["attribute"]
        for key in ("disparate_impact", "demographic_parity_difference", "equal_opportunity_difference"):
            if attr.get(key) is not None:
                values[f"fairness.{name}.{key}"] = float(attr[key])
        problems = attr.get("violations") or []
        checks.append(
            Check(
                check="fairness",
                name=name,
                status="fail" if problems else "ok",
                value=attr.get("disparate_impact"),
                threshold=cfg.min_disparate_impact,
                detail="; ".join(problems),
            )
        )
    return checks


# ------------------------------------------------------------------ health
def _finish(
    out: dict[str, Any], checks: list[Check], values: dict[str, float], *, enough: bool
) -> dict[str, Any]:
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        health = "red"
    elif "warn" in statuses:
        health = "yellow"
    elif enough:
        health = "green"
    else:
        health = "unknown"
    values["health"] = float(HEALTH_CODE[health])
    out["health"] = health
    out["checks"] = [c.model_dump() for c in checks]
    out["values"] = values
    return out


def _worst_rate(col: Mapping[str, Any]) -> float:
    """The largest of a column's problem rates: extra missing, out of range, unseen."""
    extra_missing = float(col.get("missing_rate") or 0.0) - float(col.get("reference_missing_rate") or 0.0)
    return max(
        extra_missing, float(col.get("out_of_range_rate") or 0.0), float(col.get("unseen_rate") or 0.0)
    )


def _num(v: Any) -> float | None:
    return None if v is None else float(v)
