"""A synthetic credit-default data set, generated here so the demo needs no download."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOME_OWNERSHIP = ("rent", "own", "mortgage")
PURPOSES = ("debt_consolidation", "credit_card", "home_improvement", "car", "medical", "small_business")
TARGET = "default"

# Log-odds added to the default risk per category (the rest of the risk comes from the numbers).
_HOME_RISK = {"rent": 0.35, "own": -0.2, "mortgage": 0.0}
_PURPOSE_RISK = {
    "debt_consolidation": 0.15,
    "credit_card": 0.0,
    "home_improvement": -0.25,
    "car": -0.15,
    "medical": 0.35,
    "small_business": 0.7,
}
_INTERCEPT = -4.2  # chosen so that about 15% of applicants default


def make_credit_data(n_rows: int = 20_000, seed: int = 7) -> pd.DataFrame:
    """Loan applications with a binary ``default`` target (about 15% positives).

    The target follows a logistic function of debt-to-income, credit utilisation, late payments,
    income, age, employment, loan size, home ownership and purpose, plus noise, so models can
    learn it but not perfectly. The same ``seed`` always gives the same frame.

    Args:
        n_rows: Number of applications.
        seed: Seed of the random generator.

    Returns:
        One row per application; ``home_ownership`` and ``purpose`` are categorical.
    """
    if n_rows < 1:
        raise ValueError("n_rows must be at least 1")
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(41, 12, n_rows), 21, 75).round().astype(np.int64)
    income = np.clip(rng.lognormal(np.log(52_000), 0.5, n_rows), 9_000, 600_000).round(-2)
    months_employed = np.minimum(rng.gamma(2.0, 30.0, n_rows), (age - 18) * 12).round().astype(np.int64)
    home = rng.choice(HOME_OWNERSHIP, n_rows, p=[0.42, 0.18, 0.40])
    purpose = rng.choice(PURPOSES, n_rows, p=[0.35, 0.22, 0.12, 0.14, 0.09, 0.08])
    loan_amount = np.clip(rng.lognormal(np.log(11_000), 0.6, n_rows), 1_000, 60_000).round(-2)
    debt_to_income = np.clip(rng.beta(2.2, 6.0, n_rows) + 0.4 * loan_amount / income, 0.0, 1.5).round(4)
    credit_utilization = rng.beta(2.0, 3.0, n_rows).round(4)
    num_late_payments = rng.poisson(0.2 + 1.6 * credit_utilization**2, n_rows)

    # Mostly smooth effects, plus a few a linear model cannot express (a utilisation cliff,
    # young borrowers, late payments that matter more when debt is high): trees can find them.
    log_odds = (
        _INTERCEPT
        + 2.2 * debt_to_income
        + 1.0 * credit_utilization
        + 1.6 * (credit_utilization > 0.7)
        + 0.25 * np.minimum(num_late_payments, 6)
        + 1.4 * debt_to_income * np.minimum(num_late_payments, 3)
        - 0.55 * np.log(income / 52_000)
        + 0.9 * (age < 26)
        - 0.012 * (age - 41)
        - 0.004 * months_employed
        + 0.25 * np.log(loan_amount / 11_000)
        + np.vectorize(_HOME_RISK.__getitem__)(home)
        + np.vectorize(_PURPOSE_RISK.__getitem__)(purpose)
        + rng.normal(0.0, 0.6, n_rows)
    )
    default = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-log_odds))
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "months_employed": months_employed,
            "home_ownership": pd.Categorical(home, categories=HOME_OWNERSHIP),
            "purpose": pd.Categorical(purpose, categories=PURPOSES),
            "loan_amount": loan_amount,
            "debt_to_income": debt_to_income,
            "credit_utilization": credit_utilization,
            "num_late_payments": num_late_payments.astype(np.int64),
            TARGET: default.astype(np.int64),
        }
    )
