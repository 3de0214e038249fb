"""Models and data for the serving-runtime tests (imported by module name, so cloudpickle finds them)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

FEATURES = ["f0", "f1", "f2", "f3"]


def table(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four numeric columns in [0, 10) and a label that depends on f0 and f1."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.uniform(0, 10, size=(n, 4)), columns=FEATURES)
    y = (X.f0 + X.f1 > 10).astype(int).to_numpy()
    return X, y


def gbc(seed: int = 0) -> GradientBoostingClassifier:
    """A small boosted classifier fitted on a DataFrame (so it remembers column names)."""
    X, y = table(seed=seed)
    return GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=seed).fit(X, y)


def row(**values: float) -> dict[str, float]:
    """One record with every feature (defaults 5.0)."""
    return {**dict.fromkeys(FEATURES, 5.0), **values}


class Constant:
    """Answers the same label for every row, after an optional pause (a python_function model)."""

    def __init__(self, answer: int, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        return np.full(len(X), self.answer)


class FailsOnNegative:
    """Raises on any row with f0 < 0, answers 7 otherwise: a canary that breaks on some inputs."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if (np.asarray(X["f0"], dtype=float) < 0).any():
            raise RuntimeError("negative f0 is not handled")
        return np.full(len(X), 7)


class Scorer:
    """A probabilistic python model: the positive score is f0 / 10 (clipped), the label score > 0.5."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.clip(np.asarray(X["f0"], dtype=float) / 10, 0, 1)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def regions(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A numeric column and a categorical one (north/south/east)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"amount": rng.uniform(0, 100, n), "region": rng.choice(["north", "south", "east"], n)})
    y = ((X.amount > 50) ^ (X.region == "east")).astype(int).to_numpy()
    return X, y


def region_pipeline():
    """One-hot region + amount into a logistic regression (selects columns by name)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = regions()
    prep = ColumnTransformer(
        [
            ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ("amount", "passthrough", ["amount"]),
        ]
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=500))]).fit(X, y)
