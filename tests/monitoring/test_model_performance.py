"""Accuracy metrics agree with scikit-learn; the label-free estimate sees a drop before actuals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import (
    classification_metrics,
    estimate_performance,
    fit_confidence,
    regression_metrics,
)
from modelyard.monitoring.performance import by_segment

RNG = np.random.default_rng(11)


def test_binary_classification_matches_sklearn() -> None:
    y = RNG.integers(0, 2, size=5_000)
    score = np.clip(0.35 * y + RNG.random(5_000) * 0.65, 0, 1).round(2)  # ties on purpose
    got = classification_metrics(y, y_score=score)
    pred = (score >= 0.5).astype(int)
    assert got["n"] == 5_000
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, score))


def test_string_labels_and_explicit_predictions() -> None:
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    pred = np.array(["no", "yes", "no", "no", "yes", "yes"])
    got = classification_metrics(y, pred, pos_label="yes")
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, pos_label="yes"))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label="yes"))
    assert got["roc_auc"] is None and got["log_loss"] is None
    with pytest.raises(InvalidArgument, match="not among the classes"):
        classification_metrics(y, pred, labels=["no", "maybe"])


def test_multiclass_matches_sklearn_macro() -> None:
    y = RNG.integers(0, 3, size=3_000)
    logits = RNG.normal(size=(3_000, 3)) + np.eye(3)[y] * 1.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    got = classification_metrics(y, y_score=proba)
    pred = proba.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_regression_matches_sklearn() -> None:
    y = RNG.normal(100, 20, size=2_000)
    pred = y + RNG.normal(0, 5, size=2_000)
    got = regression_metrics(y, pred)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert regression_metrics([], [])["mae"] is None


def test_metrics_per_segment() -> None:
    y = np.array([1, 0, 1, 1, 0, 0])
    pred = np.array([1, 0, 0, 1, 1, 0])
    region = np.array(["n", "n", "n", "s", "s", "s"])
    got = by_segment(region, classification_metrics, y, pred, labels=[0, 1])
    assert got["n"]["accuracy"] == pytest.approx(2 / 3) and got["s"]["accuracy"] == pytest.approx(2 / 3)
    assert got["n"]["recall"] == pytest.approx(0.5) and got["s"]["recall"] == pytest.approx(1.0)
    reg = by_segment(region, regression_metrics, y_true=y.astype(float), y_pred=pred.astype(float))
    assert reg["n"]["mae"] == pytest.approx(1 / 3)


def _population(n: int, center: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """P(y=1 | x) = sigmoid(2x) never changes; the model's score is over-confident sigmoid(3x)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(center, 1.0, size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    return y, 1 / (1 + np.exp(-3 * x))


def test_label_free_estimate_tracks_accuracy_under_covariate_shift() -> None:
    y_ref, s_ref = _population(20_000, 1.0, seed=1)
    confidence = fit_confidence(y_ref, s_ref)
    assert json.loads(json.dumps(confidence)) == confidence  # stored with the version
    ref = confidence["reference"]
    assert ref["estimated"]["accuracy"] == pytest.approx(ref["actual"]["accuracy"], abs=0.01)
    # Production moves towards the decision boundary: accuracy drops, before any label arrives.
    y_cur, s_cur = _population(10_000, 0.0, seed=2)
    estimated = estimate_performance(confidence, s_cur)
    actual = classification_metrics(y_cur, y_score=s_cur)
    assert actual["accuracy"] < ref["actual"]["accuracy"] - 0.05
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert estimated[metric] == pytest.approx(actual[metric], abs=0.03), metric


def test_label_free_estimate_for_multiclass() -> None:
    rng = np.random.default_rng(3)

    def population(n: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
        centers = rng.normal(size=(n, 3)) * spread
        true_p = np.exp(centers) / np.exp(centers).sum(axis=1, keepdims=True)
        y = np.array([rng.choice(3, p=p) for p in true_p])
        return y, true_p

    y_ref, p_ref = population(6_000, 2.0)
    confidence = fit_confidence(y_ref, p_ref)
    y_cur, p_cur = population(4_000, 0.7)  # less separable: lower accuracy
    estimated = estimate_performance(confidence, p_cur)
    actual = classification_metrics(y_cur, y_score=p_cur)
    assert actual["accuracy"] < confidence["reference"]["actual"]["accuracy"] - 0.1
    assert estimated["accuracy"] == pytest.approx(actual["accuracy"], abs=0.03)
    with pytest.raises(InvalidArgument, match="fit_confidence"):
        estimate_performance({"type": "profile"}, p_cur)
