"""Fairness across protected attributes: selection-rate ratio (four-fifths rule), demographic
parity difference and the true-positive-rate gap, against hand-counted rates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import check_fairness


def group(n: int, selected: int, positives: int, true_positives: int, name: str):
    """Rows of one group with exact counts: (y_pred, y_true, attribute)."""
    pred = np.zeros(n, dtype=int)
    truth = np.zeros(n, dtype=int)
    truth[:positives] = 1
    pred[:true_positives] = 1  # selected among the positives
    pred[positives : positives + selected - true_positives] = 1  # selected among the negatives
    return pred, truth, np.full(n, name)


def data(*groups):
    parts = [group(*g) for g in groups]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def test_rates_and_four_fifths_rule() -> None:
    # men: 50% selected, TPR 40/50 = 0.8; women: 30% selected, TPR 20/50 = 0.4
    pred, truth, sex = data((100, 50, 50, 40, "m"), (100, 30, 50, 20, "f"))
    report = check_fairness(pred, {"sex": sex}, y_true=truth)
    sex_fairness = report["sex"]
    rates = {g.group: (g.selection_rate, g.true_positive_rate) for g in sex_fairness.groups}
    assert rates == {"m": (0.5, 0.8), "f": (0.3, 0.4)}
    assert sex_fairness.reference_group == "m"  # the most-selected group, when none is named
    assert sex_fairness.disparate_impact == pytest.approx(0.6)
    assert sex_fairness.demographic_parity_difference == pytest.approx(0.2)
    assert sex_fairness.equal_opportunity_difference == pytest.approx(0.4)
    assert not report.fair
    assert sex_fairness.violations == [
        "selection rate ratio 0.60 is below 0.80 (four-fifths rule)",
        "selection rates differ by 0.20 (more than 0.10)",
        "true-positive rates differ by 0.40 (more than 0.10)",
    ]
    json.dumps(report.to_dict())


def test_fair_model_passes_and_thresholds_are_settable() -> None:
    pred, truth, sex = data((200, 90, 100, 80, "m"), (200, 85, 100, 76, "f"))
    report = check_fairness(pred, {"sex": sex}, y_true=truth)
    assert report.fair
    assert report["sex"].disparate_impact == pytest.approx(85 / 90)
    strict = check_fairness(pred, {"sex": sex}, y_true=truth, disparate_impact_threshold=0.95)
    assert strict["sex"].violations == ["selection rate ratio 0.94 is below 0.95 (four-fifths rule)"]


def test_several_attributes_privileged_group_and_small_groups() -> None:
    pred, _, sex = data((100, 40, 50, 30, "m"), (100, 36, 50, 27, "f"), (10, 0, 5, 0, "x"))
    age = np.where(np.arange(len(pred)) % 2 == 0, "young", "old")
    report = check_fairness(pred, {"sex": sex, "age": age}, privileged={"sex": "f"})
    assert [a.attribute for a in report.attributes] == ["sex", "age"]
    assert report["sex"].small_groups == ["x"]  # 10 rows: reported, not judged
    assert report["sex"].reference_group == "f"
    assert report["sex"].disparate_impact == pytest.approx(0.4 / 0.36)
    assert report["sex"].equal_opportunity_difference is None  # no actuals given
    with pytest.raises(InvalidArgument, match="Privileged group 'x'"):
        check_fairness(pred, {"sex": sex}, privileged={"sex": "x"})
    with pytest.raises(InvalidArgument, match="rows for"):
        check_fairness(pred, {"sex": sex[:5]})
