import pytest

from aibench.analyses.summary import coefficient_of_variation, olympic_mean


def test_olympic_mean_drops_fastest_and_slowest():
    assert olympic_mean([10.0, 1.0, 4.0, 5.0, 100.0]) == pytest.approx(19 / 3)
    assert olympic_mean([3.0, 5.0]) == 4.0
    assert olympic_mean([]) is None


def test_coefficient_of_variation_is_sample_std_over_mean():
    assert coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.138089935 / 5)
    assert coefficient_of_variation([3]) is None
    assert coefficient_of_variation([5, 5, 5, 5]) == 0.0
