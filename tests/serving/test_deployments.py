"""Deployments as records: create, update, roll back, delete, and the production gate.

Runs four ways (embedded and remote, SQLite and PostgreSQL) through the ``client`` fixture.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.client.client import Client
from modelyard.core.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from modelyard.serving.schemas import CanaryProgress


def _name(prefix: str = "dep") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # deployment names are global; PostgreSQL is shared


def _register(client: Client, project: str, model: str, *, tier: str = "medium", seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    experiment = client.get_or_create_experiment(project, "train")  # creates the project too
    if model not in {m.name for m in client.list_registered_models(project=project)}:
        client.create_registered_model(model, project=project, risk_tier=tier)
    run = client.create_run(experiment.id)
    client.log_metric(run.id, "auc", 0.9)
    client.flush()
    info = client.log_model(run.id, LogisticRegression().fit(X, y), "model", input_example=X.head(3))
    return client.register_model(info.uri, model, project=project).version


def test_create_update_rollback_delete(client: Client, project: str) -> None:
    v1 = _register(client, project, "scorer")
    v2 = _register(client, project, "scorer", seed=1)
    client.set_model_alias("scorer", "staging", v1, project=project)
    name = _name()

    d = client.create_deployment(name, "models:/scorer@staging", project=project, workers=2)
    assert (d.name, d.project, d.revision, d.model_uri, d.workers) == (
        name,
        project,
        1,
        "models:/scorer@staging",
        2,
    )
    assert client.get_deployment(name).id == d.id
    assert name in [x.name for x in client.list_deployments(project)]
    assert name in [x.name for x in client.list_deployments()]

    shadowed = client.update_deployment(
        name,
        reason="try the new one quietly",
        variants=[{"name": "challenger", "model_uri": f"models:/scorer/{v2}", "mode": "shadow"}],
    )
    assert shadowed.revision == 2 and shadowed.variants[0].name == "challenger"
    assert shadowed.workers == 2  # fields not named stay as they were

    back = client.rollback_deployment(name)
    assert back.revision == 3 and back.variants == []
    history = client.deployment_history(name)
    assert [h.revision for h in history] == [1, 2, 3]
    assert history[1].reason == "try the new one quietly"
    assert history[2].reason == "rolled back to revision 1"

    client.delete_deployment(name)
    with pytest.raises(NotFound, match=f"No deployment named '{name}'"):
        client.get_deployment(name)
    # The name is free again.
    assert client.create_deployment(name, f"models:/scorer/{v1}", project=project).revision == 1


def test_bad_specs_are_refused_with_a_reason(client: Client, project: str) -> None:
    v = _register(client, project, "scorer")
    name = _name()
    with pytest.raises(NotFound, match="'nope'"):
        client.create_deployment(name, "models:/nope@champion", project=project)
    with pytest.raises(InvalidArgument, match="not valid"):
        client.create_deployment(name, "scorer", project=project)
    with pytest.raises(InvalidArgument, match="'latest'"):
        client.create_deployment(name, "models:/scorer/latest", project=project)
    with pytest.raises(InvalidArgument, match="own project"):
        client.create_deployment(name, "models:/elsewhere/scorer/1", project=project)
    with pytest.raises(InvalidArgument, match="Deployment name"):
        client.create_deployment("Bad_Name", f"models:/scorer/{v}", project=project)
    with pytest.raises(InvalidArgument, match="weight"):
        client.create_deployment(
            name,
            f"models:/scorer/{v}",
            project=project,
            variants=[{"name": "b", "model_uri": f"models:/scorer/{v}", "mode": "ab", "weight": 100}],
        )
    client.create_deployment(name, f"models:/scorer/{v}", project=project)
    with pytest.raises(AlreadyExists, match="already exists"):
        client.create_deployment(name, f"models:/scorer/{v}", project=project)
    with pytest.raises(InvalidArgument, match="no earlier revision"):
        client.rollback_deployment(name)


def test_production_answers_only_from_governed_models(client: Client, project: str) -> None:
    # Low tier: a move onto @champion is a promotion judged on evidence, applied at once.
    v1 = _register(client, project, "pd", tier="low")
    client.set_model_alias("pd", "champion", v1, project=project)
    v2 = _register(client, project, "pd", tier="low", seed=1)
    client.set_model_alias("pd", "staging", v2, project=project)
    name = _name("prod")

    with pytest.raises(PermissionDenied, match="alias 'staging' of 'pd', which moves without approval"):
        client.create_deployment(name, "models:/pd@staging", project=project, production=True)
    with pytest.raises(PermissionDenied, match=f"version {v2} of 'pd', which has not passed governance"):
        client.create_deployment(name, f"models:/pd/{v2}", project=project, production=True)

    d = client.create_deployment(
        name,
        "models:/pd@champion",
        project=project,
        production=True,
        variants=[{"name": "next", "model_uri": f"models:/pd/{v2}", "mode": "shadow"}],  # shadows are free
    )
    assert d.production
    # The version that holds @champion may also be pinned by number.
    assert client.update_deployment(name, model_uri=f"models:/pd/{v1}").revision == 2
    with pytest.raises(PermissionDenied, match="has not passed governance"):
        client.update_deployment(name, canary={"model_uri": f"models:/pd/{v2}"})
    # Without the production flag a data scientist deploys anything ready, without waiting.
    assert client.create_deployment(_name(), f"models:/pd/{v2}", project=project).production is False


def test_canary_progress_rollback_and_completion(client: Client, project: str) -> None:
    v1 = _register(client, project, "scorer")
    v2 = _register(client, project, "scorer", seed=1)
    name = _name()
    client.create_deployment(
        name,
        f"models:/scorer/{v1}",
        project=project,
        canary={"model_uri": f"models:/scorer/{v2}", "steps": [10, 50, 100]},
    )
    d = client.report_canary(name, CanaryProgress(state="running", step=1, reason="step 1 healthy"))
    assert d.canary is not None and d.canary.weight == 50
    # Re-sending the same canary in an update keeps its progress.
    d = client.update_deployment(name, canary={"model_uri": f"models:/scorer/{v2}", "steps": [10, 50, 100]})
    assert d.canary is not None and d.canary.step == 1

    done = client.report_canary(name, CanaryProgress(state="completed", step=2))
    assert done.model_uri == f"models:/scorer/{v2}" and done.canary is None

    v3 = _register(client, project, "scorer", seed=2)
    client.update_deployment(name, canary={"model_uri": f"models:/scorer/{v3}"})
    rolled = client.report_canary(
        name, CanaryProgress(state="rolled_back", step=0, reason="error rate 0.30 > 0.02")
    )
    assert rolled.canary is not None and rolled.canary.state == "rolled_back" and rolled.canary.weight == 0
    assert rolled.model_uri == f"models:/scorer/{v2}"  # the primary never changed
    assert "error rate" in client.deployment_history(name)[-1].reason
