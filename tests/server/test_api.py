"""The REST API over real HTTP: health, OpenAPI, error shapes, hostile input."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi.routing import APIRoute

from modelyard.server.run import check_bind_address, is_loopback


@pytest.fixture
def http(live_server) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        yield c


def _run(http: httpx.Client, project: str = "api") -> str:
    exp = http.put(f"/api/v1/projects/{project}/experiments/e").json()
    return http.post("/api/v1/runs", json={"experiment_id": exp["id"], "name": "r"}).json()["id"]


def test_health_and_openapi(http: httpx.Client) -> None:
    assert http.get("/health").json()["status"] == "ok"
    spec = http.get("/openapi.json").json()
    assert "/api/v1/runs/search" in spec["paths"]
    assert "/api/v1/runs/{run_id}/batch" in spec["paths"]
    batch_body = spec["paths"]["/api/v1/runs/{run_id}/batch"]["post"]["requestBody"]
    assert "metrics" in batch_body["content"]["application/json"]["schema"]["properties"]


def _api_routes(app) -> list[APIRoute]:
    found: list[APIRoute] = []

    def walk(routes) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                found.append(r)
            inner = getattr(r, "routes", None) or getattr(getattr(r, "original_router", None), "routes", None)
            if inner:
                walk(inner)

    walk(app.routes)
    return found


def test_every_route_declares_a_permission(live_server) -> None:
    routes = _api_routes(live_server.app)
    assert len(routes) > 20
    missing = []
    for route in routes:
        if getattr(route.endpoint, "__modelyard_public__", False):
            continue
        perms = [getattr(d.call, "__modelyard_permission__", None) for d in route.dependant.dependencies]
        if not any(perms):
            missing.append(f"{sorted(route.methods)} {route.path}")
    assert missing == []


def test_errors_have_one_shape(http: httpx.Client) -> None:
    r = http.get("/api/v1/runs/does-not-exist")
    assert r.status_code == 404 and r.json() == {
        "error": {"code": "NOT_FOUND", "message": "No run with id 'does-not-exist'."}
    }
    r = http.post("/api/v1/runs/search", json={"project": "api", "filter": "metrics.auc >"})
    assert r.status_code in (400, 404)


def test_malformed_filter_is_a_400_pointing_at_the_problem(http: httpx.Client) -> None:
    _run(http)
    r = http.post("/api/v1/runs/search", json={"project": "api", "filter": "metrics.auc > 0.9 and"})
    assert r.status_code == 400
    assert "position" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'{"metrics": "x"}',
        b'{"metrics": [1]}',
        b'{"metrics": [{"key": 5, "value": 1}]}',
        b'{"metrics": [{"key": "a", "value": "NaN-ish"}]}',
        b'{"params": {"a": {"nested": 1}}}',
        b"\xff\xfe",
    ],
)
def test_malformed_batches_get_400_and_the_server_stays_up(http: httpx.Client, body: bytes) -> None:
    run_id = _run(http)
    r = http.post(f"/api/v1/runs/{run_id}/batch", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert http.get("/health").status_code == 200


def test_invalid_request_model_is_400_with_field_name(http: httpx.Client) -> None:
    r = http.post("/api/v1/runs", json={"name": "no experiment"})
    assert r.status_code == 400
    assert "experiment_id" in r.json()["error"]["message"]


def test_oversized_json_body_is_refused(http: httpx.Client) -> None:
    run_id = _run(http)
    r = http.post(
        f"/api/v1/runs/{run_id}/batch",
        content=b" " * (33 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "raw_path",
    [
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "a/..%5c..%5cb",
        "%2fetc%2fpasswd",
        "a%23b",
        "a%3fb",
        "a%00b",
        "a/%2e/b",
    ],
)
def test_artifact_traversal_over_raw_http_is_refused(live_server, raw_path: str) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        run_id = _run(http)
    # Send the path bytes exactly as written (no client-side normalisation).
    target = f"/api/v1/runs/{run_id}/artifacts/{raw_path}"
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as s:
        s.sendall(
            f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc".encode()
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 404), reply[:300]


def test_symlink_inside_run_folder_cannot_lead_out(live_server, tmp_path) -> None:
    http = httpx.Client(base_url=live_server.url)
    run_id = _run(http)
    http.put(f"/api/v1/runs/{run_id}/artifacts/ok.txt", content=b"fine")
    run = http.get(f"/api/v1/runs/{run_id}").json()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    import os

    os.symlink(tmp_path, os.path.join(run["artifact_uri"], "escape"))
    r = http.get(f"/api/v1/runs/{run_id}/artifacts/escape/secret.txt")
    assert r.status_code == 400 and "outside" in r.json()["error"]["message"]
    r = http.put(f"/api/v1/runs/{run_id}/artifacts/escape/planted.txt", content=b"x")
    assert r.status_code == 400 and not (tmp_path / "planted.txt").exists()


def test_artifacts_are_served_as_downloads_never_rendered(http: httpx.Client) -> None:
    run_id = _run(http)
    http.put(f"/api/v1/runs/{run_id}/artifacts/x.html", content=b"<script>alert(1)</script>")
    r = http.get(f"/api/v1/runs/{run_id}/artifacts/x.html")
    assert r.content == b"<script>alert(1)</script>"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == "attachment"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_server_refuses_non_loopback_without_auth() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(Exception, match=r"Refusing to listen on 0\.0\.0\.0 with authentication off.*--auth"):
        check_bind_address("0.0.0.0", auth=False)
    check_bind_address("0.0.0.0", auth=True)  # allowed once sign-in is required
