"""The module-level API (``import modelyard as my``), embedded and against a live server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.core.store import Store
from modelyard.tracking.schemas import RunStatus


@pytest.fixture(params=["embedded", "remote"])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Point the fluent API at a fresh SQLite store, directly or through a live server."""
    uri = f"sqlite:///{tmp_path / 'fluent.db'}"
    if request.param == "remote":
        store = Store.open(uri, str(tmp_path / "fluent-artifacts"))
        uri = request.getfixturevalue("start_server")(store).url
    my.set_tracking_uri(uri)
    yield uri
    while my.active_run():
        my.end_run()
    my.set_tracking_uri(None)


def test_the_issue_example_works_end_to_end(tracking_uri: str, tmp_path: Path, project: str) -> None:
    train_df = pd.DataFrame({"income": np.linspace(1, 2, 50), "segment": ["a", "b"] * 25})
    (tmp_path / "report.html").write_text("<h1>report</h1>")
    my.set_project(project)
    my.set_experiment("baseline")
    with my.start_run(name="gbm-1") as run:
        my.log_params({"lr": 0.1, "depth": 3})
        for step in range(100):
            my.log_metric("loss", 1.0 / (step + 1), step=step)
        my.log_metrics({"auc": 0.91, "ks": 0.42})
        my.set_tag("team", "risk")
        my.log_input(train_df, name="applications", context="training")
        my.log_artifact(tmp_path / "report.html")
    runs = my.search_runs(
        filter="metrics.auc > 0.9 and params.depth = '3' and tags.team = 'risk'",
        order_by=["metrics.auc DESC"],
        max_results=100,
    )
    assert [r.id for r in runs] == [run.id]
    got = runs[0]
    assert got.status == RunStatus.FINISHED and got.end_time is not None
    assert got.params == {"lr": "0.1", "depth": "3"}
    history = my.get_metric_history(run.id, "loss")
    assert len(history) == 100 and history[99].value == pytest.approx(0.01)
    detail = my.get_run(run.id)
    assert detail.inputs[0].dataset.name == "applications" and detail.inputs[0].dataset.num_rows == 50
    assert "report.html" in [a.path for a in my.get_client().list_artifacts(run.id)]


def test_captured_context(tracking_uri: str, project: str) -> None:
    import platform
    import socket

    my.set_project(project)
    with my.start_run() as run:
        pass
    got = my.get_run(run.id)
    assert got.python_version == platform.python_version()
    assert got.host == socket.gethostname()
    assert got.entry_point  # pytest's own entry point here
    env = my.get_client().get_environment(got.env_digest)
    assert any(p.startswith("numpy==") for p in env.packages)
    with my.start_run() as second:
        pass
    assert my.get_run(second.id).env_digest == got.env_digest  # one snapshot, shared


def test_block_that_raises_ends_failed(tracking_uri: str, project: str) -> None:
    my.set_project(project)
    with pytest.raises(ZeroDivisionError), my.start_run() as run:
        my.log_metric("x", 1.0)
        _ = 1 / 0
    got = my.get_run(run.id)
    assert got.status == RunStatus.FAILED and got.metrics == {"x": 1.0}
    assert my.active_run() is None


def test_only_one_active_run_unless_nested(tracking_uri: str, project: str) -> None:
    my.set_project(project)
    with my.start_run(name="parent") as parent:
        with pytest.raises(my.InvalidArgument, match="already active"):
            my.start_run()
        with my.start_run(name="child", nested=True) as child:
            pass
    assert my.get_run(child.id).tags["parent_run_id"] == parent.id


def test_dirty_git_checkout_stores_the_diff(tmp_path: Path, project: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text(
        "import modelyard as my\n"
        f"my.set_tracking_uri({('sqlite:///' + str(tmp_path / 'g.db'))!r})\n"
        f"my.set_project({project!r})\n"
        "with my.start_run() as run:\n    print(run.id)\n"
    )
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    with (repo / "train.py").open("a") as f:
        f.write("# tweak\n")
    import sys

    out = subprocess.run([sys.executable, "train.py"], cwd=repo, capture_output=True, text=True, check=True)
    run_id = out.stdout.strip()
    client = my.Client(f"sqlite:///{tmp_path / 'g.db'}")
    run = client.get_run(run_id)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert run.git_commit == head and run.git_dirty is True
    assert run.entry_point.endswith("train.py")
    diff = client.download_artifact(run_id, "code/git.diff", tmp_path / "d.diff").read_text()
    assert "+# tweak" in diff
    client.close()
