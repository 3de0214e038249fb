"""The demo's registry and governance tour, after training.

1. The best run's model is registered as ``credit-default`` (a low-risk model, whose
   policy auto-approves a promotion when its evidence passes) and becomes ``champion``.
2. On a server with sign-in switched on, an admin, a data scientist and a validator play
   out a promotion of a high-risk model: the gate refuses the scientist's direct move,
   the scientist requests a promotion, the validator approves, the alias moves, and the
   audit trail verifies.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import modelyard as my
from modelyard.access.service import AccessService
from modelyard.audit.chain import verify_chain
from modelyard.audit.tables import audit_log
from modelyard.cli.models import lineage_tree
from modelyard.core.errors import AlreadyExists, NotFound, PermissionDenied
from modelyard.core.settings import Settings, get_settings
from modelyard.core.store import Store
from modelyard.demo.data import TARGET
from modelyard.identity.service import IdentityService
from modelyard.server.background import BackgroundServer

CHAMPION_MODEL = "credit-default"
GOVERNED_MODEL = "credit-decision"


def register_champion(
    out: Console, project: str, best_run_id: str, sample: Any, reference: Any = None
) -> int:
    """Register the best run's model and point ``champion`` at it; returns the version.

    ``reference`` (held-out rows with the target) becomes the version's reference profile, with
    the champion's scores, so monitors can judge drift and estimate accuracy before labels arrive.
    """
    client = my.get_client()
    with contextlib.suppress(AlreadyExists):
        client.create_registered_model(
            CHAMPION_MODEL,
            project=project,
            risk_tier="low",
            description="Probability of default for retail credit applications.",
        )
    version = my.register_model(f"runs:/{best_run_id}/model", CHAMPION_MODEL)
    my.set_model_alias(CHAMPION_MODEL, "champion", version.version, reason="best validation AUC")
    champion = my.load_model(f"models:/{CHAMPION_MODEL}@champion")
    proba = champion.predict_proba(sample)[:, 1]
    if reference is not None:
        features = reference.drop(columns=[TARGET])
        scored = reference.assign(score=champion.predict_proba(features)[:, 1])
        client.set_reference(
            CHAMPION_MODEL, version.version, scored, target=TARGET, prediction="score", project=project
        )
    out.print(
        f"\nRegistered [bold]{CHAMPION_MODEL}[/] v{version.version} ({version.flavor}, digest "
        f"{version.digest[:12]}) and made it [green]@champion[/]; it scores the first applications at "
        f"{np.round(proba[:3], 3).tolist()}.",
        highlight=False,
    )
    out.print(lineage_tree(client.get_model_lineage(CHAMPION_MODEL, alias="champion", project=project)))
    out.print(
        f"  Model card: modelyard models card {CHAMPION_MODEL} @champion --project {project} --html "
        "--out card.html",
        highlight=False,
    )
    return version.version


def _user(ids: IdentityService, name: str, **kind: bool) -> str:
    try:
        ids.get_user(name)
    except NotFound:
        ids.create_user(name, **kind)
    return ids.issue_token(name, name="demo", expires_in_days=1)[1]


def governance_tour(out: Console, project: str, best_run_id: str) -> bool:
    """Play out a governed promotion on a server with sign-in on; returns whether the audit trail verifies."""
    settings = get_settings()
    store = Store.open(settings.resolved_store_uri, settings.resolved_artifacts_uri)
    ids = IdentityService(store.db)
    tokens = {
        role: _user(ids, f"demo-{role}", is_admin=role == "admin")
        for role in ("admin", "scientist", "validator")
    }
    access = AccessService(store.db)
    access.set_member(project=project, user="demo-scientist", role="contributor", actor="demo-admin")
    access.set_member(project=project, user="demo-validator", role="validator", actor="demo-admin")
    with BackgroundServer(store, settings.model_copy(update={"auth": True})) as server:

        def as_(role: str) -> my.Client:
            return my.Client(server.url, token=tokens[role], settings=Settings(home=settings.home))

        out.print(
            f"\n[bold]Governance[/]: a server with sign-in at {server.url}; users demo-admin, "
            "demo-scientist (contributor), demo-validator (validator).",
            highlight=False,
        )
        admin, scientist, validator = as_("admin"), as_("scientist"), as_("validator")
        with contextlib.suppress(AlreadyExists):
            admin.create_registered_model(
                GOVERNED_MODEL,
                project=project,
                risk_tier="high",
                description="Approves or declines applications automatically.",
            )
        v = scientist.register_model(f"runs:/{best_run_id}/model", GOVERNED_MODEL, project=project)
        scientist.set_model_card(
            GOVERNED_MODEL,
            v.version,
            project=project,
            intended_use="Automated decisions on retail credit applications up to 25k.",
            limitations="Trained on synthetic data; not validated for small businesses.",
        )
        try:
            admin.set_model_alias(GOVERNED_MODEL, "production", v.version, project=project)
        except PermissionDenied as exc:
            out.print(
                f"  even demo-admin moving @production directly → [red]refused[/]: {exc.message}",
                highlight=False,
            )
        req = scientist.request_promotion(
            GOVERNED_MODEL,
            v.version,
            "production",
            project=project,
            reason=f"demo {uuid.uuid4().hex[:6]}: best AUC this session",
        )
        passed = ", ".join(f"{e['rule']} ✓" if e["passed"] else f"{e['rule']} ✗" for e in req.evidence)
        out.print(
            f"  demo-scientist requests the promotion → [yellow]{req.status}[/] (evidence: {passed}; "
            f"needs {req.approvals_needed} validator approval)",
            highlight=False,
        )
        done = validator.approve_promotion(req.id, "Evidence and card reviewed.")
        moved = admin.get_registered_model(GOVERNED_MODEL, project=project).aliases.get("production")
        out.print(
            f"  demo-validator approves → [green]{done.status}[/] ({done.outcome}); "
            f"{GOVERNED_MODEL}@production is now v{moved}",
            highlight=False,
        )
        for c in (admin, scientist, validator):
            c.close()
    result = verify_chain(store.db)
    out.print(
        f"\n[bold]Audit trail[/]: {'[green]intact' if result.ok else '[red]BROKEN'}[/], {result.records} "
        f"records (modelyard audit verify).",
        highlight=False,
    )
    out.print(_audit_table(store))
    store.close()
    return result.ok


def _audit_table(store: Store, last: int = 12) -> Table:
    with store.db.read() as conn:
        rows = conn.execute(audit_log.select().order_by(audit_log.c.seq.desc()).limit(last)).mappings().all()
    table = Table(title=f"Last {last} audit records", title_justify="left")
    for col in ("seq", "actor", "action", "object", "from", "outcome", "hash"):
        table.add_column(col)
    for r in reversed(rows):
        table.add_row(
            str(r["seq"]),
            r["actor"],
            r["action"],
            f"{r['object_type']} {r['object_id'][:8]}",
            r["client_address"],
            r["outcome"],
            r["hash"][:10],
        )
    return table
