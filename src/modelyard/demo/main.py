"""The demo: train a few credit-default models, track everything, then serve the results.

It shows the data scientist's loop end to end: params, per-iteration loss, final metrics,
dataset lineage, an HTML report artifact, a search ordered by a metric, and the same data
through the REST API and the CLI.
"""

from __future__ import annotations

import html
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

import modelyard as my
from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import new_id
from modelyard.core.settings import get_settings
from modelyard.demo.data import TARGET, make_credit_data
from modelyard.demo.serving_tour import serving_tour
from modelyard.demo.tour import CHAMPION_MODEL, governance_tour, register_champion

PROJECT = "credit-risk"
EXPERIMENT = "baseline"
SEED = 7
METRICS = ("auc", "ks", "accuracy", "log_loss")


@dataclass(frozen=True)
class ModelSpec:
    """One model the demo trains."""

    name: str
    family: str
    params: dict[str, Any]


MODELS = (
    ModelSpec("logreg-C0.1", "logistic_regression", {"model": "LogisticRegression", "C": 0.1}),
    ModelSpec("logreg-C1", "logistic_regression", {"model": "LogisticRegression", "C": 1.0}),
    ModelSpec(
        "gbm-50x2",
        "gradient_boosting",
        {"model": "GradientBoostingClassifier", "n_estimators": 50, "max_depth": 2, "learning_rate": 0.1},
    ),
    ModelSpec(
        "gbm-100x3",
        "gradient_boosting",
        {"model": "GradientBoostingClassifier", "n_estimators": 100, "max_depth": 3, "learning_rate": 0.1},
    ),
)


@dataclass(frozen=True)
class DemoResult:
    """What the demo recorded."""

    project: str
    experiment: str
    run_ids: list[str]
    best_run_id: str
    best_run_name: str
    best_auc: float
    tracking_uri: str
    seconds: float
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    champion_version: int | None = None
    audit_ok: bool = False
    serving: dict[str, Any] = field(default_factory=dict)


def _pipeline(spec: ModelSpec, frame: pd.DataFrame) -> Any:
    """Scaling and one-hot encoding in front of the model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in frame.columns if c not in categorical]
    prep = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    kwargs = {k: v for k, v in spec.params.items() if k != "model"}
    if spec.family == "logistic_regression":
        model: Any = LogisticRegression(max_iter=1000, **kwargs)
    else:
        model = GradientBoostingClassifier(random_state=SEED, **kwargs)
    return Pipeline([("prep", prep), ("model", model)])


def _scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """AUC, KS, accuracy at 0.5 and log loss of predicted default probabilities."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, proba)
    return {
        "auc": float(roc_auc_score(y, proba)),
        "ks": float(np.max(tpr - fpr)),
        "accuracy": float(accuracy_score(y, proba >= 0.5)),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
    }


def _report_html(spec: ModelSpec, run_id: str, metrics: dict[str, float], n_train: int, n_valid: int) -> str:
    """A small self-contained HTML page with the run's params and metrics."""

    def rows(items: dict[str, Any]) -> str:
        return "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(f'{v:.4f}' if isinstance(v, float) else str(v))}"
            "</td></tr>"
            for k, v in items.items()
        )

    title = html.escape(f"{spec.name}: credit default model report")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}
