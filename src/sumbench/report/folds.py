"""The records of one setting over its folds: how the report groups cells and reduces them.

A setting is (model, augmentation, cap, batch size, grad accum); its folds train the same configuration on
different splits, so their spread is the noise any difference between settings has to beat.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from sumbench.records import CellRecord, split_label


@dataclass(frozen=True)
class SettingFolds:
    """One (model, augmentation, cap, batch size, grad accum) setting: its folds' records, in fold order."""

    model: str
    augmentation: str
    cap: int | None
    batch_size: int
    grad_accum: int
    records: tuple[CellRecord, ...]

    @property
    def label(self) -> str:
        extra = ("" if self.augmentation == "none" else f", aug {self.augmentation}") + \
            ("" if self.cap is None else f", cap {self.cap}")
        return f"{split_label(self.batch_size, self.grad_accum)}{extra}"

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum

    @property
    def ok(self) -> list[CellRecord]:
        return [r for r in self.records if r.status == "ok"]

    def values(self, field: str) -> list[float]:
        return [getattr(r, field) for r in self.ok if getattr(r, field) is not None]

    def by_fold(self, field: str) -> dict[int, float]:
        """``{fold: value}`` of the finished folds that have the value (for differences paired by fold)."""
        return {r.fold: getattr(r, field) for r in self.ok if getattr(r, field) is not None}

    def mean(self, field: str) -> float | None:
        vals = self.values(field)
        return statistics.mean(vals) if vals else None

    def std(self, field: str) -> float:
        vals = self.values(field)
        return statistics.stdev(vals) if len(vals) > 1 else 0.0

    def median(self, field: str) -> float | None:
        vals = self.values(field)
        return statistics.median(vals) if vals else None

    def peak_memory(self) -> int | None:
        vals = self.values("peak_memory_bytes")
        return max(vals) if vals else None

    def memory_fraction(self) -> float | None:
        """The largest :meth:`~sumbench.records.Measured.memory_fraction` of the finished folds: memory used over
        what the device that trained them holds (never the report machine's)."""
        fractions = [f for f in (r.memory_fraction() for r in self.ok) if f is not None]
        return max(fractions) if fractions else None

    def mean_original_examples(self) -> float | None:
        """Mean original training examples (after the cap, before augmentation) of the finished folds."""
        n = [original_examples(r) for r in self.ok if original_examples(r) is not None]
        return statistics.mean(n) if n else None


def original_examples(r: CellRecord) -> int | None:
    """Original training examples of a cell: from its data statistics, else the record's counts."""
    stats = r.data_stats or {}
    if stats.get("examples") is not None:
        return stats["examples"]
    return r.original_train_examples if r.original_train_examples is not None else r.train_examples


def cap_order(cap: int | None) -> float:
    """Sort key for caps: ascending, no cap (``all``) last."""
    return math.inf if cap is None else cap


def group_by_setting(records: Iterable[CellRecord]) -> list[SettingFolds]:
    """One SettingFolds per setting, sorted by model, augmentation, cap (no cap first), bs, ga."""
    groups: dict[tuple, list[CellRecord]] = defaultdict(list)
    for r in records:
        groups[(r.model, r.augmentation, r.max_train_samples, r.batch_size, r.grad_accum)].append(r)
    return [SettingFolds(*key, records=tuple(sorted(rs, key=lambda r: r.fold)))
            for key, rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0, *kv[0][3:]))]
