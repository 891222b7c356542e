"""Bootstrap intervals of the ROUGE-Sum difference between two settings (sumbench.report.intervals)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sumbench.errors import SumbenchError
from sumbench.report.intervals import (CONFIDENCE, RESAMPLES, Interval, _quantile, fold_bootstrap, no_worse_than,
                                       paired_bootstrap)


def dev_scores(n: int = 60, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {f"dev_{i}": rng.uniform(0.3, 2.4) for i in range(n)}


def test_better_on_every_example_excludes_zero():
    b = dev_scores()
    a = {i: v + 0.01 + 0.2 * random.Random(i).random() for i, v in b.items()}
    interval = paired_bootstrap(a, b)
    assert 0.0 < interval.low <= interval.difference <= interval.high
    assert no_worse_than(interval)
    flipped = paired_bootstrap(b, a)  # B − A: clearly worse, the interval lies below 0
    assert flipped.high < 0.0 and not no_worse_than(flipped)
    assert (flipped.low, flipped.high) == pytest.approx((-interval.high, -interval.low), abs=1e-12)


def test_identical_predictions_give_exactly_zero():
    a = dev_scores()
    interval = paired_bootstrap(a, dict(a))
    assert (interval.low, interval.high, interval.difference) == (0.0, 0.0, 0.0)
    assert no_worse_than(interval)
    folds = fold_bootstrap({0: a, 1: dev_scores(seed=1)}, {0: dict(a), 1: dev_scores(seed=1)})
    assert (folds.low, folds.high) == (0.0, 0.0)


def test_defaults_seeded_and_pure():
    a, b = dev_scores(seed=2), dev_scores(seed=3)
    first = paired_bootstrap(a, b)
    assert first == paired_bootstrap(dict(reversed(a.items())), b)  # ids, not their order, pair the examples
    assert first.resamples == RESAMPLES == 2000 and first.confidence == CONFIDENCE == 0.95 and first.folds == 1
    assert first.examples == 60 and first.difference == pytest.approx(sum(a.values()) / 60 - sum(b.values()) / 60)
    other = paired_bootstrap(a, b, seed=first.seed + 1)
    assert other != first and other.low == pytest.approx(first.low, abs=0.1)
    ids = sorted(a)
    assert paired_bootstrap([a[i] for i in ids], [b[i] for i in ids]) == first  # sequences in one shared order


def test_paired_cancels_example_difficulty():
    """Hard and easy examples move both settings: pairing sees the small steady gain an unpaired view would miss."""
    b = dev_scores(200)
    a = {i: v + 0.02 for i, v in b.items()}
    interval = paired_bootstrap(a, b)
    assert interval.low == pytest.approx(0.02) and interval.high == pytest.approx(0.02)


def test_folds_add_their_spread():
    """Folds that disagree widen the interval beyond what any one fold's examples give."""
    b = {f: dev_scores(seed=10 + f) for f in range(4)}
    rng = random.Random(5)
    shift = {0: 0.15, 1: -0.05, 2: 0.10, 3: 0.0}
    a = {f: {i: v + shift[f] + rng.gauss(0, 0.05) for i, v in b[f].items()} for f in b}
    combined = fold_bootstrap(a, b)
    singles = [paired_bootstrap(a[f], b[f]) for f in b]
    assert combined.folds == 4 and combined.examples == 60
    assert combined.high - combined.low > max(s.high - s.low for s in singles)
    assert combined.difference == pytest.approx(sum(s.difference for s in singles) / 4)
    assert combined.low < 0.05 < combined.high
    assert fold_bootstrap({3: a[3]}, {3: b[3]}) == paired_bootstrap(a[3], b[3])  # one fold: the paired bootstrap


def test_no_worse_than():
    def iv(low, high):
        return Interval(low, high, (low + high) / 2, 10, 1, 2000, 0.95, 0)

    assert no_worse_than(iv(-0.1, 0.2)) and no_worse_than(iv(0.01, 0.2)) and no_worse_than(iv(-0.1, 0.0))
    assert not no_worse_than(iv(-0.3, -0.01))


def test_quantile_is_numpys_linear():
    values = sorted(random.Random(7).uniform(-1, 1) for _ in range(101))
    for q in (0.0, 0.025, 0.5, 0.975, 1.0):
        assert _quantile(values, q) == pytest.approx(float(np.quantile(values, q)), abs=1e-15)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ({0: {"x": 1.0}}, {1: {"x": 1.0}}, {}, "fold 0 is in only one of the two settings"),
        ({0: {"x": 1.0}}, {0: {"y": 1.0}}, {}, "fold 0, setting B: example 'x' is not scored"),
        ({0: {"x": 1.0}, 1: {"y": 1.0}}, {0: {"x": 1.0}, 1: {"y": 1.0}}, {}, "fold 1, setting A: example"),
        ({0: [1.0, 2.0]}, {0: [1.0]}, {}, "fold 0, setting B: 1 scores, expected 2"),
        ({0: [1.0]}, {0: {"x": 1.0}}, {}, "the same way"),
        ({}, {}, {}, "no folds"),
        ({0: []}, {0: []}, {}, "no examples"),
        ({0: [1.0]}, {0: [1.0]}, {"resamples": 0}, "resamples must be >= 1"),
        ({0: [1.0]}, {0: [1.0]}, {"confidence": 95}, "confidence must be between 0 and 1"),
    ],
)
def test_bad_inputs_are_one_line_errors(a, b, kwargs, message):
    with pytest.raises(SumbenchError, match=message) as info:
        fold_bootstrap(a, b, **kwargs)
    assert "\n" not in str(info.value)