table{{border-collapse:collapse;margin-bottom:1.5rem}}td,th{{border:1px solid #ccc;padding:.3rem .8rem}}
td:last-child{{text-align:right;font-variant-numeric:tabular-nums}}th{{background:#f3f3f3}}</style></head>
<body><h1>{title}</h1>
<p>Run <code>{html.escape(run_id)}</code> in project {PROJECT} / {EXPERIMENT}.
Trained on {n_train:,} applications, validated on {n_valid:,}.</p>
<h2>Validation metrics</h2><table><tr><th>metric</th><th>value</th></tr>{rows(metrics)}</table>
<h2>Parameters</h2><table><tr><th>param</th><th>value</th></tr>{rows(spec.params)}</table>
</body></html>
"""


def _train_one(
    spec: ModelSpec, train: pd.DataFrame, valid: pd.DataFrame, session: str, workdir: Path
) -> tuple[str, dict[str, float]]:
    """Train one model inside a run and record everything about it."""
    from sklearn.metrics import log_loss

    x_train, y_train = train.drop(columns=TARGET), train[TARGET].to_numpy()
    x_valid, y_valid = valid.drop(columns=TARGET), valid[TARGET].to_numpy()
    with my.start_run(name=spec.name, tags={"demo_session": session}) as run:
        my.log_params(spec.params)
        my.set_tag("model_family", spec.family)
        my.log_input(train, name="applications", context="training")
        my.log_input(valid, name="applications", context="validation")
        pipe = _pipeline(spec, x_train).fit(x_train, y_train)
        proba = pipe.predict_proba(x_valid)[:, 1]
        if spec.family == "gradient_boosting":
            features = pipe[:-1].transform(x_valid)
            for step, stage in enumerate(pipe[-1].staged_predict_proba(features), start=1):
                my.log_metric("val_loss", float(log_loss(y_valid, stage[:, 1], labels=[0, 1])), step=step)
        metrics = _scores(y_valid, proba)
        my.log_metrics(metrics)
        my.log_model(pipe, input_example=x_train.head(5))
        report = workdir / spec.name / "report.html"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(_report_html(spec, run.id, metrics, len(train), len(valid)), encoding="utf-8")
        my.log_artifact(report)
    return run.id, metrics


def _check_port(host: str, port: int) -> None:
    """Fail before training, not after, when the server could not start."""
    from modelyard.server.run import check_bind_address

    check_bind_address(host, auth=False)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InvalidArgument(
                f"Cannot listen on {host}:{port} ({exc.strerror}): pass another --port, or --no-serve."
            ) from None


def _results_table(session: str) -> tuple[Table, list[Any]]:
    runs = my.search_runs(f"tags.demo_session = '{session}'", order_by=["metrics.auc DESC"])
    table = Table(title="Validation results (best first)", box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("run")
    table.add_column("id", style="dim")
    for key in METRICS:
        table.add_column(key, justify="right")
    for i, run in enumerate(runs):
        style = "bold green" if i == 0 else ""
        values = [f"{run.metrics[k]:.4f}" if run.metrics.get(k) is not None else "-" for k in METRICS]
        table.add_row(run.name, run.id[:8], *values, style=style)
    return table, list(runs)


def run_demo(*, serve: bool, host: str, port: int, n_rows: int, console: Console | None = None) -> DemoResult:
    """Train and track the demo models, print the results, and optionally serve them.

    Args:
        serve: Start the API server on the same store afterwards (until Ctrl-C).
        host: Address for the server.
        port: Port for the server.
        n_rows: Rows of synthetic data.
        console: Where to print (default: the terminal).

    Returns:
        The runs recorded and the best one.
    """
    from sklearn.model_selection import train_test_split

    out = console or Console()
    started = time.perf_counter()
    my.set_project(PROJECT)
    my.set_experiment(EXPERIMENT)
    client = my.get_client()
    if serve and not client.is_remote:
        _check_port(host, port)
    session = new_id()[:12]
    data = make_credit_data(n_rows, seed=SEED)
    train, valid = train_test_split(data, test_size=0.25, random_state=SEED, stratify=data[TARGET])
    out.print(
        f"Tracking into [bold]{client.uri}[/]: project [bold]{PROJECT}[/], experiment [bold]{EXPERIMENT}[/]. "
        f"{len(train):,} training and {len(valid):,} validation applications, "
        f"{data[TARGET].mean():.1%} defaults.",
        highlight=False,
    )
    run_ids: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    )
    with tempfile.TemporaryDirectory(prefix="modelyard-demo-") as tmp, progress:
        task = progress.add_task("Training", total=len(MODELS))
        for spec in MODELS:
            progress.update(task, description=f"Training [bold]{spec.name}[/]")
            run_id, metrics = _train_one(spec, train, valid, session, Path(tmp))
            run_ids.append(run_id)
            scores[spec.name] = metrics
            progress.advance(task)
        progress.update(task, description="Trained")
    my.flush()
    table, ranked = _results_table(session)
    out.print(table)
    best = ranked[0]
    best_auc = float(best.metrics["auc"])
    seconds = time.perf_counter() - started
    out.print(
        f"Best run: [bold green]{best.name}[/] ({best.id}) with AUC {best_auc:.4f}. "
        f"{len(run_ids)} runs recorded in {seconds:.1f}s.",
        highlight=False,
    )
    uri_flag = f" --uri {client.uri}" if client.uri != get_settings().resolved_store_uri else ""
    out.print(
        "Explore them:\n"
        f'  modelyard runs list --project {PROJECT} --order-by "metrics.auc DESC"{uri_flag}\n'
        f"  modelyard runs show {best.id[:8]}{uri_flag}\n"
        f"  modelyard runs compare {' '.join(r.id[:8] for r in ranked[:2])}{uri_flag}",
        highlight=False,
    )
    champion = register_champion(out, PROJECT, best.id, valid.drop(columns=TARGET).head(5), reference=valid)
    audit_ok = governance_tour(out, PROJECT, best.id)
    serving = serving_tour(out, PROJECT, CHAMPION_MODEL, ranked[1].id, valid)
    result = DemoResult(
        project=PROJECT,
        experiment=EXPERIMENT,
        run_ids=run_ids,
        best_run_id=best.id,
        best_run_name=best.name,
        best_auc=best_auc,
        tracking_uri=client.uri,
        seconds=seconds,
        metrics=scores,
        champion_version=champion,
        audit_ok=audit_ok,
        serving=serving,
    )
    if serve:
        _serve(out, host, port, remote=client.is_remote)
    return result


def _serve(out: Console, host: str, port: int, *, remote: bool) -> None:
    """Serve the embedded store the demo wrote to until Ctrl-C."""
    from modelyard.server.run import serve

    if remote:
        out.print("The runs went to a tracking server already, so no second server is started.")
        return
    settings = get_settings()
    base = f"http://{host}:{port}"
    out.print(
        f"\nServing the results at [bold]{base}[/] (Ctrl-C stops it). Try:\n"
        f"  curl {base}/health\n"
        f'  modelyard runs list --project {PROJECT} --uri {base} --order-by "metrics.auc DESC"\n'
        f"  OpenAPI: {base}/docs and {base}/openapi.json\n",
        highlight=False,
    )
    serve(
        settings,
        host=host,
        port=port,
        store_uri=settings.resolved_store_uri,
        artifacts_uri=settings.resolved_artifacts_uri,
    )
