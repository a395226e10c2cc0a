"""How sure is a comparison? Intervals for accuracies and their differences.

One protocol for every chapter. Two encoders probed on the same test images make *paired*
predictions, so the noise of a difference is the noise of the images on which they disagree,
far less than the two accuracies' own standard errors suggest. :func:`paired_difference`
resamples test images (the same resample for both encoders) and, when each arm was trained
with several seeds, the seeds of each arm too, so one interval covers both the test set's and
the training's variation (a two-level bootstrap). The rule the book follows:

* an ordering "A beats B" is asserted only where the interval of ``acc(A) - acc(B)`` lies
  above zero (:meth:`Interval.above_zero`);
* otherwise the text says "within noise" and asserts that the interval contains zero
  (:meth:`Interval.contains_zero`).

Accuracies are fractions in [0, 1]; a difference of 0.01 is one percentage point. Explained in
chapter 1, *Self-supervision and pretext tasks*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate and a two-sided confidence interval ``[low, high]`` at ``level``."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    def above_zero(self) -> bool:
        """The whole interval is > 0: the first arm is better beyond the noise."""
        return self.low > 0

    def below_zero(self) -> bool:
        """The whole interval is < 0: the second arm is better beyond the noise."""
        return self.high < 0

    def contains_zero(self) -> bool:
        """Zero is inside: the two arms are within noise of each other."""
        return self.low <= 0 <= self.high

    def verdict(self, above: str = "ahead", below: str = "behind", within: str = "within noise"):
        """The words prose may use for this difference: what the interval allows, nothing more.

        ``above`` when the whole interval is > 0, ``below`` when it is < 0, else ``within``;
        chapters glue the result, so the sentence follows the run.
        """
        if self.above_zero():
            return above
        return below if self.below_zero() else within

    @property
    def half_width(self) -> float:
        """The half-width of the interval, which a table shows after "±"."""
        return (self.high - self.low) / 2

    def __format__(self, spec: str) -> str:
        """``f"{iv:.1%}"`` gives ``"2.3% [1.1%, 3.6%]"``: each number in the format spec."""
        spec = spec or ".4f"
        return f"{self.estimate:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self, "")


def _correct(x) -> np.ndarray:
    """Per-example correctness as a float array of shape ``(seeds, examples)``."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(
            "correctness must be (examples,) or (seeds, examples) of 0/1 values, "
            f"got shape {a.shape}; compare predictions with labels first: preds == labels"
        )
    return a


def _bootstrap(
    arms: list[np.ndarray], resamples: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of each arm's mean accuracy, with shared example resamples.

    Returns ``(replicates, estimates)``: ``replicates[r, a]`` is arm ``a``'s accuracy on
    resample ``r``, ``estimates[a]`` its accuracy on the data as observed.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    m = arms[0].shape[1]
    if any(a.shape[1] != m for a in arms):
        raise ValueError(
            "paired arms must be scored on the same test examples, got "
            f"{[a.shape[1] for a in arms]} examples"
        )
    rng = np.random.default_rng(seed)
    examples = rng.integers(0, m, size=(resamples, m))  # one resample of images for all arms
    replicates = np.empty((resamples, len(arms)))
    for j, a in enumerate(arms):
        if a.shape[0] == 1:
            replicates[:, j] = a[0][examples].mean(axis=1)
            continue
        for r in range(resamples):  # a second level: the arm's seeds, drawn with replacement
            seeds = rng.integers(0, a.shape[0], size=a.shape[0])
            replicates[r, j] = a[seeds][:, examples[r]].mean()
    return replicates, np.array([a.mean() for a in arms])


def _percentile(estimate: float, replicates: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), level)


