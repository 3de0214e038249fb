"""Humility rules: when not to trust an answer, and what to do then.

A rule fires on a row when its score lies in an uncertain band, a numeric input lies outside
the training range, or a categorical input was never seen in training. Ranges and categories
come from the rule, else from the version's reference profile (``{"columns": {name: {"kind":
"numeric", "min", "max"} | {"kind": "categorical", "categories": [...]}}}``); a column with
neither is not checked. Actions: ``log`` flags the row, ``override`` flags it and answers
``rule.value`` instead, ``error`` refuses the request with a 422 naming the rule and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelyard.serving.runtime.errors import InvalidInput
from modelyard.serving.runtime.inputs import Batch, InputSchema
from modelyard.serving.schemas import HumilityRule


@dataclass
class Verdict:
    """What the rules said about one request's rows."""

    n: int
    flags: list[list[str]] | None = None
    overrides: dict[int, Any] = field(default_factory=dict)
    fired: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, action) → rows

    def flag(self, row: int, text: str) -> None:
        """Mark a row."""
        if self.flags is None:
            self.flags = [[] for _ in range(self.n)]
        if text not in self.flags[row]:
            self.flags[row].append(text)

    def apply(self, predictions: list[Any]) -> list[Any]:
        """The predictions with overridden rows replaced."""
        for row, value in self.overrides.items():
            predictions[row] = value
        return predictions


@dataclass(frozen=True)
class _Range:
    rule: HumilityRule
    names: tuple[str, ...]
    positions: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class _Categories:
    rule: HumilityRule
    known: dict[str, frozenset[Any]]


class Humility:
    """A deployment's rules, compiled for one model version (its inputs and profile)."""

    def __init__(
        self, rules: list[HumilityRule], schema: InputSchema, profile: dict[str, Any] | None
    ) -> None:
        columns = (profile or {}).get("columns") or {}
        names = list(schema.names or ())
        self.ranges: list[_Range] = []
        self.categories: list[_Categories] = []
        self.uncertain: list[HumilityRule] = []
        for rule in rules:
            wanted = rule.features or names
            if rule.rule == "uncertain":
                self.uncertain.append(rule)
            elif rule.rule == "out_of_range":
                found = [(n, *_range_of(n, rule, columns)) for n in wanted if n in names]
                found = [(n, lo, hi) for n, lo, hi in found if lo is not None]
                if found:
                    self.ranges.append(
                        _Range(
                            rule,
                            tuple(n for n, _, _ in found),
                            np.array([names.index(n) for n, _, _ in found]),
                            np.array([lo for _, lo, _ in found], dtype=np.float64),
                            np.array([hi for _, _, hi in found], dtype=np.float64),
                        )
                    )
            else:
                known = {n: c for n in wanted if n in names and (c := _categories_of(n, rule, columns))}
                if known:
                    self.categories.append(_Categories(rule, known))

    @property
    def empty(self) -> bool:
        """No rule can fire."""
        return not (self.ranges or self.categories or self.uncertain)

    def check_inputs(self, batch: Batch) -> Verdict:
        """Apply the input rules (range, category).

        Raises:
            InvalidInput: a rule with action ``error`` fired.
        """
        verdict = Verdict(batch.n)
        for r in self.ranges:
            sub = _numeric_columns(batch, r)
            if sub is None:
                continue
            with np.errstate(invalid="ignore"):
                bad = (sub < r.low) | (sub > r.high)
            if not bad.any():
                continue
            rows, cols = np.nonzero(bad)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                name = r.names[col]
                if r.rule.action == "error":
                    raise InvalidInput(
                        f"Humility rule 'out_of_range' refused row {row}: {name!r} = {sub[row, col]!r} "
                        f"is outside the training range [{r.low[col]!r}, {r.high[col]!r}]."
                    )
                self._fire(verdict, r.rule, row, f"out_of_range:{name}")
        for c in self.categories:
            features = batch.features() if batch.matrix is None else None
            for name, known in c.known.items():
                values = _column(batch, name, features)
                for row, v in enumerate(values):
                    if v is None or v in known or str(v) in known:
                        continue
                    if c.rule.action == "error":
                        raise InvalidInput(
                            f"Humility rule 'unseen_category' refused row {row}: {name!r} = {v!r} was never "
                            "seen in training."
                        )
                    self._fire(verdict, c.rule, row, f"unseen_category:{name}")
        return verdict

    def check_scores(self, scores: list[float] | None, verdict: Verdict) -> None:
        """Apply the uncertain-band rules to one score per row.

        Raises:
            InvalidInput: a rule with action ``error`` fired.
        """
        if not self.uncertain or scores is None:
            return
        for rule in self.uncertain:
            low, high = float(rule.low or 0.0), float(rule.high or 0.0)
            for row, s in enumerate(scores):
                if s is None or not low <= s <= high:
                    continue
                if rule.action == "error":
                    raise InvalidInput(
                        f"Humility rule 'uncertain' refused row {row}: its score {s:.4g} lies in the "
                        f"uncertain band [{low:g}, {high:g}]."
                    )
                self._fire(verdict, rule, row, "uncertain")

    @staticmethod
    def _fire(verdict: Verdict, rule: HumilityRule, row: int, flag: str) -> None:
        verdict.flag(row, flag)
        key = (rule.rule, rule.action)
        verdict.fired[key] = verdict.fired.get(key, 0) + 1
        if rule.action == "override":
            verdict.overrides[row] = rule.value


def _range_of(name: str, rule: HumilityRule, columns: dict[str, Any]) -> tuple[float | None, float | None]:
    if rule.ranges and name in rule.ranges:
        lo, hi = rule.ranges[name]
        return float(lo), float(hi)
    col = columns.get(name)
    if isinstance(col, dict) and col.get("kind") == "numeric" and col.get("min") is not None:
        return float(col["min"]), float(col["max"])
    return None, None


def _categories_of(name: str, rule: HumilityRule, columns: dict[str, Any]) -> frozenset[Any] | None:
    if rule.categories and name in rule.categories:
        values = rule.categories[name]
    else:
        col = columns.get(name)
        if not (isinstance(col, dict) and col.get("kind") == "categorical") or col.get("truncated"):
            return None  # a truncated list (too many categories) would flag seen ones too
        values = col.get("categories") or []
    return frozenset([*values, *(str(v) for v in values)])


def _numeric_columns(batch: Batch, r: _Range) -> np.ndarray | None:
    if batch.matrix is not None:
        return batch.matrix[:, r.positions]
    frame = batch.frame
    if not hasattr(frame, "columns"):
        return None
    cols = []
    for name in r.names:
        try:
            cols.append(np.asarray(frame[name], dtype=np.float64))
        except (TypeError, ValueError, KeyError):
            cols.append(np.full(len(frame), np.nan))
    return np.column_stack(cols) if cols else None


def _column(batch: Batch, name: str, features: dict[str, list[Any]] | None) -> list[Any]:
    if batch.matrix is not None and batch.names is not None:
        return batch.matrix[:, batch.names.index(name)].tolist()
    return (features or {}).get(name, [])
