"""Everything the monitoring core hands back to be stored or sent is plain JSON: orjson (which
refuses NumPy scalars) serialises it without options."""

from __future__ import annotations

import driftdata
import numpy as np
import orjson

from modelyard.monitoring import (
    build_profile,
    check_fairness,
    check_quality,
    classification_metrics,
    compare,
    estimate_performance,
    fit_confidence,
    merge_summaries,
    regression_metrics,
    summarize,
)


def test_profiles_summaries_and_reports_are_plain_json() -> None:
    reference = driftdata.make(5_000, seed=1).assign(score=np.linspace(0, 1, 5_000))
    current = driftdata.make(2_000, seed=2, new_category=0.1).assign(score=np.linspace(0.2, 1, 2_000))
    profile = build_profile(reference, target="default", prediction="score")
    summary = summarize(profile, current)
    y = reference["default"].to_numpy()
    score = reference["score"].to_numpy()
    confidence = fit_confidence(y, score)
    for value in (
        profile,
        summary,
        merge_summaries(summary, summary),
        compare(profile, summary, importance={"income": 1.0}).to_dict(),
        check_quality(profile, summary).to_dict(),
        check_fairness(
            current["default"], {"channel": current["channel"]}, y_true=current["default"]
        ).to_dict(),
        classification_metrics(y, y_score=score),
        regression_metrics(score, score * 1.1),
        confidence,
        estimate_performance(confidence, score),
    ):
        assert orjson.loads(orjson.dumps(value)) is not None
