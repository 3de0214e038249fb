"""``compare`` on data with known injected drift, and with none: each method flags what it
should and nothing else; the defaults stay quiet on large unchanged samples."""

from __future__ import annotations

import json
from pathlib import Path

import driftdata
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import modelyard as my
from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import build_profile, compare, merge_summaries, summarize

REFERENCE = driftdata.make(40_000, seed=1)
PROFILE = build_profile(REFERENCE, target="default")

SCENARIOS = {  # injected change -> the columns that must drift (the target counts as "default")
    "none": ({}, set()),
    "mean shift": ({"mean_shift": 0.5}, {"income"}),
    "variance": ({"scale": 2.0}, {"income"}),
    "new category": ({"new_category": 0.1}, {"region"}),
    "label shift": ({"default_rate": 0.4}, {"default"}),
}


def flagged(report) -> set[str]:
    found = set(report.drifted_features)
    return found | {"default"} if report.target is not None and report.target.drifted else found


@pytest.mark.parametrize("n", [20_000, 600])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_defaults_flag_exactly_the_injected_drift(scenario: str, n: int) -> None:
    change, expected = SCENARIOS[scenario]
    # Small samples use tests: each unchanged column false-alarms with probability 0.05 by
    # design (checked below); this seed draws a null sample without one.
    report = compare(PROFILE, driftdata.make(n, seed=3, **change))
    assert flagged(report) == expected
    methods = {f.feature: f.method for f in report.features}
    if n > 1_000:
        assert methods == {"income": "wasserstein", "balance": "wasserstein", "children": "wasserstein",
                           "region": "jensenshannon", "channel": "jensenshannon"}  # fmt: skip
    else:
        assert methods == {"income": "ks", "balance": "ks", "children": "ks",
                           "region": "chisquare", "channel": "chisquare"}  # fmt: skip


def test_small_sample_tests_false_alarm_at_their_nominal_rate() -> None:
    """Under no drift the KS and chi-squared p-values are (about) uniform: roughly 5% alarms."""
    alarms = checks = 0
    for seed in range(100, 140):
        report = compare(PROFILE, driftdata.make(600, seed=seed))
        alarms += len(report.drifted_features) + int(report.target.drifted)
        checks += len(report.features) + 1
    assert checks == 240
    assert 2 <= alarms <= 22  # binomial(240, <= 0.05): mean <= 12; discrete data make KS conservative


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "wasserstein", "ks", "chisquare"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_method_flags_exactly_the_injected_drift(method: str, scenario: str) -> None:
    change, expected = SCENARIOS[scenario]
    report = compare(PROFILE, driftdata.make(20_000, seed=3, **change), methods=method)
    assert flagged(report) == expected
    numeric = {"income", "balance", "children"}
    for result in report.features:
        if result.feature in numeric or method not in ("wasserstein", "ks"):
            assert result.method == method
    assert report.target is not None and report.target.kind == "categorical"


def test_defaults_stay_quiet_on_trivial_differences_in_200k_rows() -> None:
    """A p-value test flags a 0.03 sd shift and a 1-point category change on 200,000 rows;
    the defaults (distances with fixed thresholds) do not, and still catch a real shift."""
    reference = driftdata.make(200_000, seed=4)
    trivial = driftdata.make(200_000, seed=5, mean_shift=0.03)
    rng = np.random.default_rng(5)
    trivial["channel"] = rng.choice(["web", "branch"], size=200_000, p=[0.69, 0.31])
    profile = build_profile(reference)
    assert compare(profile, trivial).drifted_features == []
    tests = compare(profile, trivial, methods={"numeric": "ks", "categorical": "chisquare"})
    assert {"income", "channel"} <= set(tests.drifted_features)
    real = driftdata.make(200_000, seed=6, mean_shift=0.2)
    assert compare(profile, real).drifted_features == ["income"]


def test_reference_may_be_raw_data_or_a_stored_profile() -> None:
    current = driftdata.make(5_000, seed=8, mean_shift=0.5)
    from_raw = compare(REFERENCE, current, target="default")
    stored = json.loads(json.dumps(PROFILE))  # as it comes back from the registry
    from_profile = compare(stored, current)
    assert from_raw.to_dict() == from_profile.to_dict()
    row = from_raw["income"]
    assert (row.feature, row.method, row.threshold, row.drifted) == ("income", "wasserstein", 0.1, True)
    assert row.statistic == pytest.approx(0.5, abs=0.05)
    json.dumps(from_raw.to_dict())  # serialisable for the API


