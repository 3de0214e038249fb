"""Sign-in, roles and the promotion gate over real HTTP with authentication on."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from modelyard import Client, PermissionDenied
from modelyard.access.service import AccessService
from modelyard.cli.main import app as cli_app
from modelyard.core.settings import Settings
from modelyard.core.store import Store
from modelyard.identity.service import IdentityService
from modelyard.server.background import BackgroundServer

ROLES = ["viewer", "contributor", "maintainer", "validator", "owner"]


@dataclass
class World:
    url: str
    project: str
    tokens: dict[str, str]
    names: dict[str, str]
    experiment_id: str
    run_id: str
    store: Store

    def http(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=20)


def _model_tar() -> bytes:
    weights = os.urandom(64)
    digest = hashlib.sha256(weights).hexdigest()
    manifest = {
        "flavor": "sklearn",
        "files": {"weights.bin": digest},
        "size_bytes": 64,
        "digest": hashlib.sha256(digest.encode()).hexdigest(),
        "unsafe": False,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("weights.bin", weights), ("MODEL.json", orjson.dumps(manifest))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    settings = Settings(home=tmp_path / "home", auth=True)
    server = BackgroundServer(store, settings).start()
    ids = IdentityService(store.db)
    suffix = uuid.uuid4().hex[:6]
    tokens, names = {}, {}
    for who in ["admin", "auditor", "outsider", *ROLES]:
        name = f"{who}-{suffix}"
        ids.create_user(name, is_admin=who == "admin", is_auditor=who == "auditor")
        tokens[who] = ids.issue_token(name, name="test")[1]
        names[who] = name
    project = f"secure-{suffix}"
    admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['admin']}"})
    admin.post("/api/v1/projects", json={"name": project}).raise_for_status()
    for role in ROLES:
        AccessService(store.db).set_member(project=project, user=names[role], role=role, actor="setup")
    exp = admin.put(f"/api/v1/projects/{project}/experiments/e").json()
    run = admin.post("/api/v1/runs", json={"experiment_id": exp["id"]}).json()
    admin.post(
        f"/api/v1/projects/{project}/models", json={"name": "pd", "risk_tier": "high"}
    ).raise_for_status()
    admin.post(
        f"/api/v1/projects/{project}/models/pd/versions/upload", content=_model_tar()
    ).raise_for_status()
    yield World(server.url, project, tokens, names, exp["id"], run["id"], store)
    server.stop()


# (operation, permission it needs, request builder)
def _operations(w: World) -> list[tuple[str, str, tuple]]:
    p = w.project
    return [
        ("read project", "project.read", ("GET", f"/api/v1/projects/{p}", None)),
        (
            "create experiment",
            "project.write",
            ("PUT", f"/api/v1/projects/{p}/experiments/x-{uuid.uuid4().hex[:4]}", None),
        ),
        ("start run", "runs.write", ("POST", "/api/v1/runs", {"experiment_id": w.experiment_id})),
        ("read run", "runs.read", ("GET", f"/api/v1/runs/{w.run_id}", None)),
        (
            "log metrics",
            "runs.write",
            ("POST", f"/api/v1/runs/{w.run_id}/batch", {"metrics": [{"key": "m", "value": 1.0}]}),
        ),
        ("read model", "models.read", ("GET", f"/api/v1/projects/{p}/models/pd", None)),
        (
            "register version",
            "models.write",
            ("UPLOAD", f"/api/v1/projects/{p}/models/pd/versions/upload", None),
        ),
        (
            "change risk tier",
            "models.manage",
            ("PATCH", f"/api/v1/projects/{p}/models/pd", {"risk_tier": "high"}),
        ),
        (
            "move challenger",
            "models.alias",
            ("PUT", f"/api/v1/projects/{p}/models/pd/aliases/challenger", {"version": 1}),
        ),
        (
            "request promotion",
            "governance.request",
            (
                "POST",
                f"/api/v1/projects/{p}/promotions",
                {"model": "pd", "version": 1, "alias": "production"},
            ),
        ),
        (
            "manage members",
            "project.members",
            ("PUT", f"/api/v1/projects/{p}/members/{w.names['viewer']}", {"role": "viewer"}),
        ),
    ]


ALLOWED = {
    "viewer": {"project.read", "runs.read", "models.read"},
    "contributor": {
        "project.read",
        "runs.read",
        "models.read",
        "project.write",
        "runs.write",
        "models.write",
        "governance.request",
    },
    "maintainer": {
        "project.read",
        "runs.read",
        "models.read",
        "project.write",
        "runs.write",
        "models.write",
        "governance.request",
        "models.manage",
        "models.alias",
    },
    "validator": {"project.read", "runs.read", "models.read"},
    "owner": {
        "project.read",
        "runs.read",
        "models.read",
        "project.write",
        "runs.write",
        "models.write",
        "governance.request",
        "models.manage",
        "models.alias",
        "project.members",
    },
    "auditor": {"project.read", "runs.read", "models.read"},
    "admin": {
        "project.read",
        "runs.read",
        "models.read",
        "project.write",
        "runs.write",
        "models.write",
        "governance.request",
        "models.manage",
        "models.alias",
        "project.members",
    },
}


def _send(http: httpx.Client, method: str, path: str, body) -> httpx.Response:
    if method == "UPLOAD":
        return http.post(path, content=_model_tar())
    return http.request(method, path, json=body) if body is not None else http.request(method, path)


@pytest.mark.parametrize("who", [*ROLES, "auditor", "admin", "outsider"])
def test_role_matrix(world: World, who: str) -> None:
    with world.http(who) as http:
        for label, permission, (method, path, body) in _operations(world):
            r = _send(http, method, path, body)
            if who == "outsider":
                assert r.status_code == 404, (label, r.status_code, r.text)
                assert world.project not in r.text or "No project named" in r.text
            elif permission in ALLOWED[who]:
                assert r.status_code < 300, (who, label, r.status_code, r.text)
            else:
                assert r.status_code == 403, (who, label, r.status_code, r.text)
                assert f"'{permission}'" in r.json()["error"]["message"], (who, label)


def test_outsiders_cannot_tell_missing_from_forbidden(world: World) -> None:
    with world.http("outsider") as http:
        real = http.get(f"/api/v1/runs/{world.run_id}")
        fake = http.get(f"/api/v1/runs/{'0' * 32}")
    assert real.status_code == fake.status_code == 404
    assert real.json()["error"]["message"].replace(world.run_id, "X") == fake.json()["error"][
        "message"
    ].replace("0" * 32, "X")


def test_no_or_bad_token_is_401(world: World) -> None:
    with world.http(None) as http:
        r = http.get(f"/api/v1/projects/{world.project}")
        assert r.status_code == 401 and "MODELYARD_TOKEN" in r.json()["error"]["message"]
        bad = http.get(f"/api/v1/projects/{world.project}", headers={"Authorization": "Bearer myd_nope_nope"})
        assert bad.status_code == 401 and bad.json()["error"]["message"] == "Invalid or expired token."


def test_only_admins_create_users(world: World) -> None:
    body = {"name": f"new-{uuid.uuid4().hex[:6]}", "password": "a long enough passphrase 1"}
    with world.http("owner") as http:
        r = http.post("/api/v1/users", json=body)
        assert r.status_code == 403 and "'users.admin'" in r.json()["error"]["message"]
    with world.http("admin") as http:
        assert http.post("/api/v1/users", json=body).status_code == 201


def test_login_is_rate_limited_and_failures_audited(world: World) -> None:
    name = world.names["viewer"]
    with world.http(None) as http:
        codes = [
            http.post(
                "/api/v1/auth/login", json={"name": name, "password": f"wrong-guess-{i}-xxxx"}
            ).status_code
            for i in range(7)
        ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    with world.http("auditor") as http:
        records = http.get("/api/v1/audit", params={"limit": 1000}).json()
        while len(records) == 1000:
            more = http.get("/api/v1/audit", params={"after_seq": records[-1]["seq"], "limit": 1000}).json()
            if not more:
                break
            records = more
    failed = [r for r in records if "login" in r["action"] and r["outcome"] in ("denied", "failed")]
    assert failed, "failed logins must be on the audit trail"


def test_protected_alias_gate_holds_over_rest_sdk_and_cli(world: World) -> None:
    p = world.project
    with world.http("maintainer") as http:
        r = http.put(f"/api/v1/projects/{p}/models/pd/aliases/champion", json={"version": 1})
        assert r.status_code == 403 and "protected" in r.json()["error"]["message"]
    sdk = Client(
        world.url, token=world.tokens["maintainer"], settings=Settings(home=Path("/tmp/unused-home"))
    )
    with pytest.raises(PermissionDenied, match="protected"):
        sdk.set_model_alias("pd", "champion", 1, project=p)
    result = CliRunner().invoke(
        cli_app,
        ["models", "alias", "pd", "champion", "1", "--project", p, "--uri", world.url],
        env={"MODELYARD_TOKEN": world.tokens["maintainer"], "COLUMNS": "200"},
    )
    assert result.exit_code == 1 and "protected" in result.output

    # The workflow: a contributor asks, the card is written, a validator approves, the alias moves.
    contributor = Client(
        world.url, token=world.tokens["contributor"], settings=Settings(home=Path("/tmp/unused"))
    )
    req = contributor.request_promotion("pd", 1, "champion", project=p, reason="ready")
    assert req.status == "pending"
    with pytest.raises(PermissionDenied, match=r"'governance\.review'"):
        contributor.approve_promotion(req.id)  # contributors do not review
    admin = Client(world.url, token=world.tokens["admin"], settings=Settings(home=Path("/tmp/unused")))
    admin.set_model_card("pd", 1, project=p, intended_use="x", limitations="y")
    admin.record_check("pd", 1, "fairness", True, project=p)
    validator = Client(
        world.url, token=world.tokens["validator"], settings=Settings(home=Path("/tmp/unused"))
    )
    done = validator.approve_promotion(req.id, "evidence reviewed")
    # External versions have no source run, so the AUC rule cannot pass: the request stays pending.
    assert done.status == "pending" and done.approvals == 1
    assert any(not e["passed"] and e["kind"] == "metric" for e in done.evidence)
    assert admin.get_registered_model("pd", project=p).aliases.get("champion") is None


def test_secrets_never_reach_events_or_the_audit_trail(world: World) -> None:
    with world.http("admin") as http:
        http.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/x", "project_id": None})
        issued = http.post("/api/v1/users/me/tokens", json={"name": "ci"}).json()
    secret_token = issued.get("token", "")
    assert secret_token.startswith("myd_")
    with world.store.db.read() as conn:
        dump = "".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM audit_log").all())
        dump += "".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM events").all())
    for who in world.tokens:
        assert world.tokens[who] not in dump
    assert secret_token not in dump and secret_token.split("_")[-1] not in dump


def test_guessing_tokens_is_throttled(world: World) -> None:
    with world.http(None) as http:
        codes = [
            http.get(
                f"/api/v1/projects/{world.project}",
                headers={"Authorization": f"Bearer myd_{'a' * 12}_{i:043d}"},
            ).status_code
            for i in range(7)
        ]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
