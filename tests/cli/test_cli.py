"""The ``modelyard`` CLI as a user sees it: projects and runs tables, JSON output, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from modelyard.cli.main import app
from modelyard.client.client import Client
from modelyard.core.settings import Settings, get_settings

ENV = {"COLUMNS": "200"}  # a wide terminal, so Rich never shortens a value


@dataclass
class Seeded:
    uri: str
    project: str
    ids: dict[str, str]
    digest: str


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI reads the process settings: point them at a throwaway home."""
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _seed(client: Client, project: str) -> Seeded:
    """Three finished runs in "baseline" and a failed one in "tuning"."""
    frame = pd.DataFrame({"income": [52_000.0, 61_000.0, 38_500.0], "default": [0, 1, 0]})
    ids: dict[str, str] = {}
    digest = ""
    baseline = client.get_or_create_experiment(project, "baseline")
    for name, lr, auc in (("gbm-a", 0.1, 0.91), ("gbm-b", 0.05, 0.87), ("logreg", 1.0, 0.78)):
        run = client.create_run(
            baseline.id,
            name=name,
            user="alice",
            host="box",
            git_commit="0123456789abcdef",
            git_dirty=False,
            python_version="3.11.7",
            entry_point="train.py",
        )
        client.log_params(run.id, {"lr": lr, "depth": 3})
        for step in range(3):
            client.log_metric(run.id, "val_loss", 0.5 - 0.1 * step - auc / 10, step=step)
        client.log_metrics(run.id, {"auc": auc, "ks": round(auc - 0.4, 3)})
        client.set_tag(run.id, "team", "risk")
        digest = client.log_input(run.id, frame, name="applications", context="training").digest
        client.log_text(run.id, "<html><body>report</body></html>", "report.html")
        client.set_terminated(run.id)
        ids[name] = run.id
    tuning = client.get_or_create_experiment(project, "tuning")
    failed = client.create_run(tuning.id, name="broken")
    client.log_metrics(failed.id, {"auc": 0.70})
    client.set_terminated(failed.id, "FAILED")
    ids["broken"] = failed.id
    client.flush()
    return Seeded(uri=client.uri, project=project, ids=ids, digest=digest)


