"""sslib.stats: paired bootstrap intervals against closed forms and brute force."""

import numpy as np
import pytest

from sslib import stats


def test_accuracy_interval_matches_the_binomial_standard_error():
    rng = np.random.default_rng(0)
    correct = (rng.random(4000) < 0.9) * 1.0
    iv = stats.accuracy(correct, resamples=4000)
    se = np.sqrt(iv.estimate * (1 - iv.estimate) / len(correct))
    assert iv.estimate == pytest.approx(correct.mean())
    assert iv.half_width == pytest.approx(1.96 * se, rel=0.1)


def test_paired_difference_is_narrower_than_unpaired_when_arms_agree():
    rng = np.random.default_rng(1)
    a = (rng.random(1000) < 0.9) * 1.0
    b = a.copy()
    flip = rng.choice(1000, 30, replace=False)
    b[flip] = 1 - b[flip]  # B disagrees with A on 30 examples only
    iv = stats.paired_difference(a, b)
    assert iv.estimate == pytest.approx(a.mean() - b.mean())
    unpaired = 1.96 * np.sqrt(2 * 0.9 * 0.1 / 1000)
    assert iv.half_width < unpaired / 2
    assert stats.paired_difference(a, a).half_width == 0


def test_ordering_rules():
    a, b = np.ones(500), np.r_[np.ones(400), np.zeros(100)]
    better = stats.paired_difference(a, b)
    assert better.above_zero() and not better.contains_zero()
    assert stats.paired_difference(b, a).below_zero()
    rng = np.random.default_rng(2)
    x, y = (rng.random(500) < 0.8) * 1.0, (rng.random(500) < 0.8) * 1.0
    assert stats.paired_difference(x, x[::-1]).contains_zero()
    assert format(better, ".1%").startswith("20.0% [")
    assert stats.paired_difference(x, y, seed=3) == stats.paired_difference(x, y, seed=3)


def test_seed_level_adds_training_variation():
    rng = np.random.default_rng(4)
    base = (rng.random(1000) < 0.9) * 1.0
    # Two seeds of each arm that differ from one another by a whole block of examples.
    a = np.stack([base, np.r_[np.zeros(60), base[60:]]])
    b = np.stack([base, base])
    one_seed = stats.paired_difference(a[:1], b[:1])
    two_seeds = stats.paired_difference(a, b)
    assert one_seed.half_width == 0  # identical predictions: no test-set noise at all
    assert two_seeds.half_width > 0.01  # the seeds disagree by 6 points: the interval sees it
    assert two_seeds.estimate == pytest.approx(a.mean() - b.mean())


def test_mean_interval_is_student_t():
    iv = stats.mean_interval([1.0, 2.0, 3.0])
    assert iv.estimate == 2.0
    assert iv.half_width == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        stats.mean_interval([1.0])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same test examples"):
        stats.paired_difference(np.ones(10), np.ones(11))
    with pytest.raises(ValueError, match="preds == labels"):
        stats.accuracy(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="level"):
        stats.accuracy(np.ones(5), level=95)


def test_group_difference_matches_the_unpaired_standard_error():
    rng = np.random.default_rng(5)
    a, b = (rng.random(3000) < 0.9) * 1.0, (rng.random(2000) < 0.8) * 1.0
    iv = stats.group_difference(a, b, resamples=4000)
    se = np.sqrt(a.var() / len(a) + b.var() / len(b))
    assert iv.estimate == pytest.approx(a.mean() - b.mean())
    assert iv.half_width == pytest.approx(1.96 * se, rel=0.1) and iv.above_zero()
    with pytest.raises(ValueError, match="non-empty"):
        stats.group_difference(np.ones(3), np.ones(0))


def test_verdict_words_follow_the_interval():
    assert stats.Interval(0.02, 0.01, 0.03).verdict() == "ahead"
    assert stats.Interval(-0.02, -0.03, -0.01).verdict("wins", "loses") == "loses"
    assert stats.Interval(0.01, -0.01, 0.03).verdict(within="a tie") == "a tie"
    assert stats.Interval(0.01, 0.0, 0.03).verdict() == "within noise"  # zero on the edge


def test_rank_correlation_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    strong = stats.rank_correlation(x, x + 0.1 * rng.normal(size=40))
    assert strong.estimate > 0.9 and strong.above_zero()  # a monotone relation is found
    none = stats.rank_correlation(x, rng.normal(size=40))
    assert none.contains_zero()  # independent values: no evidence of a relation
    few = stats.rank_correlation(x[:6], x[:6] + rng.normal(size=6))
    assert few.high - few.low > strong.high - strong.low  # fewer pairs, a wider interval
    assert stats.rank_correlation(x, -x).estimate == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="at least 3"):
        stats.rank_correlation([1, 2], [1, 2])
    with pytest.raises(ValueError, match="constant"):
        stats.rank_correlation([1, 2, 3], [0, 0, 0])
