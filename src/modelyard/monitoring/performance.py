"""Model accuracy once actuals arrive, and a label-free estimate before they do.

Metrics are plain functions over arrays (a monitor slices its windows and segments and calls
them); they agree with scikit-learn's functions of the same names. They are written on NumPy
here because a window is scored for many segments and scikit-learn's per-call validation
costs more than the arithmetic.

The label-free estimate is confidence-based (CBPE): the classifier's scores are calibrated on
reference data with known labels (isotonic regression), and on current data the calibrated
probabilities give an expected confusion matrix, hence expected accuracy, precision, recall, F1
and ROC AUC. It holds as long as P(label | score) stays what it was on the reference (covariate
shift, not concept shift), and the reference must not be the data the model was fitted on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression

from modelyard.core.errors import InvalidArgument

CALIBRATION_BINS = 1_000  # reference scores are pooled into this many quantile groups


def _encode(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
    if not np.array_equal(sorted_labels[pos], values):
        unknown = sorted(set(np.asarray(values).tolist()) - set(labels.tolist()))[:5]
        raise InvalidArgument(f"Labels {unknown} are not among the classes {labels.tolist()[:20]}.")
    return order[pos]


def _confusion_metrics(cm: np.ndarray, positive: int | None) -> dict[str, float]:
    """Accuracy, precision, recall, F1 from a confusion matrix (rows true, columns predicted).

    Binary (``positive`` set): of the positive class. Otherwise macro averages. 0 where undefined.
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = cm.sum()
    out = {"accuracy": float(tp.sum() / total) if total else float("nan")}
    if positive is not None:
        out.update(
            precision=float(precision[positive]), recall=float(recall[positive]), f1=float(f1[positive])
        )
    else:
        out.update(precision=float(precision.mean()), recall=float(recall.mean()), f1=float(f1.mean()))
    return out


def roc_auc(y_score: np.ndarray, positive_weight: np.ndarray) -> float | None:
    """Area under the ROC curve; ``positive_weight`` is 1/0 per row, or a probability of being
    positive (the expected curve). None when one class is absent."""
    scores = np.asarray(y_score, dtype=float)
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    wp = np.asarray(positive_weight, dtype=float)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    tps = np.cumsum(wp)[last]
    fps = np.cumsum(1 - wp)[last]
    if len(s) == 0 or tps[-1] <= 0 or fps[-1] <= 0:
        return None
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _prepare(
    y_true: Any | None, y_pred: Any | None, y_score: Any | None,
    labels: Sequence[Any] | np.ndarray | None, pos_label: Any | None, threshold: float,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None, int | None]:  # fmt: skip
    """(class labels, encoded truth or None, encoded predictions, scores, positive class index)."""
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    truth = None if y_true is None else np.asarray(y_true)
    pred = None if y_pred is None else np.asarray(y_pred)
    if labels is None:
        seen = [a for a in (truth, pred) if a is not None]
        if not seen:
            raise InvalidArgument("Give labels= when neither actuals nor predicted labels are passed.")
        classes = np.unique(np.concatenate(seen))
        if len(classes) == 1 and score is not None and score.ndim == 1:
            classes = np.array([0, 1]) if classes[0] in (0, 1) else classes
    else:
        classes = np.asarray(labels)
    binary = len(classes) <= 2 and (score is None or score.ndim == 1)
    positive = None
    if binary:
        positive = (
            int(_encode(np.asarray([pos_label]), classes)[0]) if pos_label is not None else len(classes) - 1
        )
    if pred is None:
        if score is None:
            raise InvalidArgument("Pass predicted labels (y_pred) or scores (y_score).")
        if score.ndim == 2:
            encoded_pred = np.argmax(score, axis=1)
        else:
            assert positive is not None
            encoded_pred = np.where(score >= threshold, positive, 1 - positive)
    else:
        encoded_pred = _encode(pred, classes)
    encoded_true = None if truth is None else _encode(truth, classes)
    if score is not None and score.ndim == 2 and score.shape[1] != len(classes):
        raise InvalidArgument(f"y_score has {score.shape[1]} columns for {len(classes)} classes.")
    return classes, encoded_true, encoded_pred, score, positive


