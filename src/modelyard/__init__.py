"""Modelyard: one system of record for the model lifecycle.

import modelyard as my
my.set_project("credit-risk")
with my.start_run(name="gbm-1"):
    my.log_params({"lr": 0.1})
    my.log_metric("loss", 0.3, step=1)
"""

__version__ = "0.1.0"

from modelyard.client.client import Client, Metric, MetricHistory, RunList
from modelyard.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    ModelyardError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from modelyard.fluent import (
    ActiveRun,
    active_run,
    end_run,
    flush,
    get_client,
    get_metric_history,
    get_run,
    get_tracking_uri,
    load_model,
    log_artifact,
    log_artifacts,
    log_input,
    log_metric,
    log_metrics,
    log_model,
    log_param,
    log_params,
    log_text,
    register_model,
    request_promotion,
    search_runs,
    set_experiment,
    set_model_alias,
    set_project,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "Client",
    "Conflict",
    "InvalidArgument",
    "Metric",
    "MetricHistory",
    "ModelyardError",
    "NotFound",
    "PermissionDenied",
    "RunList",
    "Unavailable",
    "__version__",
    "active_run",
    "end_run",
    "flush",
    "get_client",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "request_promotion",
    "search_runs",
    "set_experiment",
    "set_model_alias",
    "set_project",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def __getattr__(name: str) -> object:
    """``my.models`` (save, load, import_mlflow) and ``my.monitoring`` (compare, profiles) load on
    first use: they pull in heavy libraries."""
    if name in ("models", "monitoring"):
        import importlib

        return importlib.import_module(f"modelyard.{name}")
    raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