def test_stream_of_parquet_batches_with_prefixed_names(tmp_path: Path) -> None:
    """The prediction log: Parquet segments, inputs prefixed ``input.``, the score under ``output``."""
    reference = driftdata.make(20_000, seed=9)
    reference["score"] = np.random.default_rng(9).random(20_000)
    profile = build_profile(reference, target="default", prediction="score")
    for i in range(4):
        part = driftdata.make(5_000, seed=20 + i, new_category=0.2)
        table = pa.table({f"input.{c}": part[c] for c in driftdata.FEATURES})
        table = table.append_column("output", pa.array(np.random.default_rng(i).random(5_000) ** 2))
        table = table.append_column("request_id", pa.array([f"r{i}-{j}" for j in range(5_000)]))
        pq.write_table(table, tmp_path / f"segment-{i}.parquet", row_group_size=2_000)
    batches = ds.dataset(tmp_path).to_batches(batch_size=1_500)
    report = compare(profile, batches, prefix="input.", column_map={"score": "output"})
    assert report.n_current == 20_000
    assert report.drifted_features == ["region"]
    assert report.prediction is not None and report.prediction.drifted  # score ** 2 is not uniform
    assert report.target is None  # no actuals in the window yet: not an error
    whole = compare(profile, ds.dataset(tmp_path).to_table(), prefix="input.", column_map={"score": "output"})
    assert [f.statistic for f in whole.features] == pytest.approx([f.statistic for f in report.features])


def test_window_summaries_merge_into_the_summary_of_the_whole() -> None:
    first, second = driftdata.make(3_000, seed=30), driftdata.make(7_000, seed=31, scale=2.0)
    merged = merge_summaries(summarize(PROFILE, first), summarize(PROFILE, second))
    import pandas as pd

    whole = summarize(PROFILE, pd.concat([first, second], ignore_index=True))
    assert merged["n_rows"] == whole["n_rows"] == 10_000
    for name in PROFILE["columns"]:
        assert merged["columns"][name]["counts"] == whole["columns"][name]["counts"]
    assert merged["columns"]["income"]["std"] == pytest.approx(whole["columns"]["income"]["std"])
    a, b = compare(PROFILE, merged), compare(PROFILE, whole)
    assert [f.statistic for f in a.features] == pytest.approx([f.statistic for f in b.features], rel=1e-9)
    assert a.drifted_features == b.drifted_features == ["income"]


def test_dataset_verdict_by_share_and_by_importance() -> None:
    current = driftdata.make(20_000, seed=10, mean_shift=0.5)  # 1 of 5 features drifts
    plain = compare(PROFILE, current)
    assert (plain.dataset.n_features, plain.dataset.n_drifted) == (5, 1)
    assert plain.dataset.share == pytest.approx(0.2) and not plain.drifted
    weights = {"income": 0.6, "balance": 0.1, "children": 0.1, "region": 0.1, "channel": 0.1}
    weighted = compare(PROFILE, current, importance=weights)
    assert weighted.dataset.weighted_share == pytest.approx(0.6)
    assert weighted.drifted  # drift in the most important feature counts more
    assert compare(PROFILE, current, drift_share=0.2).drifted


def test_methods_and_thresholds_per_column() -> None:
    current = driftdata.make(20_000, seed=11, mean_shift=0.05)
    report = compare(
        PROFILE,
        current,
        methods={"income": "psi", "categorical": "chisquare"},
        thresholds={"income": 0.001, "chisquare": 0.01},
    )
    assert (report["income"].method, report["income"].threshold, report["income"].drifted) == (
        "psi",
        0.001,
        True,
    )
    assert report["region"].method == "chisquare" and report["region"].threshold == 0.01
    assert report["region"].p_value == report["region"].statistic
    with pytest.raises(InvalidArgument, match="does not apply to categorical column 'region'"):
        compare(PROFILE, current, methods={"region": "wasserstein"})


def test_missing_feature_is_reported_not_counted() -> None:
    current = driftdata.make(2_000, seed=12).drop(columns=["balance"])
    report = compare(PROFILE, current)
    assert report["balance"].error == "missing from the current data"
    assert report.dataset.n_features == 4
    assert report.errors == ["balance: missing from the current data"]


def test_lazy_entry_point() -> None:
    assert my.monitoring.compare is compare
    with pytest.raises(AttributeError):
        _ = my.monitoring.no_such_function


def test_a_failing_stream_raises_its_own_error() -> None:
    table = pa.Table.from_pandas(driftdata.make(3_000, seed=13), preserve_index=False)

    def broken():
        yield from table.to_batches(max_chunksize=1_000)[:2]
        raise OSError("segment-7.parquet: unexpected end of file")

    with pytest.raises(OSError, match="segment-7"):
        compare(PROFILE, broken())


def test_an_empty_window_says_so() -> None:
    report = compare(PROFILE, iter([]))
    assert report.n_current == 0 and not report.drifted
    assert {f.error for f in report.features} == {"no rows in the current data"}