def classification_metrics(
    y_true: Any,
    y_pred: Any | None = None,
    *,
    y_score: Any | None = None,
    labels: Sequence[Any] | np.ndarray | None = None,
    pos_label: Any | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, ROC AUC and log loss of a classifier on one window.

    Args:
        y_true: actual labels.
        y_pred: predicted labels; derived from ``y_score`` when omitted.
        y_score: binary: the probability of the positive class (1-D); multiclass: an (n, K)
            probability matrix, columns in ``labels`` order.
        labels: the classes (default: sorted labels seen).
        pos_label: the positive class of a binary problem (default: the last label, e.g. 1).
        threshold: score at or above which a binary prediction is positive.

    Returns:
        ``{"n", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}``: binary
        precision/recall/F1 are of the positive class, multiclass ones macro averages;
        ROC AUC (one-vs-rest macro for multiclass) and log loss are None without scores.
    """
    classes, truth, pred, score, positive = _prepare(y_true, y_pred, y_score, labels, pos_label, threshold)
    assert truth is not None
    k = len(classes)
    cm = np.bincount(truth * k + pred, minlength=k * k).reshape(k, k)
    out: dict[str, Any] = {"n": len(truth), **_confusion_metrics(cm, positive)}
    out["roc_auc"] = out["log_loss"] = None
    if score is not None and len(truth):
        eps = np.finfo(float).eps
        if score.ndim == 1:
            hit = (truth == positive).astype(float)
            out["roc_auc"] = roc_auc(score, hit)
            p = np.clip(score, eps, 1 - eps)
            out["log_loss"] = float(-np.mean(hit * np.log(p) + (1 - hit) * np.log(1 - p)))
        else:
            aucs = [roc_auc(score[:, j], (truth == j).astype(float)) for j in range(k)]
            valid = [a for a in aucs if a is not None]
            out["roc_auc"] = float(np.mean(valid)) if len(valid) == k else None
            p = np.clip(score / score.sum(axis=1, keepdims=True), eps, 1 - eps)
            out["log_loss"] = float(-np.mean(np.log(p[np.arange(len(truth)), truth])))
    return out


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """MAE, RMSE, MAPE (a fraction, as scikit-learn's) and R2 of a regressor on one window."""
    y = np.asarray(y_true, dtype=float)
    f = np.asarray(y_pred, dtype=float)
    if len(y) == 0:
        return {"n": 0, "mae": None, "rmse": None, "mape": None, "r2": None}
    err = y - f
    ss_res = float(np.einsum("i,i->", err, err))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return {
        "n": len(y),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(ss_res / len(y))),
        "mape": float(np.mean(np.abs(err) / np.maximum(np.abs(y), np.finfo(float).eps))),
        "r2": float(r2),
    }


def by_segment(
    segments: Any, metric: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any
) -> dict[str, dict[str, Any]]:
    """``metric`` computed per segment value: every array argument as long as ``segments`` is
    sliced, other arguments pass through. Keys are the segment values as text."""
    seg = np.asarray(segments)
    n = len(seg)

    def is_rows(value: Any) -> bool:
        return hasattr(value, "__len__") and not isinstance(value, str | Mapping) and len(value) == n

    values, inverse = np.unique(seg, return_inverse=True)
    out = {}
    for i, value in enumerate(values):
        rows = inverse == i
        sliced_args = [np.asarray(a)[rows] if is_rows(a) else a for a in args]
        sliced_kwargs = {k: np.asarray(v)[rows] if is_rows(v) else v for k, v in kwargs.items()}
        out[str(value)] = metric(*sliced_args, **sliced_kwargs)
    return out


def _fit_isotonic(score: np.ndarray, hit: np.ndarray) -> dict[str, list[float]]:
    """P(hit | score) as an increasing step map, fitted on quantile-pooled reference scores."""
    order = np.argsort(score, kind="stable")
    s, h = score[order], hit[order]
    groups = np.minimum((np.arange(len(s)) * CALIBRATION_BINS) // max(len(s), 1), CALIBRATION_BINS - 1)
    weight = np.bincount(groups).astype(float)
    keep = weight > 0
    x = (np.bincount(groups, weights=s)[keep]) / weight[keep]
    y = (np.bincount(groups, weights=h)[keep]) / weight[keep]
    fitted = isotonic_regression(y, weights=weight[keep], increasing=True).x
    return {"x": x.tolist(), "y": np.clip(fitted, 0.0, 1.0).tolist()}


def fit_confidence(
    y_true: Any,
    y_score: Any,
    *,
    labels: Sequence[Any] | None = None,
    pos_label: Any | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Calibrate a classifier's scores on reference data with labels, for ``estimate_performance``.

    Use held-out data (validation or a labelled production window), not the training set:
    an over-fitted model is over-confident on its own training rows. Returns a JSON-serialisable
    dict to store with the model version (next to its profile).
    """
    classes, truth, _, score, positive = _prepare(y_true, None, y_score, labels, pos_label, threshold)
    assert truth is not None and score is not None
    if score.ndim == 1:
        calibration = [_fit_isotonic(score, (truth == positive).astype(float))]
    else:
        calibration = [_fit_isotonic(score[:, j], (truth == j).astype(float)) for j in range(len(classes))]
    estimator = {
        "type": "confidence",
        "version": 1,
        "labels": classes.tolist(),
        "positive": positive,
        "threshold": threshold,
        "calibration": calibration,
    }
    estimator["reference"] = {
        "actual": classification_metrics(y_true, y_score=y_score, labels=classes, pos_label=pos_label,
                                         threshold=threshold),
        "estimated": estimate_performance(estimator, y_score),
    }  # fmt: skip
    return estimator


def estimate_performance(
    confidence: Mapping[str, Any], y_score: Any, y_pred: Any | None = None
) -> dict[str, Any]:
    """Expected accuracy, precision, recall, F1 and ROC AUC of a window without its labels.

    Args:
        confidence: the dict from ``fit_confidence``.
        y_score: the window's scores, shaped as when calibrating.
        y_pred: the predicted labels, when they are not the thresholded / argmax scores.
    """
    if confidence.get("type") != "confidence":
        raise InvalidArgument("estimate_performance needs the dict returned by fit_confidence.")
    classes = np.asarray(confidence["labels"])
    positive = confidence["positive"]
    _, _, pred, score, _ = _prepare(
        None,
        y_pred,
        y_score,
        classes,
        None if positive is None else classes[positive],
        confidence["threshold"],
    )
    assert score is not None
    maps = confidence["calibration"]
    if score.ndim == 1:
        p_pos = np.interp(score, maps[0]["x"], maps[0]["y"])
        proba = np.zeros((len(score), len(classes)))
        proba[:, positive] = p_pos
        proba[:, 1 - positive] = 1 - p_pos
    else:
        proba = np.column_stack([np.interp(score[:, j], m["x"], m["y"]) for j, m in enumerate(maps)])
        sums = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, sums, out=np.full_like(proba, 1 / len(classes)), where=sums > 0)
    k = len(classes)
    # Expected confusion matrix: row a, column b = sum over rows predicted b of P(true = a).
    cm = np.zeros((k, k))
    for b in range(k):
        cm[:, b] = proba[pred == b].sum(axis=0)
    out: dict[str, Any] = {"n": len(score), **_confusion_metrics(cm, positive)}
    if score.ndim == 1:
        out["roc_auc"] = roc_auc(score, proba[:, positive])
    else:
        aucs = [roc_auc(score[:, j], proba[:, j]) for j in range(k)]
        out["roc_auc"] = None if any(a is None for a in aucs) else float(np.mean(aucs))  # type: ignore[arg-type]
    return out
