"""Champion and challengers: shadows scored out of band, A/B splits that stick to a key, and canaries
that advance on good numbers and roll back by themselves on bad ones."""

from __future__ import annotations

import time
from collections import Counter

from runtimekit import Constant, FailsOnNegative, gbc, row

from modelyard.client.client import Client
from modelyard.core.settings import Settings
from modelyard.serving.predlog import scan
from modelyard.serving.runtime.sources import RegistrySource


def test_shadow_is_captured_under_the_same_ids_and_never_returned(
    registry: Client, register, start_runtime, serving_settings: Settings
) -> None:
    v1 = register("credit-default", gbc())
    v2 = register("credit-default", Constant(9), trusted=True)
    registry.create_deployment(
        "credit",
        f"models:/credit-default/{v1}",
        variants=[{"name": "challenger", "model_uri": f"models:/credit-default/{v2}", "mode": "shadow"}],
    )
    server = start_runtime(RegistrySource(registry))
    ids = []
    for i in range(5):
        body = server.predict("credit", {"inputs": [row(f0=float(i)), row(f1=float(i))]}).json()
        assert body["variant"] == "primary" and body["version"] == v1
        assert 9 not in body["predictions"]  # the shadow's answer is never returned
        ids += body["prediction_ids"]

    root = serving_settings.resolved_predictions_uri
    server.wait_for(lambda: scan(root, "credit").to_arrow_table().num_rows == 20)
    rows = scan(root, "credit").to_arrow_table().to_pylist()
    by_variant: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_variant.setdefault(r["variant"], {})[r["prediction_id"]] = r
    assert set(by_variant) == {"primary", "challenger"}
    assert set(by_variant["primary"]) == set(by_variant["challenger"]) == set(ids)
    shadow = by_variant["challenger"][ids[0]]
    assert (shadow["model"], shadow["version"], shadow["prediction"]) == ("credit-default", v2, "9")
    assert shadow["input.f0"] == by_variant["primary"][ids[0]]["input.f0"]
    metrics = server.http.get("/metrics").text
    assert (
        f'modelyard_serving_shadow_rows_total{{deployment="credit",variant="challenger",version="{v2}"}} 10.0'
        in metrics
    )


def test_ab_split_follows_the_weights_and_sticks_to_the_key(
    registry: Client, register, start_runtime
) -> None:
    v1 = register("scorer", Constant(1), trusted=True)
    v2 = register("scorer", Constant(2), trusted=True)
    registry.create_deployment(
        "scorer",
        f"models:/scorer/{v1}",
        variants=[{"name": "b", "model_uri": f"models:/scorer/{v2}", "mode": "ab", "weight": 30}],
    )
    server = start_runtime(RegistrySource(registry))
    seen = Counter()
    for _ in range(300):
        body = server.predict("scorer", {"inputs": [row()]}).json()
        seen[body["variant"]] += 1
        assert body["predictions"] == [1 if body["variant"] == "primary" else 2]
        assert body["version"] == (v1 if body["variant"] == "primary" else v2)
    assert 60 <= seen["b"] <= 120, seen  # 30% of 300, give or take

    for key in ("customer-1", "customer-2", "customer-3", "customer-4"):
        answers = {
            server.predict("scorer", {"inputs": [row()], "key": key}).json()["variant"] for _ in range(10)
        }
        header = {
            server.predict("scorer", {"inputs": [row()]}, headers={"X-Modelyard-Key": key}).json()["variant"]
            for _ in range(5)
        }
        assert len(answers) == 1 and answers == header, key  # sticky, by body or header


def _canary(server, name: str) -> dict:
    return next(d for d in server.http.get("/v1/deployments").json()["deployments"] if d["name"] == name)[
        "canary"
    ]


def test_canary_that_fails_on_some_rows_rolls_back_by_itself(
    registry: Client, register, start_runtime
) -> None:
    v1 = register("scorer", Constant(1), trusted=True)
    v2 = register("scorer", FailsOnNegative(), trusted=True)
    registry.create_deployment(
        "scorer",
        f"models:/scorer/{v1}",
        canary={
            "model_uri": f"models:/scorer/{v2}",
            "steps": [50, 100],
            "step_seconds": 0.5,
            "min_requests": 10,
            "max_error_rate": 0.2,
        },
    )
    server = start_runtime(RegistrySource(registry))
    answered = Counter()
    deadline = time.monotonic() + 15
    while _canary(server, "scorer")["state"] == "running":
        assert time.monotonic() < deadline, "the canary was never rolled back"
        r = server.predict("scorer", {"inputs": [row(f0=-1.0)]})
        assert r.status_code == 200  # the canary fails, the primary answers: users see no errors
        answered[r.json()["variant"]] += 1
    assert answered["canary"] == 0 and answered["primary"] >= 10
    canary = _canary(server, "scorer")
    assert (canary["state"], canary["weight"]) == ("rolled_back", 0.0)
    assert "error rate" in canary["reason"] and "max_error_rate" in canary["reason"]

    for _ in range(20):  # no traffic to a rolled-back canary, at once
        assert server.predict("scorer", {"inputs": [row(f0=1.0)]}).json()["variant"] == "primary"
    recorded = registry.get_deployment("scorer").canary
    assert recorded is not None and recorded.state == "rolled_back" and "error rate" in recorded.reason
    metrics = server.http.get("/metrics").text
    assert 'modelyard_serving_errors_total{code="MODEL_ERROR",deployment="scorer",variant="canary"' in metrics
    assert 'modelyard_serving_canary_weight{deployment="scorer",model_uri="models:/scorer/2"} 0.0' in metrics


def test_healthy_canary_advances_step_by_step_then_becomes_the_primary(
    registry: Client, register, start_runtime
) -> None:
    v1 = register("scorer", Constant(1), trusted=True)
    v2 = register("scorer", Constant(2), trusted=True)
    registry.create_deployment(
        "scorer",
        f"models:/scorer/{v1}",
        canary={
            "model_uri": f"models:/scorer/{v2}",
            "steps": [20, 60],
            "step_seconds": 0.4,
            "min_requests": 5,
        },
    )
    server = start_runtime(RegistrySource(registry))
    steps_seen = set()
    deadline = time.monotonic() + 20
    while registry.get_deployment("scorer").model_uri != f"models:/scorer/{v2}":
        assert time.monotonic() < deadline, "the canary never completed"
        body = server.predict("scorer", {"inputs": [row()]}).json()
        assert body["predictions"] == [1 if body["version"] == v1 else 2]
        canary = _canary(server, "scorer")
        if canary:
            steps_seen.add(canary["step"])
    assert steps_seen >= {0, 1}
    history = [r.reason for r in registry.deployment_history("scorer")]
    assert any("step 0 passed" in reason for reason in history)
    assert any("steps passed" in reason for reason in history)
    server.wait_for(
        lambda: (
            server.predict("scorer", {"inputs": [row()]}).json()["variant"] == "primary"
            and _canary(server, "scorer") is None
        )
    )
    for _ in range(10):
        body = server.predict("scorer", {"inputs": [row()]}).json()
        assert (body["variant"], body["version"], body["predictions"]) == ("primary", v2, [2])
