"""The registered flavors, and which one an object belongs to.

Detection looks at class modules first (``defined_in``), so an optional library is imported
only when the object already comes from it. Order matters: XGBoost and LightGBM wrappers
are scikit-learn estimators too, and anything with ``predict`` is a python_function.
"""

from __future__ import annotations

from typing import Any

from modelyard.core.errors import InvalidArgument
from modelyard.models.flavors import lightgbm, onnx, pyfunc, pytorch, sklearn, xgboost
from modelyard.models.flavors.base import Flavor

FLAVORS: dict[str, Flavor] = {
    f.name: f
    for f in (xgboost.FLAVOR, lightgbm.FLAVOR, pytorch.FLAVOR, onnx.FLAVOR, sklearn.FLAVOR, pyfunc.FLAVOR)
}


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``.

    Raises:
        InvalidArgument: no such flavor.
    """
    try:
        return FLAVORS[name]
    except KeyError:
        raise InvalidArgument(f"Unknown model flavor {name!r}: use one of {', '.join(FLAVORS)}.") from None


def detect_flavor(model: Any) -> Flavor:
    """The first flavor that recognises ``model``.

    Raises:
        InvalidArgument: none does.
    """
    for flavor in FLAVORS.values():
        if flavor.detect(model):
            return flavor
    raise InvalidArgument(
        f"Cannot tell how to save a {type(model).__module__}.{type(model).__qualname__}: it is not a "
        "scikit-learn, XGBoost, LightGBM, PyTorch or ONNX model and has no predict method. Pass flavor=... "
        "to choose one."
    )


__all__ = ["FLAVORS", "Flavor", "detect_flavor", "get_flavor"]
