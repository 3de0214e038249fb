"""Data quality of current data against the reference profile: missing rates, out-of-range
values, unseen categories, type and schema mismatches.

Works from the same one-pass summary as drift, so a monitor reads a window once for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring._tabular import dtype_family
from modelyard.monitoring.profile import is_profile
from modelyard.monitoring.summary import is_summary, summarize


@dataclass
class ColumnQuality:
    """Quality measures of one column of the current data; ``issues`` says what is wrong."""

    column: str
    kind: str
    present: bool
    dtype: str | None
    reference_dtype: str | None
    type_mismatch: bool = False
    count: int = 0
    missing_rate: float = 0.0
    reference_missing_rate: float = 0.0
    invalid: int = 0
    out_of_range: int = 0
    out_of_range_rate: float = 0.0
    unseen: int = 0
    unseen_rate: float = 0.0
    unseen_values: list[str] = field(default_factory=list)
    role: str = "feature"
    issues: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    """Per-column quality and the schema differences; ``ok`` when nothing needs attention."""

    columns: list[ColumnQuality]
    missing_columns: list[str]
    extra_columns: list[str]
    n_rows: int

    @property
    def ok(self) -> bool:
        """True when no column has an issue and no reference column is missing."""
        return not self.missing_columns and not any(c.issues for c in self.columns)

    @property
    def issues(self) -> list[str]:
        """Every issue as one sentence, prefixed with its column."""
        return [f"{c.column}: {issue}" for c in self.columns for issue in c.issues]

    def __getitem__(self, name: str) -> ColumnQuality:
        for column in self.columns:
            if column.column == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {**asdict(self), "ok": self.ok}


def check_quality(
    reference: Mapping[str, Any],
    current: Any,
    *,
    missing_tolerance: float = 0.05,
    out_of_range_tolerance: float = 0.01,
    unseen_tolerance: float = 0.01,
    column_map: Mapping[str, str] | None = None,
    prefix: str = "",
    threads: int | None = None,
) -> QualityReport:
    """Check current data against a reference profile.

    Args:
        reference: a profile from ``build_profile``.
        current: raw data (DataFrame, Arrow table, record-batch iterator) or a summary.
        missing_tolerance: issue when the missing rate exceeds the reference's by more than this.
        out_of_range_tolerance: issue when more than this share of a numeric column lies outside
            the reference [min, max].
        unseen_tolerance: issue when more than this share of a categorical column takes values the
            reference never had (not judged when the profile kept only the top categories).
        column_map, prefix, threads: as in ``summarize``.
    """
    if not is_profile(reference):
        raise InvalidArgument("check_quality needs a reference profile from build_profile.")
    summary = current if is_summary(current) else summarize(
        reference, current, column_map=column_map, prefix=prefix, threads=threads
    )  # fmt: skip
    columns = [
        _column(name, "feature", ref, summary["columns"].get(name), missing_tolerance,
                out_of_range_tolerance, unseen_tolerance)
        for name, ref in reference["columns"].items()
    ]  # fmt: skip
    for role in ("prediction", "target"):
        ref, cur = reference.get(role), summary.get(role)
        if ref and cur:
            columns.append(
                _column(
                    ref["name"], role, ref, cur, missing_tolerance, out_of_range_tolerance, unseen_tolerance
                )
            )
    return QualityReport(
        columns=columns,
        missing_columns=[c.column for c in columns if not c.present],
        extra_columns=list(summary.get("extra_columns", [])),
        n_rows=int(summary["n_rows"]),
    )


def _column(
    name: str,
    role: str,
    ref: Mapping[str, Any],
    cur: Mapping[str, Any] | None,
    missing_tolerance: float,
    out_of_range_tolerance: float,
    unseen_tolerance: float,
) -> ColumnQuality:
    result = ColumnQuality(
        column=name,
        kind=ref["kind"],
        present=bool(cur and cur.get("present", True)),
        dtype=(cur or {}).get("dtype"),
        reference_dtype=ref.get("dtype"),
        reference_missing_rate=float(ref.get("missing_rate", 0.0)),
        role=role,
    )
    if not result.present or cur is None:
        result.issues.append("missing from the current data")
        return result
    count, missing = int(cur["count"]), int(cur["missing"])
    invalid = int(cur.get("invalid", 0))
    total = count + missing + invalid
    result.count = count
    result.invalid = invalid
    result.missing_rate = missing / total if total else 0.0
    if result.dtype and result.reference_dtype:
        result.type_mismatch = dtype_family(result.dtype) != dtype_family(result.reference_dtype)
    if result.type_mismatch:
        result.issues.append(f"type {result.dtype} where the reference had {result.reference_dtype}")
    if invalid:
        result.issues.append(f"{invalid} value(s) are not numbers")
    if result.missing_rate > result.reference_missing_rate + missing_tolerance:
        result.issues.append(
            f"missing rate {result.missing_rate:.1%} (reference {result.reference_missing_rate:.1%})"
        )
    if ref["kind"] == "numeric" and count:
        result.out_of_range = int(cur["below_min"]) + int(cur["above_max"])
        result.out_of_range_rate = result.out_of_range / count
        if result.out_of_range_rate > out_of_range_tolerance:
            result.issues.append(
                f"{result.out_of_range_rate:.1%} of values outside the reference range "
                f"[{ref['min']:g}, {ref['max']:g}]"
            )
    if ref["kind"] == "categorical" and count:
        result.unseen = int(cur["unseen_count"])
        result.unseen_rate = result.unseen / count
        result.unseen_values = list(cur["unseen"])
        if result.unseen_rate > unseen_tolerance and not ref.get("truncated"):
            shown = ", ".join(map(repr, result.unseen_values[:5]))
            result.issues.append(f"{result.unseen_rate:.1%} of values are categories never seen: {shown}")
    return result
