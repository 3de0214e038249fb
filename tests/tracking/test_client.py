"""Tracking through the Client, each test run embedded and remote, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard import Client, Conflict, InvalidArgument, NotFound
from modelyard.tracking.limits import MAX_FLOAT, MAX_PARAM_VALUE_LENGTH


def _run(client: Client, project: str, name: str = "r", **kw):
    exp = client.get_or_create_experiment(project, "exp")
    return client.create_run(exp.id, name=name, **kw)


def test_project_and_experiment_are_created_on_first_use(client: Client, project: str) -> None:
    exp = client.get_or_create_experiment(project, "baseline")
    assert client.get_or_create_experiment(project, "baseline").id == exp.id
    assert client.get_project(project).id == exp.project_id
    assert [e.name for e in client.list_experiments(project)] == ["baseline"]
    listed = {p.name: p for p in client.list_projects()}
    assert listed[project].experiments == 1


def test_duplicate_project_is_a_clear_error(client: Client, project: str) -> None:
    client.create_project(project)
    with pytest.raises(Exception, match="already exists") as info:
        client.create_project(project)
    assert type(info.value).__name__ == "AlreadyExists"


def test_run_lifecycle_and_captured_fields(client: Client, project: str) -> None:
    run = _run(
        client,
        project,
        "gbm-1",
        user="alice",
        host="box",
        git_commit="abc123",
        git_dirty=False,
        python_version="3.11.7",
        entry_point="train.py",
    )
    assert run.status == "RUNNING" and run.end_time is None
    assert (run.user, run.host, run.git_commit, run.entry_point) == ("alice", "box", "abc123", "train.py")
    done = client.set_terminated(run.id, "FAILED")
    assert done.status == "FAILED" and done.end_time is not None and done.end_time >= done.start_time


def test_params_are_immutable(client: Client, project: str) -> None:
    run = _run(client, project)
    client.log_params(run.id, {"lr": 0.1, "depth": 3})
    client.log_param(run.id, "lr", 0.1)  # the same value again is fine
    with pytest.raises(Conflict, match=r"'lr' was already logged as '0.1'"):
        client.log_param(run.id, "lr", 0.2)
    assert client.get_run(run.id).params == {"lr": "0.1", "depth": "3"}


def test_rejected_batch_writes_nothing(client: Client, project: str) -> None:
    run = _run(client, project)
    client.log_param(run.id, "lr", "0.1")
    with pytest.raises(Conflict):
        client.log_batch(
            run.id, metrics=[{"key": "auc", "value": 0.9}], params={"lr": "0.5"}, tags={"t": "x"}
        )
    got = client.get_run(run.id)
    assert got.metrics == {} and got.tags == {}


def test_metrics_logged_in_a_loop_all_arrive_in_order(client: Client, project: str) -> None:
    run = _run(client, project)
    for step in range(2_000):
        client.log_metric(run.id, "loss", 1.0 / (step + 1), step=step)
    client.log_metrics(run.id, {"auc": 0.91, "ks": 0.42})
    history = client.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(2_000))
    assert history[-1].value == pytest.approx(1 / 2_000)
    assert client.get_run(run.id).metrics == {"loss": pytest.approx(1 / 2_000), "auc": 0.91, "ks": 0.42}


def test_log_batch_with_explicit_timestamps_and_latest_value(client: Client, project: str) -> None:
    run = _run(client, project)
    client.log_batch(
        run.id,
        metrics=[
            {"key": "acc", "value": 0.5, "step": 2, "timestamp": 1000},
            {"key": "acc", "value": 0.7, "step": 5, "timestamp": 900},
            {"key": "acc", "value": 0.6, "step": 3, "timestamp": 2000},
        ],
        params={"p": "1"},
        tags={"team": "risk"},
    )
    hist = client.get_metric_history(run.id, "acc")
    assert [(m.step, m.value, m.timestamp) for m in hist] == [(2, 0.5, 1000), (3, 0.6, 2000), (5, 0.7, 900)]
    got = client.get_run(run.id)
    assert got.metrics["acc"] == 0.7  # the latest step wins, not the latest write
    assert got.tags == {"team": "risk"} and got.params == {"p": "1"}


def test_nan_and_infinity_survive_the_round_trip(client: Client, project: str) -> None:
    run = _run(client, project)
    client.log_batch(
        run.id,
        metrics=[
            {"key": "m", "value": float("nan"), "step": 0},
            {"key": "m", "value": float("inf"), "step": 1},
        ],
    )
    hist = client.get_metric_history(run.id, "m")
    assert math.isnan(hist[0].value)
    assert hist[1].value == MAX_FLOAT


def test_big_batches_are_split_and_all_stored(client: Client, project: str) -> None:
    run = _run(client, project)
    client.log_batch(run.id, metrics=[{"key": "x", "value": i, "step": i} for i in range(25_000)])
    assert len(client.get_metric_history(run.id, "x")) == 25_000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, r: c.log_metric(r, "bad\nkey", 1.0), "not allowed"),
        (lambda c, r: c.log_metric(r, "a" * 251, 1.0), "the limit is 250"),
        (lambda c, r: c.log_metric(r, "ok", "high"), "must be a number"),
        (lambda c, r: c.log_param(r, "p", "x" * (MAX_PARAM_VALUE_LENGTH + 1)), "the limit is 6000"),
        (lambda c, r: c.log_batch(r, metrics=[{"value": 1}]), "'key' and 'value'"),
    ],
)
def test_limits_are_enforced_with_clear_errors(client: Client, project: str, call, message: str) -> None:
    run = _run(client, project)
    with pytest.raises(InvalidArgument, match=message):
        call(client, run.id)


def test_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="No run with id 'nope'"):
        client.get_run("nope")
    with pytest.raises(NotFound):
        client.log_batch("nope", params={"a": "1"})


def test_search_filter_order_and_pages(client: Client, project: str) -> None:
    exp = client.get_or_create_experiment(project, "exp")
    for i in range(12):
        r = client.create_run(exp.id, name=f"run-{i}")
        client.log_batch(
            r.id,
            metrics=[{"key": "auc", "value": 0.8 + i / 100}],
            params={"depth": str(i % 3)},
            tags={"team": "risk" if i % 2 else "ops"},
        )
        client.set_terminated(r.id)
    found = client.search_runs(
        project,
        filter="metrics.auc > 0.85 and params.depth = '1' and tags.team = 'risk'",
        order_by=["metrics.auc DESC"],
    )
    assert all(
        r.metrics["auc"] > 0.85 and r.params["depth"] == "1" and r.tags["team"] == "risk" for r in found
    )
    assert [r.name for r in found] == ["run-7"]

    ordered = client.search_runs(project, order_by=["metrics.auc DESC"], max_results=5)
    assert [r.name for r in ordered] == ["run-11", "run-10", "run-9", "run-8", "run-7"]
    names = [r.name for r in ordered]
    token = ordered.next_page_token
    while token:
        page = client.search_runs(project, order_by=["metrics.auc DESC"], max_results=5, page_token=token)
        names += [r.name for r in page]
        token = page.next_page_token
    assert names == [f"run-{i}" for i in range(11, -1, -1)]

    like = client.search_runs(
        project, filter="attributes.name LIKE 'run-1%' and attributes.status = 'FINISHED'"
    )
    assert sorted(r.name for r in like) == ["run-1", "run-10", "run-11"]
    assert client.search_runs(project, filter="attributes.name LIKE 'RUN-1%'") == []  # LIKE is case-sensitive
    assert len(client.search_runs(project, filter="attributes.name ILIKE 'RUN-1%'")) == 3
    in_list = client.search_runs(project, filter="params.depth IN ('0', '2') and tags.team != 'risk'")
    assert all(r.params["depth"] in ("0", "2") and r.tags["team"] == "ops" for r in in_list)
    assert sorted(r.name for r in in_list) == ["run-0", "run-2", "run-6", "run-8"]


def test_malformed_filter_names_the_position(client: Client, project: str) -> None:
    client.get_or_create_experiment(project, "exp")
    with pytest.raises(InvalidArgument, match="position 13"):
        client.search_runs(project, filter="metrics.auc >> 0.9")
    with pytest.raises(InvalidArgument, match="quote the value"):
        client.search_runs(project, filter="params.depth = 3")


def test_page_token_from_another_search_is_refused(client: Client, project: str) -> None:
    exp = client.get_or_create_experiment(project, "exp")
    for _ in range(3):
        client.create_run(exp.id)
    page = client.search_runs(project, max_results=1)
    with pytest.raises(InvalidArgument, match="different search"):
        client.search_runs(
            project, filter="attributes.status = 'RUNNING'", max_results=1, page_token=page.next_page_token
        )


def test_dataset_lineage_is_queryable_from_both_sides(client: Client, project: str, tmp_path: Path) -> None:
    df = pd.DataFrame({"income": np.arange(100.0), "segment": ["a", "b"] * 50})
    r1, r2 = _run(client, project, "r1"), _run(client, project, "r2")
    d1 = client.log_input(r1.id, df, name="applications", context="training")
    d2 = client.log_input(r2.id, df.copy(), name="applications", context="validation")
    assert d1.id == d2.id and d1.num_rows == 100 and d1.num_columns == 2  # same content, one version
    changed = df.assign(income=df.income + 1)
    d3 = client.log_input(r2.id, changed, name="applications")
    assert d3.digest != d1.digest
    uses = client.get_dataset_runs(d1.id)
    assert {(u.run_name, u.context) for u in uses} == {("r1", "training"), ("r2", "validation")}
    inputs = client.get_run(r2.id).inputs
    assert {(i.dataset.digest, i.context) for i in inputs} == {
        (d1.digest, "validation"),
        (d3.digest, "training"),
    }
    by_digest = client.search_runs(project, filter=f"datasets.digest = '{d3.digest}'")
    assert [r.name for r in by_digest] == ["r2"]
    assert [d.digest for d in client.list_datasets(project, name="applications")] == [d1.digest, d3.digest]


def test_artifacts_round_trip_and_listing(client: Client, project: str, tmp_path: Path) -> None:
    run = _run(client, project)
    (tmp_path / "out" / "plots").mkdir(parents=True)
    (tmp_path / "out" / "report.html").write_text("<h1>report</h1>")
    (tmp_path / "out" / "plots" / "roc.png").write_bytes(bytes(range(256)) * 100)
    client.log_artifact(run.id, tmp_path / "out" / "report.html")
    client.log_artifacts(run.id, tmp_path / "out", artifact_path="bundle")
    top = client.list_artifacts(run.id)
    assert [(e.path, e.is_dir) for e in top] == [("bundle", True), ("report.html", False)]
    nested = client.list_artifacts(run.id, "bundle/plots")
    assert [(e.path, e.size) for e in nested] == [("bundle/plots/roc.png", 25_600)]
    got = client.download_artifact(run.id, "bundle/plots/roc.png", tmp_path)
    assert got.read_bytes() == bytes(range(256)) * 100


@pytest.mark.parametrize(
    "bad",
    [
        "../secret",
        "a/../../b",
        "/etc/passwd",
        "a\\..\\b",
        "a%2f..%2fb",
        "a#frag",
        "a?x=1",
        "C:/x",
        ".",
        "a/./b",
    ],
)
def test_artifact_paths_cannot_escape_the_run(client: Client, project: str, tmp_path: Path, bad: str) -> None:
    run = _run(client, project)
    with pytest.raises(InvalidArgument):
        client.log_text(run.id, "x", bad)


def test_environment_snapshots_are_stored_once(client: Client) -> None:
    from modelyard.tracking.schemas import Environment

    env = Environment(digest="a" * 64, python_version="3.11.7", platform="linux", packages=["numpy==2.0"])
    first = client.log_environment(env)
    again = client.log_environment(env)
    assert first.created_at == again.created_at
    assert client.get_environment("a" * 64).packages == ["numpy==2.0"]
