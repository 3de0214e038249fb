"""The demo end to end on a throwaway home: what it trains, records and prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import modelyard as my
from modelyard import Client, fluent
from modelyard.core.settings import get_settings
from modelyard.demo.data import HOME_OWNERSHIP, TARGET, make_credit_data
from modelyard.demo.main import MODELS, PROJECT, DemoResult, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoResult, str, Path]]:
    """Run the demo once, on the default embedded store of a temporary home."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELYARD_HOME", str(home))
        for name in ("MODELYARD_TRACKING_URI", "MODELYARD_STORE_URI", "MODELYARD_ARTIFACTS_URI"):
            mp.delenv(name, raising=False)
        # The demo sets the fluent project and experiment; put them back afterwards.
        mp.setattr(fluent, "_project", fluent._project)
        mp.setattr(fluent, "_experiment", fluent._experiment)
        mp.setattr(fluent, "_experiment_id", None)
        get_settings.cache_clear()
        my.set_tracking_uri(None)
        try:
            console = Console(width=160, record=True)
            result = run_demo(serve=False, host="127.0.0.1", port=8080, n_rows=3000, console=console)
            yield result, console.export_text(), home
        finally:
            my.set_tracking_uri(None)
            get_settings.cache_clear()


def test_credit_data_is_deterministic_with_a_plausible_default_rate() -> None:
    a = make_credit_data(3000, seed=11)
    assert a.equals(make_credit_data(3000, seed=11))
    assert not a.equals(make_credit_data(3000, seed=12))
    assert len(a) == 3000 and set(a[TARGET].unique()) == {0, 1}
    assert 0.10 <= a[TARGET].mean() <= 0.20
    assert 0.10 <= make_credit_data()[TARGET].mean() <= 0.20
    assert set(a["home_ownership"].cat.categories) == set(HOME_OWNERSHIP)
    assert {"age", "income", "debt_to_income", "credit_utilization", "num_late_payments"} <= set(a.columns)
    assert not a.isna().any().any()


def test_demo_records_every_model(demo: tuple[DemoResult, str, Path]) -> None:
    result, _, demo_home = demo
    client = my.get_client()
    assert client.uri == f"sqlite:///{demo_home / 'modelyard.db'}"
    runs = client.search_runs(PROJECT, max_results=100)
    assert len(runs) == len(MODELS) == len(result.run_ids)
    assert {r.name for r in runs} == {m.name for m in MODELS}
    digests = set()
    for summary in runs:
        run = client.get_run(summary.id)
        assert run.status == "FINISHED"
        assert 0.5 < run.metrics["auc"] <= 1.0
        assert {"auc", "ks", "accuracy", "log_loss"} <= set(run.metrics)
        assert run.params["model"] in ("LogisticRegression", "GradientBoostingClassifier")
        assert run.tags["model_family"] in ("logistic_regression", "gradient_boosting")
        contexts = {i.context: i.dataset for i in run.inputs}
        assert set(contexts) == {"training", "validation"}
        assert contexts["training"].num_rows == 2250 and contexts["validation"].num_rows == 750
        digests.add(contexts["training"].digest)
        assert "report.html" in [a.path for a in client.list_artifacts(run.id)]
    assert len(digests) == 1  # every model saw the same training data


def test_gbm_loss_has_one_point_per_stage(demo: tuple[DemoResult, str, Path]) -> None:
    client = my.get_client()
    for spec in MODELS:
        (run,) = client.search_runs(PROJECT, filter=f"attributes.name = '{spec.name}'")
        history = client.get_metric_history(run.id, "val_loss")
        if spec.family == "gradient_boosting":
            assert history.steps == list(range(1, spec.params["n_estimators"] + 1))
            assert history.values[-1] < history.values[0]  # boosting lowers the validation loss
        else:
            assert len(history) == 0


def test_html_report_holds_the_metrics(demo: tuple[DemoResult, str, Path], tmp_path: Path) -> None:
    result, _, _ = demo
    client = my.get_client()
    path = client.download_artifact(result.best_run_id, "report.html", tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and result.best_run_id in text
    assert f"{result.best_auc:.4f}" in text


def test_demo_prints_the_ranking_and_the_best_run(demo: tuple[DemoResult, str, Path]) -> None:
    result, printed, _ = demo
    client = my.get_client()
    best = client.search_runs(PROJECT, order_by=["metrics.auc DESC"], max_results=1)[0]
    assert (result.best_run_id, result.best_run_name) == (best.id, best.name)
    assert f"Best run: {best.name}" in printed
    assert "Validation results" in printed and f"{best.metrics['auc']:.4f}" in printed
    names = {m.name for m in MODELS}
    rows = [line.split() for line in printed.splitlines() if line.split()[:1] and line.split()[0] in names]
    assert [row[0] for row in rows] == [
        r.name for r in client.search_runs(PROJECT, order_by=["metrics.auc DESC"])
    ]
    aucs = [float(row[2]) for row in rows]
    assert aucs == sorted(aucs, reverse=True)


def test_best_model_is_registered_as_champion(demo: tuple[DemoResult, str, Path]) -> None:
    result, _, _ = demo
    client = Client(result.tracking_uri)
    champion = client.get_model_version("credit-default", alias="champion", project=result.project)
    assert champion.version == result.champion_version and champion.run_id == result.best_run_id
    card = client.get_model_card("credit-default", alias="champion", project=result.project)
    assert "| auc |" in card and "applications" in card
    client.close()


def test_governed_promotion_and_verified_audit_trail(demo: tuple[DemoResult, str, Path]) -> None:
    result, output, _ = demo
    assert "refused" in output and "is protected" in output  # the gate held for the admin too
    assert "credit-decision@production is now v" in output  # and moved once the validator approved
    assert result.audit_ok and "Audit trail: intact" in output


def test_demo_serves_shadows_and_monitors(demo: tuple[DemoResult, str, Path]) -> None:
    result, text, _ = demo
    serving = result.serving
    # The injected shift (lower incomes, fuller credit lines) is found, and nothing else drifts.
    assert {"income", "credit_utilization"} <= set(serving["drifted"])
    assert not set(serving["drifted"]) & {
        "age",
        "months_employed",
        "loan_amount",
        "home_ownership",
        "purpose",
    }
    assert serving["health"] in ("yellow", "red") and serving["alerts"] == ["drift"]
    assert set(serving["accuracy"]) == {"primary", "challenger"}  # the shadow was captured and judged
    assert all(0.7 < a < 1 for a in serving["accuracy"].values())
    assert serving["rows"] > 0 and Path(serving["report"]).read_text().startswith("<!doctype html>")
    assert "deployment credit (production)" in text and "Alert" in text
    client = my.get_client()
    assert client.get_deployment("credit").variants[0].mode == "shadow"
    assert [r.reason for r in client.deployment_history("credit")][
        -1
    ] == "watch the next model on live traffic"
