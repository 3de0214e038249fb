"""Model monitoring: reference profiles, drift, data quality, accuracy, fairness.

The statistics core loads on first use (``my.monitoring.compare``), so importing the
package stays cheap for the server and the CLI::

    import modelyard as my
    report = my.monitoring.compare(reference_df, current_df)
    profile = my.monitoring.build_profile(train_df, target="default", prediction="score")

No module here shares its name with a function (``compare`` lives in ``comparison``), because
importing a submodule sets the package attribute of the same name and would hide the function.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "compare": "modelyard.monitoring.comparison",
    "DriftReport": "modelyard.monitoring.comparison",
    "FeatureDrift": "modelyard.monitoring.comparison",
    "DatasetDrift": "modelyard.monitoring.comparison",
    "build_profile": "modelyard.monitoring.profile",
    "summarize": "modelyard.monitoring.summary",
    "merge_summaries": "modelyard.monitoring.summary",
    "check_quality": "modelyard.monitoring.quality",
    "classification_metrics": "modelyard.monitoring.performance",
    "regression_metrics": "modelyard.monitoring.performance",
    "fit_confidence": "modelyard.monitoring.performance",
    "estimate_performance": "modelyard.monitoring.performance",
    "check_fairness": "modelyard.monitoring.fairness",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Load the function or class ``name`` from its module on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelyard.monitoring' has no attribute {name!r}")