def accuracy(correct, *, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """The accuracy of one arm with a bootstrap interval over test examples (and seeds).

    Args:
        correct: ``(M,)`` or ``(S, M)``: 1 where the prediction for test example ``m`` (of
            the model trained with seed ``s``) is right, else 0.
        resamples: bootstrap replicates.
        level: coverage of the interval.
        seed: the bootstrap's own seed (the same seed gives the same interval).
    """
    replicates, estimates = _bootstrap([_correct(correct)], resamples, level, seed)
    return _percentile(estimates[0], replicates[:, 0], level)


def paired_difference(
    correct_a, correct_b, *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """``acc(A) - acc(B)`` on the same test examples, with a paired bootstrap interval.

    Each replicate draws the test examples with replacement, the *same* draw for both arms,
    so what both get right or both get wrong cancels. An arm given as ``(S, M)`` (``S``
    training seeds) also has its seeds drawn with replacement, independently of the other
    arm's, so the interval includes training variation as well; with one seed it covers the
    test set's noise only, and a claim about training (an ablation) needs seeds.

    Args:
        correct_a: ``(M,)`` or ``(S_a, M)`` correctness of arm A.
        correct_b: ``(M,)`` or ``(S_b, M)`` correctness of arm B, same examples in the same
            order.
        resamples: bootstrap replicates.
        level: coverage of the interval.
        seed: the bootstrap's own seed.

    Returns:
        The difference in accuracy (a fraction: 0.01 is one point) and its interval.
    """
    replicates, estimates = _bootstrap(
        [_correct(correct_a), _correct(correct_b)], resamples, level, seed
    )
    return _percentile(estimates[0] - estimates[1], replicates[:, 0] - replicates[:, 1], level)


def group_difference(
    values_a, values_b, *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """``mean(A) - mean(B)`` for two *independent* groups, with a bootstrap interval.

    For per-example values of different test examples (the digits of some classes against
    those of others), where :func:`paired_difference` does not apply: each replicate draws
    each group with replacement, on its own.

    Args:
        values_a: ``(N_a,)`` values of group A (0/1 correctness, say).
        values_b: ``(N_b,)`` values of group B.
        resamples: bootstrap replicates.
        level: coverage of the interval.
        seed: the bootstrap's own seed.
    """
    a, b = np.asarray(values_a, dtype=np.float64), np.asarray(values_b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
        raise ValueError(f"groups must be non-empty 1-d arrays, got shapes {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    replicates = np.array(
        [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(resamples)]
    )
    return _percentile(a.mean() - b.mean(), replicates, level)


def mean_interval(values, *, level: float = 0.95) -> Interval:
    """Mean of repeated measurements (seeds, draws) with a Student-t interval.

    For numbers that are not per-example correctness (a loss, an estimate in nats, an
    accuracy already averaged). Needs at least two values.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    if len(v) < 2:
        raise ValueError(f"an interval needs at least 2 repeats, got {len(v)}")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return Interval(float(v.mean()), float(v.mean() - half), float(v.mean() + half), level)


def rank_correlation(
    x, y, *, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Spearman's rank correlation of paired values, with a bootstrap interval over the pairs.

    For questions such as "do runs with a larger information estimate probe better?", where
    each pair is one trained model. Each replicate draws the pairs with replacement;
    replicates in which one variable is constant (its ranks undefined) are dropped. With a
    handful of pairs the interval is wide: an estimate near zero is "no evidence either way",
    not evidence of independence.

    Args:
        x: ``(N,)`` first value of each pair (an estimate in nats, say).
        y: ``(N,)`` second value of each pair (an accuracy), ``N >= 3``.
        resamples: bootstrap replicates.
        level: coverage of the interval.
        seed: the bootstrap's own seed.
    """
    from scipy import stats

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 3:
        raise ValueError(
            "x and y must be 1-d, of one length, at least 3 pairs; "
            f"got shapes {a.shape} and {b.shape}"
        )
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("x or y is constant: a rank correlation is undefined")
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(resamples):
        pick = rng.integers(0, len(a), size=len(a))
        if np.ptp(a[pick]) > 0 and np.ptp(b[pick]) > 0:
            replicates.append(stats.spearmanr(a[pick], b[pick]).statistic)
    return _percentile(stats.spearmanr(a, b).statistic, np.array(replicates), level)
