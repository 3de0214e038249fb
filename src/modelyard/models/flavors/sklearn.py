"""scikit-learn estimators and pipelines, stored with skops (cloudpickle only as a fallback)."""

from __future__ import annotations

import pickle
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
    version_of,
)
from modelyard.models.manifest import ModelManifest
from modelyard.models.trust import foreign_types, importable, require_trust, skops_message

SKOPS_FILE = "model.skops"
PICKLE_FILE = "model.pkl"
_LIBRARIES = {"sklearn": "scikit-learn", "lightgbm": "lightgbm", "xgboost": "xgboost"}


def detect(model: Any) -> bool:
    """A scikit-learn estimator (or anything built on its base classes)."""
    return defined_in(model, "sklearn")


def save(model: Any, folder: Path, opts: SaveOptions) -> Saved:
    """Write ``model.skops``; fall back to ``model.pkl`` (cloudpickle) when skops cannot."""
    import skops.io as sio

    library = _LIBRARIES.get(type(model).__module__.split(".")[0], "scikit-learn")
    path = folder / SKOPS_FILE
    try:
        sio.dump(model, path)
        foreign = foreign_types(sio.get_untrusted_types(file=path), library)
    except Exception as exc:  # skops raises plain TypeError/ValueError for what it cannot store
        reason = f"skops cannot store it ({type(exc).__name__}: {exc})"
    else:
        lost = [t for t in foreign if not importable(t)]
        if not lost:
            extra: dict[str, Any] = {"model_file": SKOPS_FILE, "format": "skops"}
            if foreign:
                extra["untrusted_types"] = foreign
            return _saved(model, library, ["skops"], opts, unsafe=bool(foreign), extra=extra)
        reason = (
            f"it uses {', '.join(lost)}, defined in __main__ or inside a function, which a skops file cannot "
            "find again in another process"
        )
    path.unlink(missing_ok=True)
    if not opts.allow_pickle:
        raise InvalidArgument(
            f"This model cannot be stored in the safe skops format: {reason}. Move custom classes and "
            "functions into an importable module, or pass allow_pickle=True to store it with cloudpickle "
            "(it will then load only when trusted)."
        )
    import cloudpickle

    with (folder / PICKLE_FILE).open("wb") as f:
        cloudpickle.dump(model, f)
    extra = {"model_file": PICKLE_FILE, "format": "cloudpickle", "pickle_reason": reason}
    return _saved(model, library, ["cloudpickle"], opts, unsafe=True, extra=extra)


def _saved(
    model: Any, library: str, fmt_deps: list[str], opts: SaveOptions, *, unsafe: bool, extra: dict[str, Any]
) -> Saved:
    deps = dict.fromkeys([library, "scikit-learn", *fmt_deps, "numpy", "scipy"])
    if isinstance(opts.example, pd.DataFrame) or hasattr(model, "feature_names_in_"):
        deps["pandas"] = None
    return Saved(
        library=library,
        library_version=version_of(library),
        predictor=wrap(model),
        requirements=pin(*deps),
        unsafe=unsafe,
        extra=extra,
        inputs=feature_columns(getattr(model, "feature_names_in_", None)),
    )


def load(folder: Path, manifest: ModelManifest, trust: bool) -> Predictor:
    """Load ``model.skops`` with the trusted-type rules, or a pickle only when trusted."""
    fmt = manifest.extra.get("format", "skops")
    if fmt == "skops":
        import skops.io as sio

        path = model_file(folder, manifest, SKOPS_FILE)
        untrusted = sio.get_untrusted_types(file=path)
        foreign = foreign_types(untrusted, manifest.library)
        if foreign:
            require_trust(trust, skops_message(foreign))
        return wrap(sio.load(path, trusted=untrusted))
    if fmt in ("pickle", "cloudpickle"):
        path = model_file(folder, manifest, PICKLE_FILE)
        require_trust(trust)
        with path.open("rb") as f:
            return wrap(pickle.load(f))  # cloudpickle files are read by pickle (cloudpickle imported on need)
    raise InvalidArgument(f"The model in {str(folder)!r} names an unknown scikit-learn format {fmt!r}.")


def wrap(est: Any) -> Predictor:
    """Call an estimator with inputs in the form it was fitted on."""
    names = getattr(est, "feature_names_in_", None)

    def form(X: Any) -> Any:
        # Give the estimator the form it was fitted on, so it neither warns nor mislabels columns.
        if isinstance(X, pd.DataFrame) and names is None:
            return X.to_numpy()
        if names is not None and isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == len(names):
            return pd.DataFrame(X, columns=names)
        return X

    proba = (lambda X: est.predict_proba(form(X))) if hasattr(est, "predict_proba") else None
    return Predictor(raw=est, predict=lambda X: est.predict(form(X)), predict_proba=proba)


FLAVOR = Flavor(name="sklearn", detect=detect, save=save, load=load)
