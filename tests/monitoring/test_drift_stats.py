"""Each drift statistic agrees with SciPy on the same inputs (exactly, or within the documented
tolerance where it works from the profile's bins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from modelyard.core.errors import InvalidArgument
from modelyard.monitoring import drift
from modelyard.monitoring.profile import build_profile
from modelyard.monitoring.summary import summarize

RNG = np.random.default_rng(7)


def binned(reference: np.ndarray, current: np.ndarray) -> tuple[dict, dict]:
    """The reference profile entry and the current summary entry of one numeric column."""
    profile = build_profile(pd.DataFrame({"x": reference}))
    summary = summarize(profile, pd.DataFrame({"x": current}))
    return profile["columns"]["x"], summary["columns"]["x"]


def test_jensen_shannon_equals_scipy() -> None:
    for _ in range(5):
        p, q = RNG.integers(0, 50, size=8), RNG.integers(0, 50, size=8)
        assert drift.jensen_shannon(p, q) == pytest.approx(distance.jensenshannon(p, q, base=2), abs=1e-12)
    assert drift.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert drift.jensen_shannon([3, 5], [6, 10]) == pytest.approx(0.0)


def test_chi_squared_equals_scipy_contingency() -> None:
    ref, cur = np.array([400, 300, 200, 100, 0]), np.array([35, 30, 20, 10, 5])
    statistic, p = drift.chi_squared(ref, cur)
    expected = stats.chi2_contingency(np.vstack((ref, cur))[:, :], correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    # A category empty on both sides is not a degree of freedom.
    assert drift.chi_squared([10, 0, 5], [12, 0, 4]) == pytest.approx(
        stats.chi2_contingency([[10, 5], [12, 4]], correction=False)[:2]
    )


def test_psi_matches_its_formula() -> None:
    r, c = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.3, 0.3])
    assert drift.psi(r * 1000, c * 10) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert drift.psi([10, 10], [10, 10]) == 0.0
    assert drift.psi([10, 0], [0, 10]) > 10  # empty shares are floored, not infinite


def test_ks_with_one_bin_per_value_is_scipys_ks_2samp() -> None:
    a, b = RNG.poisson(3.0, size=20_000), RNG.poisson(3.3, size=3_000)
    ref, cur = binned(a, b)
    assert ref["discrete"]
    d, p = drift.ks(ref["counts"], cur["counts"])
    expected = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-6)


@pytest.mark.parametrize(
    ("name", "make_current"),
    [
        ("unchanged", lambda a: RNG.normal(size=len(a))),
        ("mean shift", lambda a: RNG.normal(0.3, 1, size=len(a))),
        ("variance", lambda a: RNG.normal(0, 1.5, size=len(a))),
        ("small sample", lambda a: RNG.normal(0.2, 1, size=400)),
    ],
)
def test_ks_on_percentile_bins_is_within_a_bin_of_scipy(name: str, make_current) -> None:
    a = RNG.normal(size=50_000)
    b = make_current(a)
    ref, cur = binned(a, b)
    d, _ = drift.ks(ref["counts"], cur["counts"])
    exact = stats.ks_2samp(a, b).statistic
    assert exact - 0.01 <= d <= exact + 1e-12, name


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("unchanged", RNG.normal(size=50_000), RNG.normal(size=50_000)),
        ("mean shift", RNG.normal(size=50_000), RNG.normal(0.5, 1, size=50_000)),
        ("variance x2", RNG.normal(size=50_000), RNG.normal(0, 2, size=50_000)),
        ("log-normal", RNG.lognormal(size=50_000), RNG.lognormal(size=20_000) * 1.1),
        ("exponential", RNG.exponential(size=50_000), RNG.exponential(1.2, size=20_000)),
        ("poisson", RNG.poisson(3.0, size=50_000), RNG.poisson(3.3, size=5_000)),
        ("small current", RNG.normal(size=50_000), RNG.normal(0.1, 1, size=300)),
    ],
)
def test_normalized_wasserstein_within_a_percent_of_scipy(name: str, a: np.ndarray, b: np.ndarray) -> None:
    ref, cur = binned(a, b)
    ours = drift.wasserstein(ref["edges"], ref["counts"], cur["counts"], ref["tails"], cur["tails"],
                             discrete=ref["discrete"]) / ref["std"]  # fmt: skip
    exact = stats.wasserstein_distance(a, b) / np.std(a)
    assert ours == pytest.approx(exact, abs=0.01), name


def test_default_methods_by_kind_and_sample_size() -> None:
    assert drift.default_method("numeric", 100_000, 500) == "ks"
    assert drift.default_method("numeric", 100_000, 5_000) == "wasserstein"
    assert drift.default_method("numeric", 800, 100_000) == "ks"  # the smaller sample decides
    assert drift.default_method("categorical", 100_000, 500, 3) == "chisquare"
    assert drift.default_method("categorical", 100_000, 5_000, 3) == "jensenshannon"
    # Many categories and few rows each: JS would be noise, so a test decides.
    assert drift.default_method("categorical", 100_000, 5_000, 200) == "chisquare"


def test_unknown_method_is_a_clear_error() -> None:
    assert drift.method("JS").name == "jensenshannon"
    with pytest.raises(InvalidArgument, match="choose one of psi, jensenshannon"):
        drift.method("hellinger")
