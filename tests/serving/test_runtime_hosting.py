"""Hosting without restarts: alias moves swap versions atomically, deployments come and go, and a
version that cannot load leaves the previous one answering."""

from __future__ import annotations

import threading
import time

from runtimekit import Constant, gbc, row

from modelyard.client.client import Client
from modelyard.serving.runtime.sources import RegistrySource, pinned_deployment


def _primary_version(server, name: str) -> int | None:
    for d in server.http.get("/v1/deployments").json()["deployments"]:
        if d["name"] == name and d["variants"]:
            return d["variants"][0]["version"]
    return None


def test_alias_move_swaps_versions_while_a_request_in_flight_finishes_on_the_old(
    registry: Client, register, start_runtime
) -> None:
    v1 = register("scorer", Constant(1, delay_s=1.0), trusted=True)
    v2 = register("scorer", Constant(2), trusted=True)
    registry.set_model_alias("scorer", "champion", v1)
    source = RegistrySource(registry, pinned=[pinned_deployment("scorer", "models:/scorer@champion")])
    server = start_runtime(source)

    slow: dict = {}

    def in_flight() -> None:
        r = server.predict("scorer", {"inputs": [row()]})
        slow["body"], slow["done"] = r.json(), time.monotonic()

    thread = threading.Thread(target=in_flight)
    thread.start()
    time.sleep(0.3)  # the request is now inside version 1
    registry.set_model_alias("scorer", "champion", v2)
    server.wait_for(lambda: _primary_version(server, "scorer") == v2)

    fast = server.predict("scorer", {"inputs": [row(), row()]})
    fast_done = time.monotonic()
    assert fast.status_code == 200
    assert (fast.json()["version"], fast.json()["predictions"]) == (v2, [2, 2])
    thread.join(10)
    assert (slow["body"]["version"], slow["body"]["predictions"]) == (v1, [1])
    assert fast_done < slow["done"]  # the new version answered while the old one was still busy


def test_recorded_deployments_are_followed_created_changed_and_deleted(
    registry: Client, register, start_runtime
) -> None:
    v1 = register("credit-default", gbc())
    v2 = register("credit-default", Constant(5), trusted=True)
    registry.create_deployment("credit", f"models:/credit-default/{v1}")
    server = start_runtime(RegistrySource(registry))
    r = server.predict("credit", {"inputs": [row()]})
    assert r.status_code == 200 and r.json()["version"] == v1

    registry.create_deployment("fraud", f"models:/credit-default/{v2}")
    server.wait_for(lambda: server.predict("fraud", {"inputs": [row()]}).status_code == 200)
    assert server.predict("fraud", {"inputs": [row()]}).json()["predictions"] == [5]

    registry.update_deployment("credit", model_uri=f"models:/credit-default/{v2}")
    server.wait_for(lambda: server.predict("credit", {"inputs": [row()]}).json()["version"] == v2)

    only = start_runtime(RegistrySource(registry, deployment="fraud"), expected={"fraud"})
    assert only.predict("fraud", {"inputs": [row()]}).json()["predictions"] == [5]
    assert only.predict("credit", {"inputs": [row()]}).status_code == 404  # not this process's

    registry.delete_deployment("fraud")
    server.wait_for(lambda: server.predict("fraud", {"inputs": [row()]}).status_code == 404)
    assert server.predict("credit", {"inputs": [row()]}).status_code == 200
    only.wait_for(lambda: only.http.get("/ready").status_code == 503)
    assert "not found" in only.http.get("/ready").json()["missing"]["fraud"]


def test_a_version_that_cannot_load_leaves_the_previous_one_answering(
    registry: Client, register, start_runtime
) -> None:
    good = register("scorer", gbc())
    untrusted = register("scorer", Constant(3))  # a pickle nobody marked trusted
    registry.set_model_alias("scorer", "champion", good)
    source = RegistrySource(registry, pinned=[pinned_deployment("scorer", "models:/scorer@champion")])
    server = start_runtime(source)

    registry.set_model_alias("scorer", "champion", untrusted)

    def refused() -> bool:
        d = server.http.get("/v1/deployments").json()["deployments"][0]
        return d["error"] is not None

    server.wait_for(refused)
    d = server.http.get("/v1/deployments").json()["deployments"][0]
    assert "trust" in d["error"].lower()
    r = server.predict("scorer", {"inputs": [row()]})
    assert r.status_code == 200 and r.json()["version"] == good
    assert server.http.get("/ready").status_code == 200  # it still answers, with the old version

    registry.set_model_version_trusted("scorer", untrusted)
    server.wait_for(lambda: server.predict("scorer", {"inputs": [row()]}).json()["version"] == untrusted)
