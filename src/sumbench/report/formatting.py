"""How the report writes a value: one spelling for a missing value, mean ± std over folds, a table cell and a
CSV file."""

from __future__ import annotations

import csv
import io
import statistics
from typing import Any, Iterable, Sequence

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


def cell_text(text: str) -> str:
    """Free text (an error message, a reason) made safe for one Markdown table cell: one line, ``|`` escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """A CSV of ``columns`` (keys a row lacks are empty, keys not in ``columns`` are left out)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def loss_path_lines(runs: Iterable[tuple[str, str | None, str | None]], what: str) -> list[str]:
    """Which loss path (``summary`` or ``full`` logits) the runs took and why: one sentence when all took the same,
    else one line per path naming its runs. ``runs``: (label, loss_path, loss_path_reason); runs without a path
    (failed before training, older records) are left out."""
    paths: dict[tuple[str, str], list[str]] = {}
    for label, path, reason in runs:
        if path and label not in paths.setdefault((path, reason or ""), []):
            paths[(path, reason or "")].append(label)
    if not paths:
        return []
    if len(paths) == 1:
        (path, reason), _ = next(iter(paths.items()))
        return [f"Loss from **{path} logits** in every {what}" + (f": {reason}." if reason else "."), ""]
    return [f"Loss paths **differ** between {what}s:", ""] + [
        f"- **{path} logits**" + (f" ({reason})" if reason else "") + f": {', '.join(labels)}"
        for (path, reason), labels in paths.items()] + [""]
