"""Fairness across protected attributes: selection-rate ratio (disparate impact, four-fifths
rule), demographic parity difference and the true-positive-rate gap (equal opportunity).

Per group the report keeps raw counts (rows, selected, actual positives, true positives), so a
monitor can add windows together before judging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelyard.core.errors import InvalidArgument

FOUR_FIFTHS = 0.8


@dataclass
class GroupRates:
    """One group of a protected attribute."""

    group: str
    n: int
    selected: int
    positives: int | None
    true_positives: int | None
    selection_rate: float
    true_positive_rate: float | None


@dataclass
class AttributeFairness:
    """The fairness verdict for one protected attribute.

    ``disparate_impact``: the lowest selection rate divided by the reference group's (the
    privileged group when named, else the group selected most); below ``0.8`` breaks the
    four-fifths rule. ``demographic_parity_difference``: highest minus lowest selection rate.
    ``equal_opportunity_difference``: highest minus lowest true-positive rate (needs actuals).
    Groups with fewer than ``min_group_size`` rows are listed in ``small_groups`` and not judged.
    """

    attribute: str
    groups: list[GroupRates]
    reference_group: str | None
    disparate_impact: float | None
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    thresholds: dict[str, float]
    violations: list[str] = field(default_factory=list)
    small_groups: list[str] = field(default_factory=list)

    @property
    def fair(self) -> bool:
        """True when no threshold is crossed."""
        return not self.violations


@dataclass
class FairnessReport:
    """One ``AttributeFairness`` per protected attribute."""

    attributes: list[AttributeFairness]

    @property
    def fair(self) -> bool:
        """True when every attribute passes."""
        return all(a.fair for a in self.attributes)

    def __getitem__(self, name: str) -> AttributeFairness:
        for attribute in self.attributes:
            if attribute.attribute == name:
                return attribute
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"fair": self.fair, "attributes": [{**asdict(a), "fair": a.fair} for a in self.attributes]}


def check_fairness(
    y_pred: Any,
    attributes: Mapping[str, Any],
    *,
    y_true: Any | None = None,
    favorable: Any = 1,
    privileged: Mapping[str, Any] | None = None,
    min_group_size: int = 30,
    disparate_impact_threshold: float = FOUR_FIFTHS,
    parity_threshold: float = 0.1,
    opportunity_threshold: float = 0.1,
) -> FairnessReport:
    """Fairness of a window of predictions across named protected attributes.

    Args:
        y_pred: predicted labels; a row is "selected" when its prediction equals ``favorable``.
        attributes: protected attribute name -> the group of each row (e.g. ``{"sex": df.sex}``).
        y_true: actual labels, for the true-positive-rate gap (equal opportunity).
        favorable: the favorable outcome (approved, hired, ...).
        privileged: attribute -> its privileged group, the reference of disparate impact.
        min_group_size: groups smaller than this are reported but not judged (too noisy).
        disparate_impact_threshold: violation below this ratio (the four-fifths rule: 0.8).
        parity_threshold: violation when the selection rates differ by more than this.
        opportunity_threshold: violation when true-positive rates differ by more than this.
    """
    pred = np.asarray(y_pred)
    selected = pred == favorable
    truth = None if y_true is None else np.asarray(y_true) == favorable
    if truth is not None and len(truth) != len(pred):
        raise InvalidArgument("y_true and y_pred have different lengths.")
    thresholds = {
        "disparate_impact": disparate_impact_threshold,
        "demographic_parity_difference": parity_threshold,
        "equal_opportunity_difference": opportunity_threshold,
    }
    report = []
    for name, values in attributes.items():
        groups = np.asarray(values)
        if len(groups) != len(pred):
            raise InvalidArgument(f"Attribute {name!r} has {len(groups)} rows for {len(pred)} predictions.")
        report.append(
            _attribute(
                name, groups, selected, truth, (privileged or {}).get(name), min_group_size, thresholds
            )
        )
    return FairnessReport(report)


def _attribute(
    name: str,
    groups: np.ndarray,
    selected: np.ndarray,
    truth: np.ndarray | None,
    privileged: Any | None,
    min_group_size: int,
    thresholds: dict[str, float],
) -> AttributeFairness:
    keys, inverse = np.unique(groups.astype(str), return_inverse=True)
    n = np.bincount(inverse, minlength=len(keys))
    chosen = np.bincount(inverse, weights=selected, minlength=len(keys)).astype(int)
    rates = []
    for i, key in enumerate(keys):
        positives = true_pos = tpr = None
        if truth is not None:
            positives = int(np.count_nonzero(truth[inverse == i]))
            true_pos = int(np.count_nonzero(truth[inverse == i] & selected[inverse == i]))
            tpr = true_pos / positives if positives else None
        rates.append(GroupRates(str(key), int(n[i]), int(chosen[i]), positives, true_pos,
                                float(chosen[i] / n[i]) if n[i] else 0.0, tpr))  # fmt: skip
    judged = [g for g in rates if g.n >= min_group_size]
    result = AttributeFairness(name, rates, None, None, None, None, dict(thresholds),
                               small_groups=[g.group for g in rates if g.n < min_group_size])  # fmt: skip
    if len(judged) < 2:
        return result
    if privileged is not None:
        ref = next((g for g in judged if g.group == str(privileged)), None)
        if ref is None:
            raise InvalidArgument(f"Privileged group {privileged!r} of {name!r} has too few rows or none.")
    else:
        ref = max(judged, key=lambda g: g.selection_rate)
    result.reference_group = ref.group
    selection = [g.selection_rate for g in judged]
    others = [g.selection_rate for g in judged if g is not ref]
    if ref.selection_rate > 0:
        result.disparate_impact = float(min(others) / ref.selection_rate)
    result.demographic_parity_difference = float(max(selection) - min(selection))
    tprs = [g.true_positive_rate for g in judged if g.true_positive_rate is not None]
    if len(tprs) >= 2:
        result.equal_opportunity_difference = float(max(tprs) - min(tprs))
    if result.disparate_impact is not None and result.disparate_impact < thresholds["disparate_impact"]:
        result.violations.append(
            f"selection rate ratio {result.disparate_impact:.2f} is below "
            f"{thresholds['disparate_impact']:.2f} (four-fifths rule)"
        )
    if result.demographic_parity_difference > thresholds["demographic_parity_difference"]:
        result.violations.append(
            f"selection rates differ by {result.demographic_parity_difference:.2f} "
            f"(more than {thresholds['demographic_parity_difference']:.2f})"
        )
    eod = result.equal_opportunity_difference
    if eod is not None and eod > thresholds["equal_opportunity_difference"]:
        limit = thresholds["equal_opportunity_difference"]
        result.violations.append(f"true-positive rates differ by {eod:.2f} (more than {limit:.2f})")
    return result
