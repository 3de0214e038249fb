"""Reference profiles: the stored shape (which the serving humility rules read), exact numbers
on in-memory data, a bounded sample on streams."""

from __future__ import annotations

import json

import driftdata
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import build_profile
from modelyard.monitoring.profile import column_profile

DATA = driftdata.make(30_000, seed=1)


def test_profile_shape_for_humility_rules_and_monitors() -> None:
    data = DATA.assign(score=np.linspace(0, 1, len(DATA)))
    profile = build_profile(data, target="default", prediction="score")
    assert json.loads(json.dumps(profile)) == profile  # plain JSON
    assert profile["version"] == 1 and profile["n_rows"] == 30_000
    assert set(profile["columns"]) == set(driftdata.FEATURES)  # target and prediction are not features
    income = profile["columns"]["income"]
    assert income["kind"] == "numeric"
    assert income["min"] == DATA.income.min() and income["max"] == DATA.income.max()
    assert income["mean"] == pytest.approx(DATA.income.mean())
    assert income["std"] == pytest.approx(DATA.income.std(ddof=0))
    assert income["quantiles"]["0.5"] == pytest.approx(DATA.income.median())
    assert len(income["edges"]) == 99 and len(income["counts"]) == 100
    assert sum(income["counts"]) == 30_000
    assert max(income["counts"]) - min(income["counts"]) <= 2  # equal-mass bins
    region = profile["columns"]["region"]
    assert region["kind"] == "categorical"
    assert region["categories"] == ["north", "south", "east", "west"]  # most frequent first
    assert sum(region["counts"]) == 30_000 and region["other"] == 0 and not region["truncated"]
    assert profile["target"]["name"] == "default" and profile["target"]["kind"] == "categorical"
    assert profile["target"]["categories"] == ["0", "1"]
    assert profile["prediction"]["name"] == "score" and profile["prediction"]["kind"] == "numeric"
    assert column_profile(profile, "score") is profile["prediction"]


def test_discrete_numeric_column_has_one_bin_per_value() -> None:
    children = build_profile(DATA)["columns"]["children"]
    values, counts = np.unique(DATA.children, return_counts=True)
    assert children["discrete"] and children["edges"] == values.tolist()
    assert children["counts"] == [0, *counts.tolist()]  # bin 0: below the range


def test_missing_values_and_rates() -> None:
    data = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, None, 5.0, np.inf],
            "c": ["a", None, "b", "a", None, "a"],
        }
    )
    profile = build_profile(data)
    x, c = profile["columns"]["x"], profile["columns"]["c"]
    assert (x["count"], x["missing"], x["min"], x["max"]) == (3, 3, 1.0, 5.0)  # infinities count as missing
    assert x["missing_rate"] == pytest.approx(0.5)
    assert (c["count"], c["missing"], c["categories"], c["counts"]) == (4, 2, ["a", "b"], [3, 1])


def test_stream_profile_is_exact_where_it_can_be_and_sampled_where_it_must() -> None:
    table = pa.Table.from_pandas(DATA, preserve_index=False)
    exact = build_profile(table)
    streamed = build_profile(iter(table.to_batches(max_chunksize=1_000)), sample_rows=5_000)
    for name in ("income", "balance"):
        e, s = exact["columns"][name], streamed["columns"][name]
        assert (s["count"], s["min"], s["max"]) == (e["count"], e["min"], e["max"])
        assert s["mean"] == pytest.approx(e["mean"]) and s["std"] == pytest.approx(e["std"])
        assert s["binned"] == 5_000 and sum(s["counts"]) == 5_000  # bins from a bounded sample
        assert s["quantiles"]["0.5"] == pytest.approx(e["quantiles"]["0.5"], rel=0.05)
    assert streamed["columns"]["region"]["counts"] == exact["columns"]["region"]["counts"]
    assert not streamed["exact"] and exact["exact"]
    small = build_profile(iter(table.to_batches(max_chunksize=1_000)))  # fits in the sample: exact
    assert small["columns"]["income"]["counts"] == exact["columns"]["income"]["counts"]


def test_kinds_can_be_forced_and_top_k_truncates() -> None:
    data = pd.DataFrame({"zip": np.arange(500) % 50, "city": [f"c{i % 40}" for i in range(500)]})
    profile = build_profile(data, kinds={"zip": "categorical"}, top_k=10)
    assert profile["columns"]["zip"]["kind"] == "categorical"
    city = profile["columns"]["city"]
    assert len(city["categories"]) == 10 and city["truncated"]
    assert city["other"] == 500 - sum(city["counts"]) and city["n_unique"] == 40


def test_other_types_are_profiled_for_missing_only() -> None:
    data = pa.table({"ts": pa.array([1, None, 3], pa.timestamp("s")), "x": [1.0, 2.0, 3.0]})
    ts = build_profile(data)["columns"]["ts"]
    assert ts == {"kind": "other", "dtype": "timestamp[s]", "count": 2, "missing": 1, "missing_rate": 1 / 3}


def test_clear_errors() -> None:
    with pytest.raises(InvalidArgument, match="has no column 'label'"):
        build_profile(DATA, target="label")
    with pytest.raises(InvalidArgument, match="Kind 'text'"):
        build_profile(DATA, kinds={"region": "text"})
    with pytest.raises(InvalidArgument, match="empty"):
        build_profile(iter([]))
