"""Statistics over sessions, as MLPerf scores time to train and as the paper measures variation."""

import pytest

from aibench.analyses.summary import (
    bootstrap_interval,
    coefficient_of_variation,
    mlperf_time_to_train,
    olympic_mean,
    summarize,
)


def test_olympic_mean_drops_fastest_and_slowest():
    assert olympic_mean([10.0, 1.0, 4.0, 5.0, 100.0]) == pytest.approx(19 / 3)
    assert olympic_mean([3.0, 5.0]) == 4.0
    assert olympic_mean([]) is None


def test_a_failed_session_counts_as_the_slowest_and_is_dropped():
    # The example: 4 successes at 100/110/120/130 s plus one failure is 120 s, not 115 s.
    score, rule = mlperf_time_to_train([100.0, None, 110.0, 120.0, 130.0])
    assert score == pytest.approx(120.0) and "did not reach" in rule
    assert mlperf_time_to_train([100.0, 110.0, 120.0, 130.0, 140.0])[0] == pytest.approx(120.0)


def test_two_failures_make_the_score_invalid():
    score, rule = mlperf_time_to_train([100.0, None, 110.0, None, 130.0])
    assert score is None and rule.startswith("invalid: 2 of 5")
    assert mlperf_time_to_train([100.0, None])[0] is None  # too few sessions to drop the failure
    assert mlperf_time_to_train([None])[1] == "no session reached the target"
    assert mlperf_time_to_train([80.0, 100.0]) == (90.0, "mean (fewer than 3 sessions: nothing dropped)")


def test_coefficient_of_variation_uses_the_sample_standard_deviation():
    # values 2,4,4,4,5,5,7,9: mean 5, sum of squared deviations 32; sample sd = sqrt(32/7)
    assert coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx((32 / 7) ** 0.5 / 5)
    assert coefficient_of_variation([3]) is None
    assert coefficient_of_variation([5, 5, 5, 5]) == 0.0


def test_bootstrap_interval_brackets_the_score_and_is_unbounded_when_failures_can_dominate():
    assert bootstrap_interval([100.0, 110.0, 120.0, 130.0]) is None  # fewer than 5 sessions
    times = [100.0, 104.0, 108.0, 112.0, 116.0, 120.0]
    ci = bootstrap_interval(times)
    assert ci["low_s"] < mlperf_time_to_train(times)[0] < ci["high_s"]
    assert ci["low_s"] >= 100.0 and ci["high_s"] <= 120.0
    assert bootstrap_interval(times) == ci  # seeded: repeatable
    risky = bootstrap_interval([100.0, None, 110.0, 120.0, 130.0])
    assert risky["high_s"] is None and risky["invalid_resamples"] > 0.025


def _result(bench: str, status: str, ttq: float | None, epochs: int | None, convergent: int | None) -> dict:
    return {
        "benchmark": {"id": bench, "task": "t", "quality_metric": "q"},
        "status": status,
        "seed": 1,
        "hyperparameters": {"target": "q >= 1", "convergent": "q >= 0.9"},
        "metrics": {
            "time_to_quality_s": ttq,
            "epochs_to_quality": epochs,
            "epochs_to_convergent": convergent,
            "unavailable": {},
        },
    }


def test_summary_applies_one_rule_for_reached_and_reports_convergent_epochs():
    results = [
        _result("B", "success", 100.0, 4, 3),
        _result("B", "completed", 90.0, 3, 3),
        _result("B", "completed", None, None, 5),
        _result("B", "success", 130.0, 5, 4),
        _result("B", "timeout", None, None, None),
    ]
    row = summarize(results)["benchmarks"][0]
    assert row["reached_target"] == 3  # a completed session that crossed the target has reached it
    assert row["time_to_quality_s"] is None and row["time_to_quality_rule"].startswith("invalid: 2 of 5")
    assert row["epochs_to_convergent_mean"] == pytest.approx(15 / 4)
    assert row["cv_convention"] == "sample standard deviation (n - 1) / mean"
