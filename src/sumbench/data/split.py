"""Seeded k-fold splits (stratified by topic), training caps, and fold files on disk."""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from sumbench.data.corpus import Example, load_csv, load_rows, write_csv
from sumbench.errors import DataError, SumbenchError


def _by_topic(examples: Sequence[Example], rng: random.Random) -> list[list[int]]:
    """Indices grouped by topic (groups in sorted topic order, each shuffled); one group if any topic is missing."""
    if any(ex.topic is None for ex in examples):
        groups = [list(range(len(examples)))]
    else:
        by_topic: dict[str, list[int]] = defaultdict(list)
        for i, ex in enumerate(examples):
            by_topic[ex.topic].append(i)
        groups = [by_topic[t] for t in sorted(by_topic)]
    for group in groups:
        rng.shuffle(group)
    return groups


def kfold(examples: Sequence[Example], k: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """``k`` (train indices, held-out indices) pairs; held-out parts are disjoint and cover every index.

    Stratified by topic when every example has one: each topic is shuffled and dealt round-robin, the dealer
    carrying on from topic to topic so fold sizes differ by at most one. ``k == 1`` means "train/dev as given":
    one fold, everything for training, nothing held out.
    """
    if not 1 <= k <= len(examples):
        raise SumbenchError(f"k={k} must be between 1 and the number of training examples ({len(examples)})")
    if k == 1:
        return [(list(range(len(examples))), [])]
    held_out: list[list[int]] = [[] for _ in range(k)]
    dealt = 0
    for group in _by_topic(examples, random.Random(seed)):
        for i in group:
            held_out[dealt % k].append(i)
            dealt += 1
    folds = []
    for part in held_out:
        taken = set(part)
        folds.append(([i for i in range(len(examples)) if i not in taken], sorted(part)))
    return folds


def cap(examples: Sequence[Example], max_train_samples: int | None, seed: int,
        source: str | os.PathLike | None = None) -> list[Example]:
    """A seeded subset of ``max_train_samples`` examples, topics in proportion; None returns all, in order.

    ``source`` (the fold's train.csv) is named in the error when the cap does not fit.
    """
    if max_train_samples is None:
        return list(examples)
    if not 1 <= max_train_samples <= len(examples):
        if source is None:
            raise SumbenchError(
                f"max_train_samples={max_train_samples} must be between 1 and the {len(examples)} examples available"
            )
        raise DataError(f"{source}: max_train_samples={max_train_samples} is more than the {len(examples)} training "
                        f"examples of this fold" if max_train_samples > len(examples) else
                        f"{source}: max_train_samples must be >= 1, got {max_train_samples}")
    rng = random.Random(seed)
    # Spread each topic's shuffled members evenly over [0, 1) and take the first max_train_samples positions.
    spread = sorted(
        ((rank + 0.5) / len(group), rng.random(), i)
        for group in _by_topic(examples, rng)
        for rank, i in enumerate(group)
    )
    chosen = sorted(i for _, _, i in spread[:max_train_samples])
    return [examples[i] for i in chosen]


def write_folds(
    train_csv: str | os.PathLike, dev_csv: str | os.PathLike, *, k: int, seed: int, out_dir: str | os.PathLike
) -> list[Path]:
    """Write ``fold{i}/train.csv``, ``fold{i}/heldout.csv`` (dev rows when k == 1) and ``dev.csv`` under ``out_dir``.

    Everything is validated before the first file is written, so an error leaves ``out_dir`` untouched.
    """
    train = load_csv(train_csv)
    dev_rows = load_rows(dev_csv)
    dev = [ex for _, ex in dev_rows]
    train_names = {ex.fname for ex in train}
    for row, ex in dev_rows:
        if ex.fname in train_names:
            raise DataError(f"{dev_csv}:{row}: fname '{ex.fname}' is also in {train_csv}; dev must never enter training")
    try:
        folds = kfold(train, k, seed)
    except SumbenchError as exc:  # name the file the count comes from
        raise DataError(f"{train_csv}: {exc}") from None
    out = Path(out_dir)
    paths = []
    for i, (train_idx, held_idx) in enumerate(folds):
        held = dev if k == 1 else [train[j] for j in held_idx]
        paths.append(write_csv(out / f"fold{i}" / "train.csv", [train[j] for j in train_idx]))
        paths.append(write_csv(out / f"fold{i}" / "heldout.csv", held))
    paths.append(write_csv(out / "dev.csv", dev))
    return paths
