"""Searching registered models and model versions, on SQLite and PostgreSQL.

The registry is built row by row with SQL inserts, so each search is checked against data
whose every value the test chose: models with tags and risk tiers, versions produced by
runs with known metrics and params, aliases and version tags, a deleted model and a model
of the same name in another project (neither may ever match).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import insert

from modelyard.core.errors import InvalidArgument
from modelyard.core.ids import new_id
from modelyard.core.store import Store
from modelyard.projects.tables import experiments, projects
from modelyard.registry.search import search_model_ids, search_version_ids
from modelyard.registry.tables import (
    model_aliases,
    model_tags,
    model_versions,
    registered_models,
    version_tags,
)
from modelyard.tracking.filter_parser import (
    MODEL_FILTER,
    RUN_FILTER,
    VERSION_FILTER,
    Comparison,
    FilterSchema,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from modelyard.tracking.tables import latest_metrics, params, runs

T0 = 1_700_000_000_000


@dataclass
class Registry:
    """Ids of what the ``registry`` fixture inserted, by readable labels."""

    project_id: str
    models: dict[str, str] = field(default_factory=dict)  # model label -> id
    versions: dict[str, str] = field(default_factory=dict)  # "credit/2" -> id

    def model_labels(self, ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.models.items()}
        return [by_id[i] for i in ids]

    def version_labels(self, ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.versions.items()}
        return [by_id[i] for i in ids]


def _insert_registry(store: Store, project: str) -> Registry:
    """Two projects; in the first: runs, three live models with versions and one deleted model."""
    with store.db.write() as conn:

        def add(table: Any, **row: Any) -> str:
            row.setdefault("id", new_id())
            conn.execute(insert(table).values(**row))
            return str(row["id"])

        project_id = add(projects, name=project, created_at=T0)
        other_project = add(projects, name=f"{project}-other", created_at=T0)
        experiment = add(experiments, project_id=project_id, name="train", created_at=T0)

        def run(auc: float | None, depth: str) -> str:
            run_id = add(
                runs,
                experiment_id=experiment,
                project_id=project_id,
                name=f"fit-{depth}",
                status="FINISHED",
                start_time=T0,
                heartbeat_at=T0,
                artifact_uri="file:///tmp/unused",
            )
            if auc is not None:
                conn.execute(
                    insert(latest_metrics).values(run_id=run_id, key="auc", value=auc, step=0, timestamp=T0)
                )
            conn.execute(insert(params).values(run_id=run_id, key="depth", value=depth))
            return run_id

        r70, r85, r90, r95 = run(0.70, "3"), run(0.85, "3"), run(0.90, "3"), run(0.95, "5")
        reg = Registry(project_id)

        def model(label: str, *, tier: str, team: str, status: str = "active", pid: str = project_id) -> str:
            model_id = add(
                registered_models,
                project_id=pid,
                name=label,
                owner="alice",
                risk_tier=tier,
                status=status,
                created_at=T0,
                updated_at=T0 + len(reg.models),
            )
            conn.execute(insert(model_tags).values(model_id=model_id, key="team", value=team))
            reg.models[label] = model_id
            return model_id

        clock = iter(range(1, 100))

        def version(model_label: str, number: int, run_id: str | None, **tags: str) -> str:
            version_id = add(
                model_versions,
                model_id=reg.models[model_label],
                version=number,
                status="ready",
                provenance="run" if run_id else "external",
                source=f"runs:/{run_id}/model" if run_id else "s3://bucket/model",
                run_id=run_id,
                storage_uri="file:///tmp/unused",
                flavor="sklearn",
                manifest={},
                created_at=T0 + next(clock),
            )
            for key, value in tags.items():
                conn.execute(insert(version_tags).values(version_id=version_id, key=key, value=value))
            reg.versions[f"{model_label}/{number}"] = version_id
            return version_id

        def alias(name: str, version_label: str) -> None:
            model_label = version_label.split("/")[0]
            conn.execute(
                insert(model_aliases).values(
                    model_id=reg.models[model_label],
                    alias=name,
                    version_id=reg.versions[version_label],
                    updated_at=T0,
                )
            )

        model("credit", tier="high", team="risk")
        model("credit-lite", tier="low", team="retail")
        model("fraud", tier="critical", team="risk", status="archived")
        model("old.deleted-1a2b3c4d", tier="high", team="risk", status="deleted")
        model("credit@other", tier="high", team="risk", pid=other_project)
        conn.execute(  # the same model name as "credit", in the other project
            registered_models.update()
            .where(registered_models.c.id == reg.models["credit@other"])
            .values(name="credit")
        )
        version("credit", 1, r70)
        version("credit", 2, r90, stage="validated")
        version("credit", 3, r85, stage="draft")
        version("credit", 4, None)
        version("credit-lite", 1, r95, stage="validated")
        version("fraud", 1, r90)
        version("old.deleted-1a2b3c4d", 1, r90, stage="validated")
        version("credit@other", 1, None, stage="validated")
        alias("champion", "credit/2")
        alias("challenger", "credit/3")
        alias("champion", "fraud/1")
        alias("champion", "old.deleted-1a2b3c4d/1")
        alias("champion", "credit@other/1")
    return reg


@pytest.fixture
def registry(store: Store, project: str) -> Registry:
    return _insert_registry(store, project)


def find_models(store: Store, reg: Registry, filter_text: str | None, **kwargs: Any) -> list[str]:
    with store.db.read() as conn:
        ids, token = search_model_ids(
            conn,
            project_id=reg.project_id,
            filter_text=filter_text,
            order_by=kwargs.pop("order_by", None),
            max_results=kwargs.pop("max_results", 100),
            page_token=None,
        )
    assert token is None
    return reg.model_labels(ids)


def find_versions(store: Store, reg: Registry, filter_text: str | None, **kwargs: Any) -> list[str]:
    with store.db.read() as conn:
        ids, token = search_version_ids(
            conn,
            project_id=reg.project_id,
            filter_text=filter_text,
            order_by=kwargs.pop("order_by", None),
            max_results=kwargs.pop("max_results", 100),
            page_token=None,
        )
    assert token is None
    return reg.version_labels(ids)


# ---------------------------------------------------------------------------- models


def test_models_by_name_like_ordered_by_name(store: Store, registry: Registry) -> None:
    assert find_models(store, registry, "name LIKE 'credit%'") == ["credit", "credit-lite"]
    assert find_models(store, registry, "name ILIKE 'CREDIT%' and name != 'credit'") == ["credit-lite"]
    assert find_models(store, registry, None) == ["credit", "credit-lite", "fraud"]  # never the deleted one


def test_models_by_tag(store: Store, registry: Registry) -> None:
    assert find_models(store, registry, "tags.team = 'risk'") == ["credit", "fraud"]
    assert find_models(store, registry, "tags.team IN ('retail') or status = 'ARCHIVED'") == [
        "credit-lite",
        "fraud",
    ]
    assert find_models(store, registry, "tags.region IS NULL") == ["credit", "credit-lite", "fraud"]
    assert find_models(store, registry, None, order_by=["tags.team DESC", "updated_at DESC"]) == [
        "fraud",
        "credit",
        "credit-lite",
    ]


def test_models_by_risk_tier_any_case(store: Store, registry: Registry) -> None:
    assert find_models(store, registry, "risk_tier = 'HIGH'") == ["credit"]
    assert find_models(store, registry, "attributes.risk_tier IN ('Low', 'critical')") == [
        "credit-lite",
        "fraud",
    ]


def test_bad_risk_tier_names_the_allowed_values(store: Store, registry: Registry) -> None:
    with pytest.raises(InvalidArgument) as info:
        find_models(store, registry, "risk_tier = 'extreme'")
    assert info.value.message == (
        "Invalid filter at position 13 (\"'extreme'\"): "
        "risk_tier must be one of low, medium, high, critical, not 'extreme'."
    )


def test_run_only_entity_in_a_model_filter_says_what_models_allow(store: Store, registry: Registry) -> None:
    with pytest.raises(InvalidArgument) as info:
        find_models(store, registry, "metrics.auc > 1")
    message = info.value.message
    assert message.startswith(
        'Invalid filter at position 1 ("metrics"): model filters can use attributes and tags'
    )
    assert "search model versions instead" in message


# -------------------------------------------------------------------------- versions


def test_versions_by_run_metric_and_param_ordered_by_metric(store: Store, registry: Registry) -> None:
    found = find_versions(
        store, registry, "metrics.auc > 0.8 and params.depth = '3'", order_by=["metrics.auc DESC"]
    )
    # fraud/1 and credit/2 share a run (auc 0.9): the newer version comes first
    assert found == ["fraud/1", "credit/2", "credit/3"]


def test_versions_by_alias(store: Store, registry: Registry) -> None:
    assert find_versions(store, registry, "alias = 'champion'") == ["fraud/1", "credit/2"]
    assert find_versions(store, registry, "alias IN ('challenger')") == ["credit/3"]
    assert find_versions(store, registry, "alias IS NULL") == ["credit-lite/1", "credit/4", "credit/1"]
    # a negative test on a multi-valued field: "the champion alias does not point here"
    assert find_versions(store, registry, "alias != 'champion'") == [
        "credit-lite/1",
        "credit/4",
        "credit/3",
        "credit/1",
    ]


def test_versions_by_tag(store: Store, registry: Registry) -> None:
    assert find_versions(store, registry, "tags.stage = 'validated'") == ["credit-lite/1", "credit/2"]


def test_versions_by_number_and_model_name(store: Store, registry: Registry) -> None:
    found = find_versions(
        store, registry, "attributes.version >= 2 and name = 'credit'", order_by=["version"]
    )
    assert found == ["credit/2", "credit/3", "credit/4"]


def test_versions_by_other_attributes(store: Store, registry: Registry) -> None:
    assert find_versions(store, registry, "provenance = 'EXTERNAL'") == ["credit/4"]
    assert find_versions(store, registry, "metrics.auc IS NULL") == ["credit/4"]
    assert find_versions(store, registry, "run_id IS NULL or status != 'ready'") == ["credit/4"]
    assert find_versions(store, registry, f"created_at <= {T0 + 2}", order_by=["created_at"]) == [
        "credit/1",
        "credit/2",
    ]
    # params of the source run; ties on version fall back to newest first; no run sorts last
    assert find_versions(store, registry, None, order_by=["params.depth DESC", "version ASC"]) == [
        "credit-lite/1",
        "fraud/1",
        "credit/1",
        "credit/2",
        "credit/3",
        "credit/4",
    ]


def test_versions_of_deleted_models_never_appear(store: Store, registry: Registry) -> None:
    everything = find_versions(store, registry, None)
    assert everything == ["fraud/1", "credit-lite/1", "credit/4", "credit/3", "credit/2", "credit/1"]
    assert find_versions(store, registry, "name LIKE 'old%'") == []
    assert find_versions(store, registry, "tags.stage = 'validated' and alias = 'champion'") == ["credit/2"]


def test_paging_through_versions_returns_each_once(store: Store, registry: Registry) -> None:
    for order_by in ([], ["metrics.auc DESC"], ["name", "version DESC"]):
        expected = find_versions(store, registry, None, order_by=order_by)
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            with store.db.read() as conn:
                ids, token = search_version_ids(
                    conn,
                    project_id=registry.project_id,
                    filter_text=None,
                    order_by=order_by,
                    max_results=4,
                    page_token=token,
                )
            seen += registry.version_labels(ids)
            pages += 1
            if token is None:
                break
        assert seen == expected and len(set(seen)) == 6
        assert pages == 2


def test_page_tokens_are_bound_to_their_search(store: Store, registry: Registry) -> None:
    with store.db.read() as conn:
        _, token = search_version_ids(
            conn,
            project_id=registry.project_id,
            filter_text=None,
            order_by=None,
            max_results=1,
            page_token=None,
        )
        assert token is not None
        with pytest.raises(InvalidArgument, match="different search"):
            search_model_ids(
                conn,
                project_id=registry.project_id,
                filter_text=None,
                order_by=None,
                max_results=1,
                page_token=token,
            )
        with pytest.raises(InvalidArgument, match="page_token is not valid"):
            search_version_ids(
                conn,
                project_id=registry.project_id,
                filter_text=None,
                order_by=None,
                max_results=1,
                page_token="garbage!",
            )
        with pytest.raises(InvalidArgument, match="max_results must be between 1 and 10000"):
            search_model_ids(
                conn,
                project_id=registry.project_id,
                filter_text=None,
                order_by=None,
                max_results=0,
                page_token=None,
            )


def test_versions_cannot_be_ordered_by_alias(store: Store, registry: Registry) -> None:
    with pytest.raises(InvalidArgument, match="model versions cannot be ordered by alias"):
        find_versions(store, registry, None, order_by=["alias"])


# ---------------------------------------------------------------------------- parser


def parse_error(text: str, schema: FilterSchema) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_filter(text, schema)
    return info.value.message


def test_run_filter_is_the_default() -> None:
    text = "metrics.auc > 0.9 and status = 'finished'"
    assert parse_filter(text) == parse_filter(text, RUN_FILTER)
    assert (
        parse_order_by(["run_id"])
        == parse_order_by(["run_id"], RUN_FILTER)
        == (OrderBy("attribute", "id", False),)
    )


@pytest.mark.parametrize(
    ("schema", "text", "value"),
    [
        (MODEL_FILTER, "risk_tier = 'Critical'", "critical"),
        (MODEL_FILTER, "status != 'ARCHIVED'", "archived"),
        (VERSION_FILTER, "status = 'Ready'", "ready"),
        (VERSION_FILTER, "provenance = 'RUN'", "run"),
        (RUN_FILTER, "status = 'killed'", "KILLED"),
    ],
)
def test_enumerated_values_are_normalised_to_their_stored_spelling(
    schema: FilterSchema, text: str, value: str
) -> None:
    node = parse_filter(text, schema)
    assert isinstance(node, Comparison) and node.value == value


def test_unknown_attributes_list_the_schemas_own() -> None:
    assert parse_error("colour = 'x'", MODEL_FILTER) == (
        "Invalid filter at position 1 (\"colour\"): unknown attribute 'colour'; allowed attributes: "
        "name, description, owner, risk_tier, status, created_at, updated_at (model_name also works); "
        "for a tag write tags.colour."
    )
    message = parse_error("attributes.colour = 'x'", VERSION_FILTER)
    assert (
        "allowed attributes: name, version, status, provenance, flavor, digest, run_id, created_by, "
        "created_at, alias (model_name also works)." in message
    )
    assert "unknown entity 'run'; use tags. or attributes." in parse_error("run.status = 'x'", MODEL_FILTER)


def test_entities_a_schema_does_not_allow_are_named() -> None:
    assert "model filters can use attributes and tags, not params" in parse_error(
        "params.a = '1'", MODEL_FILTER
    )
    assert "model version filters can use attributes, tags, metrics and params, not datasets" in parse_error(
        "datasets.name = 'iris'", VERSION_FILTER
    )
    with pytest.raises(InvalidArgument, match="models can be ordered by attributes and tags, not metrics"):
        parse_order_by(["metrics.auc DESC"], MODEL_FILTER)


def test_version_numbers_and_times_are_numbers() -> None:
    assert parse_filter("version >= 2.0", VERSION_FILTER) == Comparison("attribute", "version", ">=", 2, 1)
    assert "attributes.version is a number: remove the quotes, e.g. version = 2" in parse_error(
        "version = '2'", VERSION_FILTER
    )
    assert "attributes.updated_at is a time in milliseconds since the epoch" in parse_error(
        "updated_at > 'today'", MODEL_FILTER
    )
    assert "LIKE does not work on attributes.version" in parse_error("version LIKE '1%'", VERSION_FILTER)
    assert "status must be one of pending, ready, failed, not 'done'" in parse_error(
        "status IN ('ready', 'done')", VERSION_FILTER
    )


def test_version_specific_spellings() -> None:
    assert parse_filter("model_name = 'credit'", VERSION_FILTER) == Comparison(
        "attribute", "name", "=", "credit", 1
    )
    assert parse_filter("model.owner LIKE 'a%'", MODEL_FILTER) == Comparison(
        "attribute", "owner", "LIKE", "a%", 1
    )
    # run_id is a version attribute of its own, not an alias of id as for runs
    assert parse_filter("run_id = 'abc'", VERSION_FILTER) == Comparison("attribute", "run_id", "=", "abc", 1)
    assert parse_filter("run_id = 'abc'") == Comparison("attribute", "id", "=", "abc", 1)


def test_a_schema_is_checked_when_it_is_built() -> None:
    with pytest.raises(ValueError, match="unknown attributes: size"):
        FilterSchema(
            noun="thing", entities=frozenset({"attribute"}), attributes=("name",), numeric=frozenset({"size"})
        )
