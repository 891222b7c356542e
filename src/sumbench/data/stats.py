"""Token-length and truncation statistics of a fold's training set.

``data_statistics`` runs once per cell at train time, with that cell's tokenizer, and its result is stored in
the record (``CellRecord.data_stats``), so the report reads these numbers without re-reading any data.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any, Sequence

from sumbench.data.augment import split_fname

QUANTILES = (("min", 0.0), ("p10", 0.10), ("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))


def quantiles(values: Sequence[int]) -> dict[str, float]:
    """Nearest-rank quantiles and the mean of ``values`` (empty -> {})."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {name: float(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1 if q else 0)])
           for name, q in QUANTILES}
    out["mean"] = round(statistics.fmean(ordered), 2)
    return out


def data_statistics(train, tokenizer, source_len: int, target_len: int) -> dict[str, Any]:
    """Token lengths (this model's tokenizer, no special tokens) of the original training examples, their
    share over the configured lengths, topic counts, and how many copies each augmentation added."""
    originals = [e for e in train if split_fname(e.fname)[1] is None]
    added = Counter(split_fname(e.fname)[1] for e in train if split_fname(e.fname)[1] is not None)

    def lengths(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []

    dialogue = lengths([e.dialogue for e in originals])
    summary = lengths([e.summary or "" for e in originals])
    return {
        "examples": len(originals),
        "augmented": dict(sorted(added.items())),
        "source_len": source_len,
        "target_len": target_len,
        "dialogue_tokens": quantiles(dialogue),
        "summary_tokens": quantiles(summary),
        "dialogue_over_source_len": sum(n > source_len for n in dialogue) / len(dialogue) if dialogue else None,
        "summary_over_target_len": sum(n > target_len for n in summary) / len(summary) if summary else None,
        "topics": dict(Counter(e.topic or "(none)" for e in originals).most_common()),
    }
