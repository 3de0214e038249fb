"""Data quality against the reference: missing rates, out-of-range values, unseen categories,
type and schema mismatches; clean data raises nothing."""

from __future__ import annotations

import json

import driftdata
import numpy as np
import pyarrow as pa

from modelyard.monitoring import build_profile, check_quality, summarize

PROFILE = build_profile(driftdata.make(20_000, seed=1), target="default")


def test_clean_data_has_no_issues() -> None:
    report = check_quality(PROFILE, driftdata.make(5_000, seed=2))
    assert report.ok, report.issues
    assert report.missing_columns == [] and report.extra_columns == []
    assert report["income"].out_of_range_rate < 0.01
    json.dumps(report.to_dict())


def test_each_problem_is_found_in_its_column_only() -> None:
    current = driftdata.make(5_000, seed=3)
    rng = np.random.default_rng(3)
    current.loc[rng.random(5_000) < 0.2, "balance"] = np.nan  # missing rate 0 -> 20%
    current["income"] = current["income"] * 3  # most values beyond the training range
    current.loc[:499, "region"] = "abroad"  # 10% never-seen category
    current["children"] = current["children"].astype(str)  # numbers arrive as text
    current = current.drop(columns=["channel"]).assign(extra=1)
    report = check_quality(PROFILE, current)
    assert not report.ok
    assert report["balance"].missing_rate > 0.15 and report["balance"].issues == [
        f"missing rate {report['balance'].missing_rate:.1%} (reference 0.0%)"
    ]
    assert report["income"].out_of_range_rate > 0.3
    assert "outside the reference range" in report["income"].issues[0]
    assert report["region"].unseen == 500 and report["region"].unseen_values == ["abroad"]
    assert report["region"].issues == ["10.0% of values are categories never seen: 'abroad'"]
    assert report["children"].type_mismatch
    assert report["children"].issues == ["type string where the reference had int64"]
    assert report.missing_columns == ["channel"] and report.extra_columns == ["extra"]
    assert report["default"].role == "target" and report["default"].issues == []


def test_text_that_is_not_a_number_is_counted() -> None:
    current = driftdata.make(1_000, seed=4).astype({"income": str})
    current.loc[:9, "income"] = "n/a"
    quality = check_quality(PROFILE, current)
    assert quality["income"].invalid == 1_000  # a column that does not parse is unusable as a whole
    assert "1000 value(s) are not numbers" in quality["income"].issues


def test_streamed_prediction_log_with_prefix_and_a_summary() -> None:
    frame = driftdata.make(4_000, seed=5)
    table = pa.table({f"input.{c}": frame[c] for c in driftdata.FEATURES}).append_column(
        "timestamp", pa.array(np.arange(4_000))
    )
    summary = summarize(PROFILE, iter(table.to_batches(max_chunksize=500)), prefix="input.")
    report = check_quality(PROFILE, summary)
    assert report.ok and report.n_rows == 4_000
    assert report.extra_columns == []  # only prefixed names are inputs; timestamp is the log's own


def test_missing_tolerance_is_relative_to_the_reference() -> None:
    reference = driftdata.make(5_000, seed=6)
    reference.loc[:999, "income"] = np.nan  # 20% missing is normal for this column
    profile = build_profile(reference)
    current = driftdata.make(5_000, seed=7)
    current.loc[:1_199, "income"] = np.nan  # 24%: within 5 points of the reference
    assert check_quality(profile, current)["income"].issues == []
    assert check_quality(profile, current, missing_tolerance=0.01)["income"].issues
