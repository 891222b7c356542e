"""How the report writes a number: one spelling for a missing value and for mean ± std over folds."""

from __future__ import annotations

import statistics
from typing import Sequence

MISSING = "–"  # a value the records do not have (a failed cell, a metric not measured)


def number(value: float | None, spec: str) -> str:
    """``value`` in the format ``spec``, or MISSING."""
    return MISSING if value is None else format(value, spec)


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± std`` (sample std) of ``values``; a single value alone; none -> MISSING."""
    if not values:
        return MISSING
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"

