"""Direct scorers for estimator families whose per-call checks cost more than the work itself.

On a handful of rows, scikit-learn's ``GradientBoostingClassifier.predict_proba`` spends
about 90% of its time validating its input (three times: the ensemble, its first tree and
its initial estimator), not walking trees. The serving process has already checked the rows
against the signature and holds them as a float matrix in the model's column order, so for
these families it calls the tree walk (``predict_stages``) directly and does the remaining
checks (width, finiteness) itself.

This leans on scikit-learn internals, so nothing here is trusted blindly: ``ServedModel``
compares every scorer with the estimator's public methods on a probe at load time and uses
it only when they agree, and any import or attribute that moved in another scikit-learn
version simply means no direct scorer (the public path is used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def direct_scorer(est: Any) -> Scorer | None:
    """A (labels or values, probabilities) function for ``est``, or None if there is none."""
    try:
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        if type(est) is GradientBoostingClassifier:
            return _gradient_boosting(est, classifier=True)
        if type(est) is GradientBoostingRegressor:
            return _gradient_boosting(est, classifier=False)
    except (ImportError, AttributeError):
        return None
    return None


def _gradient_boosting(est: Any, *, classifier: bool) -> Scorer | None:
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble._gb import _init_raw_predictions
    from sklearn.ensemble._gradient_boosting import predict_stages

    width = int(est.n_features_in_)
    trees = est.estimators_
    rate = float(est.learning_rate)
    loss = est._loss
    per_row = int(trees.shape[1])
    init = est.init_
    if init == "zero":
        base = np.zeros((1, per_row), dtype=np.float64)
    elif type(init) in (DummyClassifier, DummyRegressor):  # a constant start, whatever the row
        base = _init_raw_predictions(np.zeros((1, width), dtype=np.float32), init, loss, classifier)
    else:
        return None
    labels = np.asarray(est.classes_) if classifier else None

    def score(X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if X.ndim != 2 or X.shape[1] != width:
            raise ValueError(f"X has {X.shape[1]} features, but the model expects {width} features as input.")
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X32).all():
            raise ValueError("Input X contains NaN or infinity (or a value too large for float32).")
        raw = np.repeat(base, X32.shape[0], axis=0)
        predict_stages(trees, X32, rate, raw)
        if labels is None:
            return raw.ravel(), None
        proba = loss.predict_proba(raw.ravel() if raw.shape[1] == 1 else raw)
        return labels.take(proba.argmax(axis=1)), proba

    return score
