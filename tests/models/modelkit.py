"""Shared data and custom model classes for the model packaging tests (imported by module name).

The classes live here, in an importable module, because that is what a user's own package
looks like to skops and cloudpickle: found again by name in the loading process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


def table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A small binary classification table with named float columns."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"income": rng.normal(50, 10, n), "debt": rng.normal(10, 3, n), "age": rng.normal(40, 9, n)}
    )
    y = (X.income - 3 * X.debt + rng.normal(0, 5, n) > 20).astype(int).to_numpy()
    return X, y


def regression_table(n: int = 300, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """A small regression table."""
    X, _ = table(n, seed)
    y = (0.3 * X.income - 2 * X.debt + 0.1 * X.age).to_numpy()
    return X, y


class Doubler(BaseEstimator, TransformerMixin):
    """A user's own transformer: importable, so skops can store it by name."""

    def fit(self, X: object, y: object = None) -> Doubler:
        return self

    def transform(self, X: object) -> np.ndarray:
        return np.asarray(X, dtype=float) * 2


class ThresholdModel:
    """Custom code with a predict method: a python_function model."""

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        self.threshold = threshold

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X[self.column].to_numpy() > self.threshold).astype(int)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-(X[self.column].to_numpy() - self.threshold)))
        return np.column_stack([1 - p, p])


class MlflowStylePythonModel:
    """What an MLflow ``PythonModel`` subclass looks like (without importing mlflow)."""

    def load_context(self, context: Any) -> None:
        self.offset = float(Path(context.artifacts["offset"]).read_text())

    def predict(self, context: Any, model_input: pd.DataFrame, params: object = None) -> pd.Series:
        return model_input["income"] * 2 + self.offset
