"""Does setting A lose ROUGE against setting B? A seeded bootstrap interval of the mean ROUGE-Sum difference A − B.

Each resample draws the folds with replacement, then one set of dev example ids with replacement that every drawn
fold shares (the dev set is the same in every fold), and averages A − B over those folds and examples, both
settings' scores of an example always taken together. Drawing folds carries the fold-to-fold variation of
training into the interval and drawing examples the choice of dev set; with one fold it is the plain paired
bootstrap over examples.

Pure functions of the numbers given (per-example ROUGE-Sum, keyed by example id or in one shared order): the
same inputs and seed give the same interval on every machine. The interval is the percentile one (2.5 % and
97.5 % of the resampled means, linearly interpolated, as numpy's default).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence, Union

from sumbench.errors import SumbenchError

RESAMPLES = 2000
SEED = 2024  # fixed, so a report reads the same interval every time it is rebuilt
CONFIDENCE = 0.95

# One setting's per-example scores on the dev set: {example id: ROUGE-Sum}, or a sequence in an order both share.
Scores = Union[Mapping[str, float], Sequence[float]]


@dataclass(frozen=True)
class Interval:
    """``confidence`` interval [low, high] of the mean difference A − B; ``difference`` is the observed one."""

    low: float
    high: float
    difference: float
    examples: int
    folds: int
    resamples: int
    confidence: float
    seed: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def describe(self) -> str:
        """``95 % CI [-0.004, +0.029] over 2 fold(s) × 32 dev examples (bootstrap over folds and paired examples,
        2000 resamples, seed 2024)``: the interval and what it rests on."""
        method = "bootstrap over folds and paired examples" if self.folds > 1 else "paired bootstrap over examples"
        return (f"{self.confidence * 100:g} % CI [{self.low:+.3f}, {self.high:+.3f}] over {self.folds} fold(s) × "
                f"{self.examples} dev examples ({method}, {self.resamples} resamples, seed {self.seed})")


def no_worse_than(interval: Interval) -> bool:
    """A is no worse than B: the interval of A − B includes 0 or lies above it (the data do not show a loss)."""
    return interval.high >= 0.0


def paired_bootstrap(a: Scores, b: Scores, *, resamples: int = RESAMPLES, seed: int = SEED,
                     confidence: float = CONFIDENCE) -> Interval:
    """Interval of mean(A − B) over the same dev examples, resampled together (one fold)."""
    return fold_bootstrap({0: a}, {0: b}, resamples=resamples, seed=seed, confidence=confidence)


def fold_bootstrap(a: Mapping[int, Scores], b: Mapping[int, Scores], *, resamples: int = RESAMPLES,
                   seed: int = SEED, confidence: float = CONFIDENCE) -> Interval:
    """Interval of mean(A − B) over folds and dev examples: ``a[fold]``, ``b[fold]`` are each setting's scores on
    that fold's run, the same folds in both and the same example ids in every fold."""
    if resamples < 1:
        raise SumbenchError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise SumbenchError(f"confidence must be between 0 and 1, got {confidence}")
    diffs = _differences(a, b)
    k, n = len(diffs), len(diffs[0])
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        drawn = rng.choices(range(k), k=k)
        ids = rng.choices(range(n), k=n)
        means.append(sum(drawn.count(f) * sum(map(diffs[f].__getitem__, ids)) for f in set(drawn)) / (k * n))
    means.sort()
    tail = (1.0 - confidence) / 2
    return Interval(low=_quantile(means, tail), high=_quantile(means, 1.0 - tail),
                    difference=sum(sum(d) for d in diffs) / (k * n), examples=n, folds=k, resamples=resamples,
                    confidence=confidence, seed=seed)


def shared_bootstrap(a: Mapping[int, Mapping[str, float]], b: Mapping[int, Mapping[str, float]], *,
                     resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> Interval | None:
    """:func:`fold_bootstrap` on what two settings share: the folds both ran and the example ids scored in every
    one of them (a dev set cut to fewer examples scores fewer); None when they share no fold or no example."""
    folds = sorted(set(a) & set(b))
    if not folds:
        return None
    ids = set.intersection(*(set(side[f]) for side in (a, b) for f in folds))
    if not ids:
        return None
    return fold_bootstrap({f: {i: a[f][i] for i in ids} for f in folds}, {f: {i: b[f][i] for i in ids} for f in folds},
                          resamples=resamples, seed=seed, confidence=confidence)


def _differences(a: Mapping[int, Scores], b: Mapping[int, Scores]) -> list[list[float]]:
    """A − B per fold (folds in sorted order) and per example (ids in sorted order, or the shared order)."""
    if not a:
        raise SumbenchError("no folds to compare")
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[0]
        raise SumbenchError(f"fold {only} is in only one of the two settings; compare the folds both ran")
    folds = sorted(a)
    first = a[folds[0]]
    ids = sorted(first) if isinstance(first, Mapping) else None
    n = len(first)
    if n == 0:
        raise SumbenchError(f"fold {folds[0]}: no examples to compare")
    out = []
    for fold in folds:
        for side, scores in (("A", a[fold]), ("B", b[fold])):
            if isinstance(scores, Mapping) != (ids is not None):
                raise SumbenchError(f"fold {fold}, setting {side}: give every setting's scores the same way, all "
                                    f"keyed by example id or all as sequences")
            if ids is not None and sorted(scores) != ids:
                missing = sorted(set(ids) ^ set(scores))[0]
                raise SumbenchError(f"fold {fold}, setting {side}: example {missing!r} is not scored in every fold "
                                    f"and setting; the comparison needs the same dev examples throughout")
            if ids is None and len(scores) != n:
                raise SumbenchError(f"fold {fold}, setting {side}: {len(scores)} scores, expected {n}")
        sa, sb = a[fold], b[fold]
        out.append([float(sa[i]) - float(sb[i]) for i in (ids if ids is not None else range(n))])
    return out


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, linearly interpolated between neighbours."""
    position = q * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
