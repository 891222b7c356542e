"""The examples a cell trains on: one fold's training part, capped (original examples first), then augmented.

One function makes that set, :func:`capped_and_augmented`, and both ways to train go through it:

- the workflow's ``augment`` rule runs ``sumbench data augment`` once per (grid, augmentation, cap, fold), seeded
  by the grid, which writes ``train.csv`` and ``augment.json`` (:func:`prepare_train_set`); every train job of
  that setting reads the file back through ``sumbench train --train-csv``, checked against the fold
  (:func:`load_train_set`, so held-out or dev rows can never slip in);
- ``sumbench train`` without ``--train-csv`` makes the same set in memory (:func:`cell_train_set`).

Given the same fold, augmentation, cap, seed and settings, both give the same examples in the same order.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from sumbench.config.augment import AugmentSettings
from sumbench.data.augment import (augment_examples, augmentation_label, parse_augmentation,
                                   split_fname)
from sumbench.data.corpus import Example, load_csv, load_rows, write_csv
from sumbench.data.split import cap
from sumbench.errors import DataError
from sumbench.io import atomic_write_json


def _load_fold_train(data_dir: str | os.PathLike, fold: int) -> tuple[Path, list[Example]]:
    """``<data_dir>/fold<K>/train.csv`` (written by ``sumbench data split``) and its examples."""
    path = Path(data_dir) / f"fold{fold}" / "train.csv"
    if not path.exists():
        raise DataError(f"{path}: missing train file for fold {fold} (make it with `sumbench data split`)")
    return path, load_csv(path)


def capped_and_augmented(fold_train: Sequence[Example], fold_csv: Path, methods: Sequence[str], *,
                         max_train_samples: int | None, seed: int,
                         settings: AugmentSettings) -> tuple[list[Example], int, dict[str, int]]:
    """``(examples, originals kept by the cap, copies added per method)``: the cap picks ``max_train_samples``
    originals (seeded, topics in proportion), then each method adds its copies after them."""
    originals = cap(fold_train, max_train_samples, seed, fold_csv)
    examples, added = augment_examples(originals, methods, settings, seed)
    return examples, len(originals), added


def cell_train_set(data_dir: Path, fold: int, augmentation: str, *, max_train_samples: int | None, seed: int,
                   settings: AugmentSettings | None = None, train_csv: Path | None = None) -> list[Example]:
    """The examples a cell trains on. With ``train_csv`` (the workflow's ``augment`` rule output): that file,
    checked against the fold. Without: the fold's training part capped (originals first) and augmented here, in
    memory, by exactly the function the augment rule uses — same examples, same order."""
    methods = parse_augmentation(augmentation)
    fold_csv, fold_train = _load_fold_train(data_dir, fold)
    if train_csv is not None:
        return load_train_set(train_csv, fold_train, fold_csv, methods, max_train_samples)
    examples, _, _ = capped_and_augmented(fold_train, fold_csv, methods, max_train_samples=max_train_samples,
                                          seed=seed, settings=settings or AugmentSettings())
    return examples


def prepare_train_set(data_dir: str | os.PathLike, fold: int, augmentation: str, *, max_train_samples: int | None,
                      seed: int, settings: AugmentSettings | None = None,
                      out_dir: str | os.PathLike) -> list[Path]:
    """Cap then augment the training part of ``fold``: ``out_dir/train.csv`` and ``out_dir/augment.json``.

    Everything is checked (augmentation, fold file, cap, settings) before the first file is written.
    """
    settings = settings or AugmentSettings()
    methods = parse_augmentation(augmentation)
    fold_csv, fold_train = _load_fold_train(data_dir, fold)
    started = time.perf_counter()
    examples, originals, added = capped_and_augmented(fold_train, fold_csv, methods,
                                                      max_train_samples=max_train_samples, seed=seed,
                                                      settings=settings)
    info = {"augmentation": augmentation, "fold": fold, "max_train_samples": max_train_samples, "seed": seed,
            "source": str(fold_csv), "available": len(fold_train), "originals": originals, "added": added,
            "examples": len(examples), "seconds": round(time.perf_counter() - started, 3),
            "settings": settings.to_dict()}
    out = Path(out_dir)
    return [write_csv(out / "train.csv", examples), atomic_write_json(out / "augment.json", info)]


def load_train_set(path: str | os.PathLike, fold_train: Sequence[Example], fold_csv: Path, methods: Sequence[str],
                   max_train_samples: int | None) -> list[Example]:
    """A training set written by :func:`prepare_train_set`, checked against the fold it claims to come from:
    every example (original or copy) stems from ``fold_csv``, the originals number the cap (or the whole fold),
    and every copy was made by one of ``methods``. Held-out or dev rows can therefore never slip in."""
    if not Path(path).exists():
        raise DataError(f"{path}: missing training set (make it with `sumbench data augment`)")
    known = {e.fname for e in fold_train}
    rows = load_rows(path)
    originals = 0
    for row, ex in rows:
        base, method = split_fname(ex.fname)
        if base not in known:
            raise DataError(f"{path}:{row}: fname {base!r} is not in {fold_csv}; only the fold's training part "
                            f"may be trained on")
        if method is None:
            originals += 1
        elif method not in methods:
            raise DataError(f"{path}:{row}: a {method!r} copy, but the cell's augmentation is "
                            f"{augmentation_label(methods)!r}")
    expected = max_train_samples or len(fold_train)
    if originals != expected:
        raise DataError(f"{path}: {originals} original examples, expected {expected} "
                        f"(max_train_samples={max_train_samples}, {len(fold_train)} in {fold_csv})")
    return [ex for _, ex in rows]
