"""Humility rules: flag, override or refuse answers the model should not be trusted with."""

from __future__ import annotations

from runtimekit import Scorer, region_pipeline, regions, row, table

from modelyard.client.client import Client
from modelyard.serving.runtime.sources import RegistrySource


def test_log_override_and_error_actions(registry: Client, register, start_runtime) -> None:
    v = register("scorer", Scorer(), trusted=True)
    X, _ = table(200)
    X.loc[0, "f1"] = 0.0  # the training range of f1 is [0, 10)
    registry.set_reference("scorer", v, X)
    registry.create_deployment(
        "scorer",
        f"models:/scorer/{v}",
        humility=[
            {"rule": "uncertain", "low": 0.4, "high": 0.6, "action": "override", "value": -1},
            {"rule": "out_of_range", "features": ["f1"], "action": "log"},  # range from the profile
            {"rule": "out_of_range", "ranges": {"f3": [0, 10]}, "features": ["f3"], "action": "error"},
        ],
    )
    server = start_runtime(RegistrySource(registry))

    r = server.predict("scorer", {"inputs": [row(f0=5.0), row(f0=9.0), row(f0=9.0, f1=-3.0)]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictions"] == [-1, 1, 1]  # row 0 is in the uncertain band: overridden
    assert body["scores"] == [0.5, 0.9, 0.9]
    assert body["flags"] == [["uncertain"], [], ["out_of_range:f1"]]

    calm = server.predict("scorer", {"inputs": [row(f0=9.0)]}).json()
    assert "flags" not in calm and calm["predictions"] == [1]

    refused = server.predict("scorer", {"inputs": [row(f0=9.0), row(f3=99.0)]})
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "out_of_range" in message and "'f3'" in message and "row 1" in message

    metrics = server.http.get("/metrics").text
    assert (
        'modelyard_serving_humility_total{action="override",deployment="scorer",rule="uncertain"} 1.0'
        in metrics
    )
    assert (
        'modelyard_serving_humility_total{action="log",deployment="scorer",rule="out_of_range"} 1.0'
        in metrics
    )


def test_unseen_category_on_a_model_with_text_columns(registry: Client, register, start_runtime) -> None:
    v = register("regional", region_pipeline(), example=regions(5)[0])
    registry.create_deployment(
        "regional",
        f"models:/regional/{v}",
        humility=[
            {
                "rule": "unseen_category",
                "categories": {"region": ["north", "south", "east"]},
                "action": "error",
            }
        ],
    )
    server = start_runtime(RegistrySource(registry))
    ok = server.predict(
        "regional", {"inputs": [{"amount": 80.0, "region": "north"}, {"amount": 10.0, "region": "east"}]}
    )
    assert ok.status_code == 200, ok.text
    assert (
        ok.json()["predictions"]
        == region_pipeline()
        .predict(regions(2, seed=9)[0].assign(amount=[80.0, 10.0], region=["north", "east"]))
        .tolist()
    )
    mars = server.predict("regional", {"inputs": [{"amount": 80.0, "region": "mars"}]})
    assert mars.status_code == 422
    message = mars.json()["error"]["message"]
    assert "unseen_category" in message and "'region'" in message and "'mars'" in message
    wrong = server.predict("regional", {"inputs": [{"amount": "lots", "region": "north"}]})
    assert wrong.status_code == 422 and "'amount'" in wrong.json()["error"]["message"]
