"""LightGBM Boosters and scikit-learn wrappers, in LightGBM's own text format (no code on load).

A wrapper (``LGBMClassifier``/``LGBMRegressor``) is stored as its Booster's text plus the few
facts the text lacks (class labels, constructor parameters); loading builds the wrapper
around the Booster again. LightGBM has no public "wrap a Booster" call, so this sets the
same attributes ``fit`` sets; the round-trip tests pin that down for each release.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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

MODEL_FILE = "model.txt"
WRAPPERS = ("LGBMClassifier", "LGBMRegressor")
_AUTO_NAME = "Column_"


def detect(model: Any) -> bool:
    """A ``lightgbm.Booster`` or ``LGBMClassifier``/``LGBMRegressor``."""
    return defined_in(model, "lightgbm")


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """Write ``model.txt``; for a wrapper, record its class, labels and parameters."""
    import lightgbm as lgb

    extra: dict[str, Any] = {"model_file": MODEL_FILE}
    if isinstance(model, lgb.Booster):
        booster = model
    elif type(model).__name__ in WRAPPERS and isinstance(model, getattr(lgb, type(model).__name__)):
        if not model.__sklearn_is_fitted__():
            raise InvalidArgument(f"The {type(model).__name__} is not fitted: call fit before saving it.")
        if callable(model.objective_):
            raise InvalidArgument(
                "A LightGBM model with a custom objective function cannot be stored in LightGBM's text "
                "format with its wrapper; save model.booster_ instead (it predicts raw scores)."
            )
        booster = model.booster_
        extra["wrapper"] = {
            "class": type(model).__name__,
            "params": _plain_params(model.get_params()),
            "objective": model.objective_,
            "fitted_with_feature_names": bool(getattr(model, "_fitted_with_feature_names", False)),
        }
        if hasattr(model, "classes_"):
            extra["wrapper"]["classes"] = np.asarray(model.classes_).tolist()
            extra["wrapper"]["classes_dtype"] = str(np.asarray(model.classes_).dtype)
    else:
        raise InvalidArgument(
            f"Cannot save a {type(model).__name__} with the lightgbm flavor: use a lightgbm.Booster, "
            "LGBMClassifier or LGBMRegressor."
        )
    booster.save_model(str(folder / MODEL_FILE))
    names = booster.feature_name()
    named = not all(n == f"{_AUTO_NAME}{i}" for i, n in enumerate(names))
    deps = ["lightgbm", "numpy", "scipy"] + (["scikit-learn"] if "wrapper" in extra else [])
    if isinstance(opts.example, pd.DataFrame) or named:
        deps.append("pandas")
    return Saved(
        library="lightgbm",
        library_version=lgb.__version__,
        predictor=wrap(model),
        requirements=pin(*deps),
        extra=extra,
        inputs=feature_columns(names) if named else None,
    )


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe constructor parameters (callables and objects are left out)."""
    plain = (type(None), bool, int, float, str)
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, plain) or (isinstance(v, dict) and all(isinstance(x, plain) for x in v.values())):
            out[k] = v
    return out


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """Read the text model into a Booster, and rebuild the wrapper when one was saved."""
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(model_file(folder, manifest, MODEL_FILE)))
    info = manifest.extra.get("wrapper")
    if info is None:
        return wrap(booster)
    if not isinstance(info, dict) or info.get("class") not in WRAPPERS:
        raise InvalidArgument(f"The model in {str(folder)!r} names an unknown LightGBM wrapper {info!r}.")
    return wrap(_rebuild(lgb, booster, info))


def _rebuild(lgb: Any, booster: Any, info: dict[str, Any]) -> Any:
    from sklearn.preprocessing import LabelEncoder

    est = getattr(lgb, info["class"])(**info.get("params", {}))
    n = booster.num_feature()
    est.__dict__.update(
        _Booster=booster,
        fitted_=True,
        _n_features=n,
        _n_features_in=n,
        _objective=info.get("objective"),
        _class_map=None,
        _other_params={},
        _best_iteration=booster.best_iteration,
        _best_score={},
        _evals_result={},
        _fitted_with_feature_names=bool(info.get("fitted_with_feature_names")),
    )
    if "classes" in info:
        le = LabelEncoder().fit(np.asarray(info["classes"], dtype=info.get("classes_dtype")))
        est.__dict__.update(_le=le, _classes=le.classes_, _n_classes=len(le.classes_))
    return est


def wrap(model: Any) -> Predictor:
    """Predict with a Booster or a wrapper (``predict_proba`` for classifiers)."""
    proba = model.predict_proba if hasattr(model, "predict_proba") else None
    return Predictor(raw=model, predict=model.predict, predict_proba=proba)


FLAVOR = Flavor(name="lightgbm", detect=detect, save=save, load=load)
