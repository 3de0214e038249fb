"""The model registry through the Client: embedded and remote, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard import Client, InvalidArgument, NotFound, PermissionDenied
from modelyard import models as my_models


@pytest.fixture
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"income": rng.normal(50, 10, 400), "debt": rng.normal(10, 3, 400)})
    y = (X.income - 3 * X.debt + rng.normal(0, 5, 400) > 20).astype(int).to_numpy()
    return X, y


def _trained_run(client: Client, project: str, data, name: str = "model"):
    X, y = data
    exp = client.get_or_create_experiment(project, "train")
    run = client.create_run(exp.id, name="fit")
    model = LogisticRegression(max_iter=500).fit(X, y)
    client.log_input(run.id, X, name="applications", context="training")
    client.log_batch(run.id, metrics=[{"key": "auc", "value": 0.91}], params={"C": "1.0"})
    info = client.log_model(run.id, model, name, input_example=X.head(5))
    client.set_terminated(run.id)
    return run, model, info


def test_register_alias_and_load_anywhere(client: Client, project: str, data) -> None:
    X, _ = data
    run, model, info = _trained_run(client, project, data)
    assert info.uri == f"runs:/{run.id}/model" and info.manifest.flavor == "sklearn"
    client.create_registered_model(
        "credit-default", project=project, risk_tier="low"
    )  # champion auto-approves
    v1 = client.register_model(info.uri, "credit-default", project=project)
    v2 = client.register_model(info.uri, "credit-default", project=project)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.provenance == "run" and v1.run_id == run.id and v1.flavor == "sklearn" and len(v1.digest) == 64
    moved = client.set_model_alias("credit-default", "champion", 1, project=project, reason="best auc")
    assert moved.aliases == ["champion"]
    expected = model.predict_proba(X)
    for uri in (
        f"models:/{project}/credit-default@champion",
        f"models:/{project}/credit-default/1",
        f"models:/{project}/credit-default/latest",
    ):
        loaded = client.load_model(uri)
        np.testing.assert_allclose(loaded.predict_proba(X), expected)
    assert client.get_registered_model("credit-default", project=project).aliases == {"champion": 1}


def test_alias_moves_are_atomic_and_kept_in_history(client: Client, project: str, data) -> None:
    _, _, info = _trained_run(client, project, data)
    client.create_registered_model("m", project=project, risk_tier="low")
    for _ in range(3):
        client.register_model(info.uri, "m", project=project)
    client.set_model_alias("m", "champion", 1, project=project)
    client.set_model_alias("m", "champion", 3, project=project, reason="retrained")
    client.set_model_alias("m", "challenger", 2, project=project)
    client.delete_model_alias("m", "challenger", project=project)
    history = client.get_alias_history("m", project=project)
    assert [(h.alias, h.from_version, h.to_version) for h in history] == [
        ("champion", None, 1),
        ("champion", 1, 3),
        ("challenger", None, 2),
        ("challenger", 2, None),
    ]
    assert history[1].reason.startswith(
        "retrained (promotion "
    )  # champion is protected: a promotion moved it
    assert client.get_model_version("m", alias="champion", project=project).version == 3
    with pytest.raises(NotFound, match="no alias 'challenger'"):
        client.get_model_version("m", alias="challenger", project=project)


@pytest.mark.parametrize("alias", ["Champion", "bad alias", "a/b", "latest", "x" * 101, "-x"])
def test_bad_alias_is_refused(client: Client, project: str, data, alias: str) -> None:
    _, _, info = _trained_run(client, project, data)
    client.register_model(info.uri, "m", project=project)
    with pytest.raises(InvalidArgument, match="not valid"):
        client.set_model_alias("m", alias, 1, project=project)


def test_bad_sources_write_nothing(client: Client, project: str, data, tmp_path: Path) -> None:
    run, _, _info = _trained_run(client, project, data)
    client.log_text(run.id, "not a model", "notes/readme.txt")
    cases = [
        (f"runs:/{'f' * 32}/model", NotFound, "No run"),
        (f"runs:/{run.id}/../other/model", InvalidArgument, "'..'"),
        (f"runs:/{run.id}/notes", InvalidArgument, "no MODEL.json"),
        ("runs:/not-a-run/model", InvalidArgument, "runs:/<run-id>/<path>"),
        (str(tmp_path / "missing"), InvalidArgument, "no such file"),
    ]
    for source, error, message in cases:
        with pytest.raises(error, match=message):
            client.register_model(source, "m", project=project)
    with pytest.raises(NotFound):
        client.list_model_versions("m", project=project)  # the model was never created


def test_tampered_model_folder_is_refused_and_leaves_nothing(
    client: Client, project: str, data, tmp_path: Path
) -> None:
    X, y = data
    folder = tmp_path / "external"
    my_models.save(LogisticRegression().fit(X, y), folder)
    weights = next(p for p in folder.iterdir() if p.name != "MODEL.json")
    weights.write_bytes(weights.read_bytes() + b"x")
    with pytest.raises(InvalidArgument, match="does not match the digest"):
        client.register_model(folder, "ext", project=project)
    assert client.get_registered_model("ext", project=project).latest_version is None


def test_external_model_folder_becomes_an_external_version(
    client: Client, project: str, data, tmp_path: Path
) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    my_models.save(model, tmp_path / "byo", input_example=X.head(3))
    v = client.register_model(tmp_path / "byo", "byo", project=project, tags={"origin": "vendor"})
    assert v.provenance == "external" and v.run_id is None and v.tags == {"origin": "vendor"}
    loaded = client.load_model(f"models:/{project}/byo/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_deleted_model_versions_cannot_be_used(client: Client, project: str, data) -> None:
    _, _, info = _trained_run(client, project, data)
    client.register_model(info.uri, "gone", project=project)
    client.delete_registered_model("gone", project=project)
    with pytest.raises(NotFound, match="No model named 'gone'"):
        client.get_model_version("gone", 1, project=project)
    with pytest.raises(NotFound):
        client.load_model(f"models:/{project}/gone/1")
    again = client.register_model(info.uri, "gone", project=project)  # the name is free again
    assert again.version == 1


def test_lineage_from_datasets_to_aliases(client: Client, project: str, data) -> None:
    _run, _, info = _trained_run(client, project, data)
    client.create_registered_model("lin", project=project, risk_tier="low")
    v = client.register_model(info.uri, "lin", project=project)
    client.set_model_alias("lin", "champion", v.version, project=project)
    graph = client.get_model_lineage("lin", alias="champion", project=project)
    assert {n.type for n in graph.nodes} == {"model_version", "run", "dataset", "alias"}
    relations = {(e.source.split(":")[0], e.relation, e.target.split(":")[0]) for e in graph.edges}
    assert ("dataset", "training", "run") in relations
    assert ("run", "produced", "model_version") in relations
    assert ("alias", "points_to", "model_version") in relations
    run_node = next(n for n in graph.nodes if n.type == "run")
    assert run_node.data["metrics"] == {"auc": 0.91} and run_node.data["params"] == {"C": "1.0"}


def test_model_card_markdown_and_html(client: Client, project: str, data) -> None:
    _, _, info = _trained_run(client, project, data)
    client.create_registered_model(
        "carded", project=project, risk_tier="high", description="Scores applicants."
    )
    v = client.register_model(info.uri, "carded", project=project)
    client.set_model_card(
        "carded",
        v.version,
        project=project,
        intended_use="Retail credit decisions.",
        limitations="<script>alert(1)</script> not for SMEs",
    )
    md = client.get_model_card("carded", v.version, project=project)
    assert "# Model card: carded v1" in md and "Retail credit decisions." in md
    assert "| auc | 0.91 |" in md and "applications" in md and "| Risk tier | high |" in md
    assert "Ethical considerations" in md and "_Not written yet._" in md
    html = client.get_model_card("carded", v.version, format="html", project=project)
    assert html.startswith("<!doctype html>") and "Retail credit decisions." in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html.split("<style>")[0]  # self-contained: no external resources


def test_unsafe_models_need_trust(client: Client, project: str, data) -> None:
    X, y = data

    class Custom:
        def __init__(self, inner) -> None:
            self.inner = inner

        def predict(self, frame):
            return self.inner.predict(frame)

    exp = client.get_or_create_experiment(project, "custom")
    run = client.create_run(exp.id)
    info = client.log_model(run.id, Custom(LogisticRegression().fit(X, y)), "model")
    assert info.manifest.unsafe is True
    v = client.register_model(info.uri, "custom", project=project)
    assert v.unsafe is True and v.trusted is False
    with pytest.raises(PermissionDenied, match="trust"):
        client.load_model(f"models:/{project}/custom/1")
    assert client.load_model(f"models:/{project}/custom/1", trust=True).predict(X).shape == (len(X),)
    client.set_model_version_trusted("custom", 1, project=project)
    assert client.load_model(f"models:/{project}/custom/1").predict(X).shape == (len(X),)


def test_risk_tier_is_validated(client: Client, project: str) -> None:
    client.get_or_create_experiment(project, "e")
    with pytest.raises(InvalidArgument, match="low, medium, high, critical"):
        client.create_registered_model("tiered", project=project, risk_tier="extreme")
    m = client.create_registered_model("tiered", project=project, risk_tier="critical")
    assert m.risk_tier == "critical"
    assert client.update_registered_model("tiered", project=project, risk_tier="low").risk_tier == "low"


def test_search_models_and_versions(client: Client, project: str, data) -> None:
    _, _, info = _trained_run(client, project, data)
    client.create_registered_model("credit-pd", project=project, risk_tier="high", tags={"domain": "retail"})
    client.create_registered_model("fraud-score", project=project, risk_tier="low")
    client.register_model(info.uri, "credit-pd", project=project)
    client.register_model(info.uri, "credit-pd", project=project)
    client.set_model_alias("credit-pd", "challenger", 2, project=project)
    models = client.search_registered_models(
        project=project, filter="name LIKE 'credit%' and tags.domain = 'retail'"
    )
    assert [m.name for m in models.models] == ["credit-pd"]
    assert [
        m.name for m in client.search_registered_models(project=project, filter="risk_tier = 'low'").models
    ] == ["fraud-score"]
    versions = client.search_model_versions(
        project=project, filter="metrics.auc > 0.9 and alias = 'challenger'"
    )
    assert [(v.model_name, v.version) for v in versions.versions] == [("credit-pd", 2)]
    ordered = client.search_model_versions(
        project=project, filter="name = 'credit-pd'", order_by=["version DESC"], max_results=1
    )
    assert ordered.versions[0].version == 2 and ordered.next_page_token
    with pytest.raises(InvalidArgument, match="position"):
        client.search_model_versions(project=project, filter="metrics.auc >> 1")


def test_load_straight_from_a_run(client: Client, project: str, data) -> None:
    X, _ = data
    _, model, info = _trained_run(client, project, data)
    np.testing.assert_allclose(client.load_model(info.uri).predict_proba(X), model.predict_proba(X))
