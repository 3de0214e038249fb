"""Predict over real HTTP: the three body layouts, ids and versions, refusals that name the field,
hostile bodies, and what the prediction log receives."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from runtimekit import FEATURES, gbc, row, table

from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.serving.predlog import scan
from modelyard.serving.runtime.sources import RegistrySource, pinned_deployment


@pytest.fixture
def credit(registry: Client, register, start_runtime):
    """``credit`` serving models:/credit-default@champion (version 1, a fitted GBC)."""
    model = gbc()
    version = register("credit-default", model)
    registry.set_model_alias("credit-default", "champion", version)
    source = RegistrySource(registry, pinned=[pinned_deployment("credit", "models:/credit-default@champion")])
    server = start_runtime(source)
    return server, model


def _arrow(frame) -> bytes:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_records_columns_and_arrow_all_answer_like_the_model(credit) -> None:
    server, model = credit
    X, _ = table(6, seed=3)
    expected = model.predict(X).tolist()
    expected_scores = model.predict_proba(X)[:, 1]

    records = server.predict("credit", {"inputs": X.to_dict(orient="records")})
    assert records.status_code == 200, records.text
    body = records.json()
    assert (body["deployment"], body["model"], body["version"], body["variant"]) == (
        "credit",
        "credit-default",
        1,
        "primary",
    )
    assert body["predictions"] == expected
    assert np.allclose(body["scores"], expected_scores)
    assert len(body["prediction_ids"]) == 6 and len(set(body["prediction_ids"])) == 6

    shuffled = X[list(reversed(FEATURES))]  # columns in another order are put in the model's
    columns = server.predict("credit", {"columns": list(shuffled.columns), "data": shuffled.values.tolist()})
    assert columns.status_code == 200, columns.text
    assert columns.json()["predictions"] == expected

    arrow = server.http.post(
        "/v1/deployments/credit/predict",
        content=_arrow(X),
        headers={"content-type": "application/vnd.apache.arrow.stream"},
    )
    assert arrow.status_code == 200, arrow.text
    assert arrow.json()["predictions"] == expected
    assert np.allclose(arrow.json()["scores"], expected_scores)
    ids = body["prediction_ids"] + columns.json()["prediction_ids"] + arrow.json()["prediction_ids"]
    assert len(set(ids)) == 18  # every row of every request has its own id


REFUSALS = [
    ({"inputs": [{"f0": 1.0, "f1": 2.0, "f2": 3.0}]}, 422, "missing column 'f3'"),
    ({"inputs": [row(), row(extra=1.0)]}, 422, "column 'extra' (row 1)"),
    ({"inputs": [row(f2="high")]}, 422, "Column 'f2' expects a number"),
    ({"inputs": [row(f1=True)]}, 422, "Column 'f1' expects a number"),  # a boolean is not a number
    ({"columns": ["f0", "f1", "f2"], "data": [[1, 2, 3]]}, 422, "missing column 'f3'"),
    ({"columns": FEATURES, "data": [[1, 2, 3]]}, 422, "Row 0 of 'data' has 3 values"),
    ({"rows": []}, 400, "Unknown field 'rows'"),
    ({"inputs": "f0=1"}, 400, "'inputs' must be"),
    ([1, 2, 3], 400, "must be a JSON object"),
    ({"inputs": [row()], "association_ids": ["a", "b"]}, 422, "'association_ids' has 2 ids for 1 rows"),
    ({"inputs": [row(f0=None)]}, 422, "NaN"),
    ({"inputs": []}, 400, "'inputs' is empty"),  # null is missing; this model takes no missing values
]


def test_refusals_name_the_field(credit) -> None:
    server, _ = credit
    for body, status, words in REFUSALS:
        r = server.predict("credit", body)
        assert r.status_code == status, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == ("INVALID_INPUT" if status == 422 else "INVALID_ARGUMENT"), body
        assert words in error["message"], (body, error["message"])


def test_hostile_bodies_get_json_errors_and_the_server_keeps_answering(credit) -> None:
    server, _ = credit
    post = server.http.post
    for raw, status in [
        (b"{not json", 400),
        (b"", 400),
        (b'{"inputs": [' * 5000, 400),  # deep nesting
        (b"\xff\xfe\x00garbage", 400),
        (b'{"inputs": [{"f0": 1e999, "f1": 1, "f2": 1, "f3": 1}]}', 400),  # orjson refuses inf
    ]:
        r = post("/v1/deployments/credit/predict", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == status, (raw[:20], r.text)
        assert r.json()["error"]["message"]
    arrow = post(
        "/v1/deployments/credit/predict",
        content=b"ARROW1 nope",
        headers={"content-type": "application/vnd.apache.arrow.stream"},
    )
    assert arrow.status_code == 400 and "Arrow" in arrow.json()["error"]["message"]
    big = post(
        "/v1/deployments/credit/predict",
        content=b" " * (65 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert server.http.get("/v1/deployments/credit/predict").status_code == 405
    missing = server.predict("nope", {"inputs": [row()]})
    assert missing.status_code == 404 and "credit" in missing.json()["error"]["message"]
    ok = server.predict("credit", {"inputs": [row()]})
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 1


def test_every_prediction_is_captured_with_ids_features_and_association_ids(
    credit, serving_settings: Settings
) -> None:
    server, _ = credit
    X, _ = table(3, seed=5)
    r = server.predict(
        "credit",
        {"inputs": X.to_dict(orient="records"), "association_ids": ["loan-1", None, "loan-3"]},
    )
    assert r.status_code == 200
    body = r.json()
    actuals = server.http.post(
        "/v1/deployments/credit/actuals",
        json={
            "actuals": [
                {"prediction_id": body["prediction_ids"][1], "actual": 1},
                {"association_id": "loan-3", "actual": 0},
            ]
        },
    )
    assert actuals.status_code == 202 and actuals.json()["accepted"] == 2
    bad = server.http.post("/v1/deployments/credit/actuals", json={"actuals": [{"actual": 1}]})
    assert bad.status_code == 400 and "record 0" in bad.json()["error"]["message"].lower()

    root = serving_settings.resolved_predictions_uri
    server.wait_for(lambda: scan(root, "credit").to_arrow_table().num_rows == 3)
    rows = {
        r["prediction_id"]: r for r in scan(root, "credit", with_actuals=True).to_arrow_table().to_pylist()
    }
    assert set(rows) == set(body["prediction_ids"])
    first = rows[body["prediction_ids"][0]]
    assert (first["model"], first["version"], first["variant"], first["association_id"]) == (
        "credit-default",
        1,
        "primary",
        "loan-1",
    )
    assert first["input.f0"] == pytest.approx(X.f0[0])
    assert first["latency_ms"] > 0
    assert rows[body["prediction_ids"][1]]["actual"] is not None
    assert rows[body["prediction_ids"][2]]["actual"] is not None
