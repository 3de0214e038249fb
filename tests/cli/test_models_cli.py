"""``modelyard models`` and ``modelyard governance`` on an embedded store, as a user types them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from modelyard import Client
from modelyard.cli.main import app

ENV = {"COLUMNS": "200"}


def _setup(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    client = Client(uri)
    X = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})
    run = client.create_run(client.get_or_create_experiment("p", "e").id, name="fit")
    client.log_input(run.id, X, name="training-set")
    client.log_batch(run.id, metrics=[{"key": "auc", "value": 0.88}])
    info = client.log_model(run.id, LogisticRegression().fit(X, (X.a > 20).astype(int)), "model")
    client.create_registered_model("scorer", project="p", risk_tier="low")
    client.register_model(info.uri, "scorer", project="p")
    client.close()
    return uri


def test_register_alias_list_search_lineage_card(tmp_path: Path) -> None:
    uri = _setup(tmp_path)
    run = CliRunner().invoke
    assert (
        run(app, ["models", "alias", "scorer", "champion", "1", "-p", "p", "--uri", uri], env=ENV).exit_code
        == 0
    )
    listed = run(app, ["models", "list", "-p", "p", "--uri", uri], env=ENV)
    assert "scorer" in listed.output and "champion→v1" in listed.output
    found = run(
        app, ["models", "search", "--versions", "-f", "metrics.auc > 0.8", "-p", "p", "--uri", uri], env=ENV
    )
    assert "scorer" in found.output and "champion" in found.output
    none = run(
        app, ["models", "search", "--versions", "-f", "metrics.auc > 0.9", "-p", "p", "--uri", uri], env=ENV
    )
    assert "scorer" not in none.output
    tree = run(app, ["models", "lineage", "scorer", "@champion", "-p", "p", "--uri", uri], env=ENV)
    assert tree.exit_code == 0 and "produced ← run fit" in tree.output and "training-set" in tree.output
    out = tmp_path / "card.html"
    card = run(
        app, ["models", "card", "scorer", "1", "--html", "--out", str(out), "-p", "p", "--uri", uri], env=ENV
    )
    assert card.exit_code == 0 and out.read_text().startswith("<!doctype html>")
    history = run(app, ["models", "aliases", "scorer", "-p", "p", "--uri", uri], env=ENV)
    assert "champion" in history.output and "v1" in history.output


def test_governance_commands_show_the_gate_and_the_request(tmp_path: Path) -> None:
    uri = _setup(tmp_path)
    run = CliRunner().invoke
    client = Client(uri)
    client.update_registered_model("scorer", project="p", risk_tier="high")
    client.close()
    refused = run(app, ["models", "alias", "scorer", "production", "1", "-p", "p", "--uri", uri], env=ENV)
    assert refused.exit_code == 1 and "is protected" in refused.output
    asked = run(
        app,
        ["governance", "request", "scorer", "1", "production", "-p", "p", "--uri", uri, "--reason", "ready"],
        env=ENV,
    )
    assert asked.exit_code == 0 and "pending" in asked.output and "auc >= 0.75" in asked.output
    listed = run(app, ["governance", "list", "-p", "p", "--uri", uri], env=ENV)
    assert "scorer v1" in listed.output and "pending" in listed.output
    policy = run(app, ["governance", "policy", "--uri", uri], env=ENV)
    assert "critical:" in policy.output and "separation_of_duties" in policy.output
