"""``compare``: feature, prediction and target drift between a reference and current data.

    import modelyard as my
    report = my.monitoring.compare(reference_df, current_df)
    report.drifted, report.drifted_features, report["age"].statistic

The reference is raw data (profiled on the fly) or a stored profile; the current data is raw
data, a stream of record batches, or a summary. Both go through the same profile-and-summary
path a monitor uses, so an ad-hoc answer and a monitor's answer agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import drift
from modelyard.monitoring.profile import build_profile, is_profile
from modelyard.monitoring.summary import is_summary, summarize

DEFAULT_DRIFT_SHARE = 0.5


@dataclass
class FeatureDrift:
    """The drift verdict on one column.

    ``statistic`` is the number ``threshold`` applies to: a distance for psi, jensenshannon and
    wasserstein (drifted when >= threshold) and the p-value for ks and chisquare (drifted when
    < threshold; their test statistic is in ``test_statistic``).
    """

    feature: str
    kind: str
    method: str | None
    statistic: float
    threshold: float
    drifted: bool
    p_value: float | None = None
    test_statistic: float | None = None
    n_reference: int = 0
    n_current: int = 0
    role: str = "feature"
    importance: float | None = None
    error: str | None = None


@dataclass
class DatasetDrift:
    """The data-set verdict: drifted when the (importance-weighted) share of drifted features
    reaches ``threshold``."""

    n_features: int
    n_drifted: int
    share: float
    weighted_share: float | None
    threshold: float
    drifted: bool


@dataclass
class DriftReport:
    """What ``compare`` returns: one ``FeatureDrift`` per feature, and the data-set verdict."""

    features: list[FeatureDrift]
    dataset: DatasetDrift
    prediction: FeatureDrift | None = None
    target: FeatureDrift | None = None
    n_reference: int = 0
    n_current: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        """The data-set verdict."""
        return self.dataset.drifted

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted."""
        return [f.feature for f in self.features if f.drifted]

    def __getitem__(self, name: str) -> FeatureDrift:
        for result in self.features:
            if result.feature == name:
                return result
        for extra in (self.prediction, self.target):
            if extra is not None and extra.feature == name:
                return extra
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN statistics become None)."""
        return _clean(asdict(self))

    def to_pandas(self) -> Any:
        """One row per column (features, then prediction and target) as a pandas DataFrame."""
        import pandas as pd

        rows = [*self.features, *(r for r in (self.prediction, self.target) if r is not None)]
        return pd.DataFrame([asdict(r) for r in rows])


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def compare(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    methods: str | Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    importance: Mapping[str, float] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    target: str | None = None,
    prediction: str | None = None,
    kinds: Mapping[str, str] | None = None,
    column_map: Mapping[str, str] | None = None,
    prefix: str = "",
    threads: int | None = None,
) -> DriftReport:
    """Compare current data with a reference: drift per feature and for the data set.

    Args:
        reference: a DataFrame / pyarrow Table / record-batch iterator, or a stored profile.
        current: a DataFrame / pyarrow Table / record-batch iterator (streamed), or a summary.
        columns: the features to check (default: every profiled feature).
        methods: one method for all columns, or a mapping from a column name or a kind
            ("numeric", "categorical") to a method: psi, jensenshannon, wasserstein, ks,
            chisquare. Unset columns get ``drift.default_method``.
        thresholds: per column name or per method name; default each method's own threshold.
        importance: feature -> importance; the data-set verdict then uses the weighted share
            (features not listed weigh 0).
        drift_share: the (weighted) share of drifted features at which the data set drifted.
        target, prediction, kinds: when ``reference`` is raw data, as in ``build_profile``.
        column_map, prefix: how reference names map to current names, as in ``summarize``.
        threads: worker threads for profiling and summarizing.
    """
    if not 0 < drift_share <= 1:
        raise InvalidArgument("drift_share must be in (0, 1].")
    if is_profile(reference):
        profile = reference
    else:
        profile = build_profile(
            reference, target=target, prediction=prediction, columns=columns, kinds=kinds, threads=threads
        )
    summary = current if is_summary(current) else summarize(
        profile, current, column_map=column_map, prefix=prefix, threads=threads
    )  # fmt: skip
    names = list(profile["columns"]) if columns is None else list(columns)
    unknown = [n for n in names if n not in profile["columns"]]
    if unknown:
        raise InvalidArgument(f"The reference profile has no feature {', '.join(map(repr, unknown))}.")
    empty = summary["n_rows"] == 0
    results = [
        _column(name, "feature", profile["columns"][name], None if empty else summary["columns"].get(name),
                methods, thresholds)
        for name in names
    ]  # fmt: skip
    if importance:
        for result in results:
            result.importance = float(importance.get(result.feature, 0.0))
    extra = {}
    for role in ("prediction", "target"):
        ref, cur = profile.get(role), summary.get(role)
        if ref and cur:
            extra[role] = _column(ref["name"], role, ref, cur, methods, thresholds)
    return DriftReport(
        features=results,
        dataset=_dataset(results, importance, drift_share),
        n_reference=int(profile["n_rows"]),
        n_current=int(summary["n_rows"]),
        errors=[f"{r.feature}: {r.error}" for r in results if r.error],
        **extra,
    )


def _dataset(
    results: list[FeatureDrift], importance: Mapping[str, float] | None, share: float
) -> DatasetDrift:
    checked = [r for r in results if r.error is None]
    n_drifted = sum(r.drifted for r in checked)
    plain = n_drifted / len(checked) if checked else 0.0
    weighted = None
    if importance:
        weights = np.array([max(r.importance or 0.0, 0.0) for r in checked])
        if weights.sum() > 0:
            weighted = float(weights[[r.drifted for r in checked]].sum() / weights.sum())
    verdict = (weighted if weighted is not None else plain) >= share if checked else False
    return DatasetDrift(len(checked), n_drifted, plain, weighted, share, bool(verdict))


def choose_method(
    name: str, ref: Mapping[str, Any], cur: Mapping[str, Any], methods: str | Mapping[str, str] | None
) -> drift.Method:
    """The method for one column: the caller's choice (by column, then kind, then global), else
    the default for its kind and sample size."""
    kind = ref["kind"]
    chosen: str | None = None
    if isinstance(methods, str):
        candidate = drift.method(methods)
        chosen = candidate.name if kind in candidate.kinds else None
    elif methods:
        chosen = methods.get(name) or methods.get(kind)
        if chosen is not None and kind not in drift.method(chosen).kinds:
            raise InvalidArgument(f"Method {chosen!r} does not apply to {kind} column {name!r}.")
    if chosen is None:
        n_categories = len(ref.get("categories", ())) + len(cur.get("unseen", ()))
        chosen = drift.default_method(kind, ref["count"], cur["count"], n_categories)
    return drift.method(chosen)


def _column(
    name: str,
    role: str,
    ref: Mapping[str, Any],
    cur: Mapping[str, Any] | None,
    methods: str | Mapping[str, str] | None,
    thresholds: Mapping[str, float] | None,
) -> FeatureDrift:
    def failed(error: str, method: str | None = None) -> FeatureDrift:
        return FeatureDrift(name, ref["kind"], method, math.nan, math.nan, False, role=role,
                            n_reference=ref.get("count", 0), n_current=(cur or {}).get("count", 0),
                            error=error)  # fmt: skip

    if ref["kind"] == "other":
        return failed(f"no drift method for type {ref.get('dtype')}")
    if cur is None or not cur.get("present", True):
        return failed("missing from the current data" if cur is not None else "no rows in the current data")
    chosen = choose_method(name, ref, cur, methods)
    thresholds = thresholds or {}
    threshold = float(thresholds.get(name, thresholds.get(chosen.name, chosen.threshold)))
    if cur["count"] == 0 and cur.get("invalid"):
        return failed(f"not numeric in the current data (type {cur.get('dtype')})", chosen.name)
    if ref["count"] == 0 or cur["count"] == 0:
        return failed("no values to compare (all missing)", chosen.name)
    statistic, test_statistic = _statistic(chosen.name, ref, cur)
    drifted = statistic < threshold if chosen.p_value else statistic >= threshold
    return FeatureDrift(
        feature=name,
        kind=ref["kind"],
        method=chosen.name,
        statistic=float(statistic),
        threshold=threshold,
        drifted=bool(drifted),
        p_value=statistic if chosen.p_value else None,
        test_statistic=None if test_statistic is None else float(test_statistic),
        n_reference=int(ref["count"]),
        n_current=int(cur["count"]),
        role=role,
    )


def aligned_counts(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current counts over the same cells.

    Numeric: the profile's bins. Categorical: the reference categories, its "other" bucket,
    then every category new in the current data (unseen values beyond the ones listed in the
    summary share one cell).
    """
    r = np.asarray(ref["counts"], dtype=float)
    c = np.asarray(cur["counts"], dtype=float)
    if len(r) != len(c):
        raise InvalidArgument("The summary was made against a different profile (bin counts differ).")
    if ref["kind"] == "numeric":
        return r, c
    unseen = np.asarray(list(cur["unseen"].values()), dtype=float)
    rest = cur["unseen_count"] - unseen.sum()
    if ref.get("truncated"):
        # Values outside the stored top-k may be rare reference values: pool them with "other".
        return np.append(r, ref["other"]), np.append(c, cur["unseen_count"])
    return np.concatenate((r, np.zeros(len(unseen) + 1))), np.concatenate((c, unseen, [rest]))


def _statistic(name: str, ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[float, float | None]:
    r, c = aligned_counts(ref, cur)
    if name == "ks":
        d, p = drift.ks(r, c)
        return p, d
    if name == "wasserstein":
        w = drift.wasserstein(
            np.asarray(ref["edges"]), r, c, tuple(ref["tails"]), tuple(cur["tails"]),
            discrete=bool(ref.get("discrete")),
        )  # fmt: skip
        return w / max(float(ref["std"]), 1e-3), None
    if ref["kind"] == "numeric":
        groups = drift.coarse_groups(r)
        r, c = drift.coarsen(r, groups), drift.coarsen(c, groups)
    if name == "psi":
        return drift.psi(r, c), None
    if name == "jensenshannon":
        return drift.jensen_shannon(r, c), None
    stat, p = drift.chi_squared(r, c)
    return p, stat