@pytest.fixture
def seeded(tmp_path: Path, settings: Settings, project: str) -> Iterator[Seeded]:
    """An embedded SQLite store with runs; artifacts where the CLI looks for them (beside the file)."""
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    with Client(uri, artifacts_uri=str(tmp_path / "x-artifacts"), settings=settings) as client:
        data = _seed(client, project)
    yield data


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI; returns the exit code and everything printed."""
    result = CliRunner().invoke(app, list(args), env=ENV)
    return result.exit_code, result.output


def cli_stdout(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout


def _rows(output: str) -> dict[str, str]:
    """Table lines by the run name they show."""
    rows = {}
    for line in output.splitlines():
        for name in ("gbm-a", "gbm-b", "logreg", "broken"):
            if f" {name} " in f" {line} ":
                rows[name] = line
    return rows


def test_projects_list_shows_counts(seeded: Seeded) -> None:
    code, out = cli("projects", "list", "--uri", seeded.uri)
    assert code == 0, out
    line = next(line for line in out.splitlines() if seeded.project in line)
    assert line.split()[1:3] == ["2", "4"]  # experiments, runs
    assert "ago" in line or "just now" in line


def test_runs_list_shows_names_statuses_and_values(seeded: Seeded) -> None:
    code, out = cli("runs", "list", "--project", seeded.project, "--uri", seeded.uri)
    assert code == 0, out
    rows = _rows(out)
    assert set(rows) == {"gbm-a", "gbm-b", "logreg", "broken"}
    assert "0.91" in rows["gbm-a"] and "0.87" in rows["gbm-b"] and "0.78" in rows["logreg"]
    assert "0.05" in rows["gbm-b"]  # a param column
    assert "FINISHED" in rows["gbm-a"] and "FAILED" in rows["broken"]
    assert rows["gbm-a"].split()[0] == seeded.ids["gbm-a"][:8]
    assert "4 runs" in out


def test_filter_narrows_and_order_by_sorts(seeded: Seeded) -> None:
    args = ("runs", "list", "-p", seeded.project, "--uri", seeded.uri)
    code, out = cli(*args, "--filter", "metrics.auc > 0.8 and params.depth = '3'")
    assert code == 0, out
    assert set(_rows(out)) == {"gbm-a", "gbm-b"}
    code, out = cli(*args, "--order-by", "metrics.auc ASC")
    names = [
        line.split()[1]
        for line in out.splitlines()
        if line.split()[1:2] and line.split()[0] in {i[:8] for i in seeded.ids.values()}
    ]
    assert names == ["broken", "logreg", "gbm-b", "gbm-a"]


def test_experiment_option_takes_names(seeded: Seeded) -> None:
    args = ("runs", "list", "-p", seeded.project, "--uri", seeded.uri)
    code, out = cli(*args, "--experiment", "tuning")
    assert code == 0, out
    assert set(_rows(out)) == {"broken"}
    code, out = cli(*args, "-e", "nope")
    assert code == 1
    assert "no experiment named 'nope'" in out and "baseline, tuning" in out
    assert "Traceback" not in out


def test_bad_filter_is_one_clear_error(seeded: Seeded) -> None:
    code, out = cli(
        "runs", "list", "-p", seeded.project, "--uri", seeded.uri, "--filter", "metrics.auc >> 0.8"
    )
    assert code == 1
    assert "position 13" in out and "Error:" in out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_unknown_project_is_a_clear_error(seeded: Seeded) -> None:
    code, out = cli("runs", "list", "-p", "no-such-project", "--uri", seeded.uri)
    assert code == 1 and "No project named 'no-such-project'" in out


def test_columns_option_chooses_columns(seeded: Seeded) -> None:
    args = ("runs", "list", "-p", seeded.project, "--uri", seeded.uri, "-e", "baseline")
    code, out = cli(*args, "--columns", "metrics.ks,tags.team")
    assert code == 0, out
    header = next(line for line in out.splitlines() if line.split()[:2] == ["id", "name"])
    assert header.split()[5:] == ["ks", "team"]
    assert "0.51" in _rows(out)["gbm-a"] and "risk" in _rows(out)["gbm-a"]
    assert "0.91" not in out


def test_json_lines_parse_and_paginate(seeded: Seeded) -> None:
    args = (
        "runs",
        "list",
        "-p",
        seeded.project,
        "--uri",
        seeded.uri,
        "--json",
        "--order-by",
        "metrics.auc DESC",
    )
    lines = cli_stdout(*args).splitlines()
    runs = [json.loads(line) for line in lines]
    assert [r["name"] for r in runs] == ["gbm-a", "gbm-b", "logreg", "broken"]
    assert runs[0]["metrics"]["auc"] == 0.91 and runs[0]["params"]["lr"] == "0.1"
    assert "inputs" not in runs[0]  # search pages carry no inputs; `runs show --json` has them
    by_digest = cli_stdout(*args, "--filter", f"datasets.digest = '{seeded.digest}'").splitlines()
    assert len(by_digest) == 3

    result = CliRunner().invoke(app, [*args, "--max-results", "3"], env=ENV)
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    token = result.stderr.split("--page-token")[1].strip()
    rest = [
        json.loads(line)
        for line in cli_stdout(*args, "--max-results", "3", "--page-token", token).splitlines()
    ]
    assert [r["name"] for r in rest] == ["broken"]


def test_table_pages_tell_how_to_get_the_next_page(seeded: Seeded) -> None:
    code, out = cli("runs", "list", "-p", seeded.project, "--uri", seeded.uri, "-n", "2")
    assert code == 0 and len(_rows(out)) == 2
    assert "--page-token" in out


def test_show_prints_info_params_metrics_datasets_and_artifacts(seeded: Seeded) -> None:
    run_id = seeded.ids["gbm-b"]
    code, out = cli("runs", "show", run_id, "--uri", seeded.uri)
    assert code == 0, out
    for text in ("gbm-b", "FINISHED", "alice", "box", "train.py", "0123456789ab", "3.11.7", seeded.project):
        assert text in out, text
    assert any(line.split() == ["lr", "0.05"] for line in out.splitlines())
    assert any(line.split() == ["auc", "0.87"] for line in out.splitlines())
    assert any(line.split() == ["team", "risk"] for line in out.splitlines())
    dataset = next(line for line in out.splitlines() if "applications" in line)
    assert dataset.split() == ["applications", seeded.digest[:12], "3", "training"]
    assert "report.html" in out
    # The 8 characters `runs list` shows are enough.
    code, short = cli("runs", "show", run_id[:8], "--uri", seeded.uri)
    assert code == 0 and seeded.digest[:12] in short


def test_show_json_parses(seeded: Seeded) -> None:
    body = json.loads(cli_stdout("runs", "show", seeded.ids["gbm-a"], "--uri", seeded.uri, "--json"))
    assert body["params"] == {"lr": "0.1", "depth": "3"}
    assert body["inputs"][0]["context"] == "training"
    assert [a["path"] for a in body["artifacts"]] == ["report.html"]


def test_unknown_run_is_one_clear_error(seeded: Seeded) -> None:
    code, out = cli("runs", "show", "0" * 32, "--uri", seeded.uri)
    assert code == 1 and "No run with id" in out and "Traceback" not in out
    code, out = cli("runs", "show", "zz-not-an-id", "--uri", seeded.uri)
    assert code == 1 and "No run with id 'zz-not-an-id'" in out


def test_compare_shows_every_runs_values_and_marks_the_best(seeded: Seeded) -> None:
    a, b = seeded.ids["gbm-a"], seeded.ids["gbm-b"]
    code, out = cli("runs", "compare", a, b[:8], "--uri", seeded.uri)
    assert code == 0, out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()}
    assert lines["params.lr"] == ["0.1", "0.05"]
    assert lines["params.depth"] == ["3", "3"]
    assert lines["metrics.auc"] == ["0.91", "★", "0.87"]  # higher AUC is better
    assert lines["metrics.val_loss"] == ["0.209", "★", "0.213"]  # lower loss is better
    assert a[:8] in out and b[:8] in out


def test_compare_needs_two_runs(seeded: Seeded) -> None:
    code, out = cli("runs", "compare", seeded.ids["gbm-a"], "--uri", seeded.uri)
    assert code == 1 and "at least two run ids" in out


def test_cli_through_a_live_server(live_server, settings: Settings, project: str) -> None:
    with Client(live_server.url, settings=settings) as client:
        data = _seed(client, project)
    code, out = cli("runs", "list", "-p", project, "--uri", live_server.url, "--filter", "metrics.auc > 0.8")
    assert code == 0, out
    rows = _rows(out)
    assert set(rows) == {"gbm-a", "gbm-b"} and "0.91" in rows["gbm-a"]
    code, out = cli("runs", "show", data.ids["gbm-a"][:8], "--uri", live_server.url)
    assert code == 0 and data.digest[:12] in out and "report.html" in out
    code, out = cli("runs", "compare", data.ids["gbm-a"], data.ids["logreg"], "--uri", live_server.url)
    assert code == 0 and "0.78" in out and "0.91" in out
    code, out = cli("projects", "list", "--uri", live_server.url)
    assert code == 0 and project in out
    code, out = cli("runs", "list", "-p", project, "--uri", live_server.url, "--filter", "metrics.auc >> 1")
    assert code == 1 and "position" in out and "Traceback" not in out
