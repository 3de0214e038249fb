"""Synthetic reference and current data with known, injected drift (shared by monitoring tests).

Columns: ``income`` normal, ``balance`` log-normal (long right tail), ``children`` Poisson
(discrete), ``region`` four categories, ``channel`` two categories, ``default`` the 0/1 target.
Features are independent of each other and of the target, so a change injected in one column
must show in that column only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.4, 0.3, 0.2, 0.1]
FEATURES = ["income", "balance", "children", "region", "channel"]


def make(
    n: int,
    seed: int,
    *,
    mean_shift: float = 0.0,
    scale: float = 1.0,
    new_category: float = 0.0,
    default_rate: float = 0.2,
) -> pd.DataFrame:
    """``n`` rows; the keyword arguments inject drift (defaults: the reference distribution).

    mean_shift, scale: change ``income`` (in reference standard deviations).
    new_category: share of ``region`` rows that take the never-seen value "abroad".
    default_rate: the target's positive rate (label shift).
    """
    # One random stream per column: a change injected in one column leaves the others' draws alone.
    rng = {name: np.random.default_rng([seed, i]) for i, name in enumerate([*FEATURES, "default"])}
    region = rng["region"].choice(REGIONS, size=n, p=REGION_P).astype(object)
    if new_category:
        region[rng["region"].random(n) < new_category] = "abroad"
    return pd.DataFrame(
        {
            "income": 50_000 + 10_000 * (rng["income"].normal(size=n) * scale + mean_shift),
            "balance": rng["balance"].lognormal(mean=7, sigma=1, size=n),
            "children": rng["children"].poisson(1.5, size=n),
            "region": region.astype(str),
            "channel": rng["channel"].choice(["web", "branch"], size=n, p=[0.7, 0.3]),
            "default": (rng["default"].random(n) < default_rate).astype(int),
        }
    )
