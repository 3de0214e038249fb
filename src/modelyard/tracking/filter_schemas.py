"""What a search filter may reference, per kind of object: runs, models, model versions.

The parser (``filter_parser``) is shared; a ``FilterSchema`` tells it which entities and
attributes exist, which are numeric or enumerated, and how messages should name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

KINDS = ("metric", "param", "tag", "attribute", "dataset")  # the order messages list them in


@dataclass(frozen=True)
class FilterSchema:
    """What a filter over one kind of object may reference, and how messages name it.

    Attributes:
        noun: the object searched, for messages: "run", "model", "model version".
        entities: the entities a filter may use, a subset of metric, param, tag, attribute, dataset.
        attributes: canonical attribute names, in the order messages list them.
        aliases: other spellings of attributes (lower case), e.g. run_id for id.
        numeric: attributes holding numbers (times, version numbers); the rest hold strings.
        times: the numeric attributes that are milliseconds since the epoch.
        enums: attributes holding one of a fixed set of values, with the values as stored;
            ``= != IN NOT IN`` match them case-insensitively and normalise to that spelling.
        unordered: attributes a filter may use but an order-by may not (e.g. multi-valued ones).
        prefixes: extra words that mean ``attributes.``, e.g. ``run.`` for runs.
        sample_attribute: the attribute examples in messages use.
        hints: for an entity this schema does not allow, where to use it instead.
    """

    noun: str
    entities: frozenset[str]
    attributes: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    numeric: frozenset[str] = frozenset()
    times: frozenset[str] = frozenset()
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    unordered: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    sample_attribute: str = "status"
    hints: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        names = set(self.attributes)
        problems = [
            (set(self.entities) - set(KINDS), "unknown entities"),
            (set(self.aliases.values()) - names, "aliases of unknown attributes"),
            ((set(self.numeric) | set(self.enums) | set(self.unordered)) - names, "unknown attributes"),
            (set(self.times) - set(self.numeric), "times that are not numeric"),
            (set(self.numeric) & set(self.enums), "attributes both numeric and enumerated"),
            ({self.sample_attribute} - names, "an unknown sample attribute"),
        ]
        for bad, what in problems:
            if bad:
                raise ValueError(f"FilterSchema for {self.noun}s has {what}: {', '.join(sorted(bad))}")
        # Read-only views: a schema is shared by every search.
        for name in ("aliases", "enums", "hints"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def plural(self) -> str:
        """The noun in the plural, e.g. "model versions"."""
        return f"{self.noun}s"


RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
ATTRIBUTES = (
    "id",
    "name",
    "status",
    "user",
    "start_time",
    "end_time",
    "experiment_id",
    "git_commit",
    "entry_point",
    "host",
)
_RUN_TIMES = frozenset({"start_time", "end_time"})
RUN_FILTER = FilterSchema(
    noun="run",
    entities=frozenset(KINDS),
    attributes=ATTRIBUTES,
    aliases={"run_id": "id", "run_name": "name"},
    numeric=_RUN_TIMES,
    times=_RUN_TIMES,
    enums={"status": RUN_STATUSES},
    prefixes=("run",),
    sample_attribute="status",
)
"""Runs: metrics, params, tags, attributes and datasets (today's run search)."""

_MODEL_TIMES = frozenset({"created_at", "updated_at"})
_RUN_ONLY = "metrics and params belong to a model version's source run: search model versions instead"
MODEL_FILTER = FilterSchema(
    noun="model",
    entities=frozenset({"attribute", "tag"}),
    attributes=("name", "description", "owner", "risk_tier", "status", "created_at", "updated_at"),
    aliases={"model_name": "name"},
    numeric=_MODEL_TIMES,
    times=_MODEL_TIMES,
    enums={"risk_tier": ("low", "medium", "high", "critical"), "status": ("active", "archived")},
    prefixes=("model",),
    sample_attribute="name",
    hints={
        "metric": _RUN_ONLY,
        "param": _RUN_ONLY,
        "dataset": "datasets belong to runs: search runs instead",
    },
)
"""Registered models: their attributes and tags."""

VERSION_FILTER = FilterSchema(
    noun="model version",
    entities=frozenset({"metric", "param", "tag", "attribute"}),
    attributes=(
        "name",
        "version",
        "status",
        "provenance",
        "flavor",
        "digest",
        "run_id",
        "created_by",
        "created_at",
        "alias",
    ),
    aliases={"model_name": "name"},
    numeric=frozenset({"version", "created_at"}),
    times=frozenset({"created_at"}),
    enums={"status": ("pending", "ready", "failed"), "provenance": ("run", "external")},
    unordered=frozenset({"alias"}),
    sample_attribute="version",
    hints={"dataset": "datasets belong to runs: search runs instead"},
)
"""Model versions: attributes (``name`` is the model's), version tags, and the metrics and
params of the version's source run; ``alias`` matches any alias pointing at the version."""
