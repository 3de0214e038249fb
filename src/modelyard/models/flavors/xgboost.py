"""XGBoost Boosters and scikit-learn wrappers, in XGBoost's own UBJSON format (no code on load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.core.errors import InvalidArgument
from modelyard.models.flavors.base import (
    Flavor,
    Predictor,
    Saved,
    SaveOptions,
    defined_in,
    feature_columns,
    model_file,
    pin,
)
from modelyard.models.manifest import ModelManifest

MODEL_FILE = "model.ubj"
# The wrapper classes restored on load: a fixed list, never a class name taken from a file.
WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


def detect(model: Any) -> bool:
    """An ``xgboost.Booster`` or one of XGBoost's scikit-learn wrappers."""
    return defined_in(model, "xgboost")


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """Write ``model.ubj`` with ``save_model``; record the wrapper class, if any."""
    import xgboost as xgb

    extra: dict[str, Any] = {"model_file": MODEL_FILE}
    if isinstance(model, xgb.Booster):
        booster = model
    elif type(model).__name__ in WRAPPERS and isinstance(model, getattr(xgb, type(model).__name__)):
        booster = model.get_booster()
        extra["wrapper"] = type(model).__name__
    else:
        raise InvalidArgument(
            f"Cannot save a {type(model).__name__} with the xgboost flavor: use an xgboost.Booster or one of "
            f"{', '.join(WRAPPERS)}."
        )
    model.save_model(str(folder / MODEL_FILE))
    deps = ["xgboost", "numpy", "scipy"] + (["scikit-learn"] if "wrapper" in extra else [])
    if isinstance(opts.example, pd.DataFrame) or booster.feature_names:
        deps.append("pandas")
    return Saved(
        library="xgboost",
        library_version=xgb.__version__,
        predictor=wrap(model),
        requirements=pin(*deps),
        extra=extra,
        inputs=feature_columns(booster.feature_names),
    )


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """Read the native file into a Booster, or into the recorded wrapper class."""
    import xgboost as xgb

    path = model_file(folder, manifest, MODEL_FILE)
    wrapper = manifest.extra.get("wrapper")
    if wrapper is None:
        model: Any = xgb.Booster()
    elif wrapper in WRAPPERS:
        model = getattr(xgb, wrapper)()
    else:
        raise InvalidArgument(f"The model in {str(folder)!r} names an unknown XGBoost class {wrapper!r}.")
    model.load_model(str(path))
    return wrap(model)


def wrap(model: Any) -> Predictor:
    """Predict through a DMatrix for a Booster, directly for a wrapper."""
    import xgboost as xgb

    booster = model if isinstance(model, xgb.Booster) else model.get_booster()
    named = bool(booster.feature_names)

    def form(X: Any) -> Any:
        # Trained on an array: DataFrame column names would not match the (absent) feature names.
        return X.to_numpy() if isinstance(X, pd.DataFrame) and not named else X

    if isinstance(model, xgb.Booster):
        return Predictor(raw=model, predict=lambda X: model.predict(xgb.DMatrix(form(X))))
    proba = (lambda X: model.predict_proba(form(X))) if hasattr(model, "predict_proba") else None
    return Predictor(raw=model, predict=lambda X: model.predict(form(X)), predict_proba=proba)


FLAVOR = Flavor(name="xgboost", detect=detect, save=save, load=load)
