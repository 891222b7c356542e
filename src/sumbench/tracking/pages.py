"""HTML tables for Snakemake's report: what the report shows inline (it only offers a CSV or a markdown file as a
download).

    sumbench pages --summary-csv results/quick_test/summary.csv --speed-csv results/quick_test/speed.csv \\
        --quality results/quick_test/quality/*/job*.json --out results/quick_test/pages

- ``cells.html``: the per-cell records, one row per quality cell (``summary.csv``, every column);
- ``speed.html``: every profiled bs x ga split (``speed.csv``);
- ``data.html``: the data statistics of each cell's training set (token lengths, lengths over the configured
  maximum, truncation rates, copies per augmentation method; from its ``metrics.json``) and the topic counts
  of each training set.

Each page stands alone (inline CSS, no scripts, no links): the report embeds it as a data URI.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from sumbench.io import atomic_write_text
from sumbench.records import cap_label, read_record
from sumbench.records.plan import read_quality_job

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
"""
MISSING = "—"
IDENTITY = ("model", "augmentation", "max_train_samples", "batch_size", "grad_accum", "fold")


def page(title: str, intro: str, tables: Sequence[tuple[str, str]]) -> str:
    """A standalone HTML page: a title, one paragraph, then (heading, table HTML) pairs."""
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{t}\n" for h, t in tables)
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(intro)}</p>\n"
            f"{body}</body></html>\n")


def _table(frame) -> str:
    if frame.empty:
        return "<p><em>No rows.</em></p>"
    return frame.to_html(index=False, na_rep=MISSING, float_format=lambda x: f"{x:.4g}", border=0)


def _csv(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _flat(stats: dict, prefix: str = "") -> dict:
    """``{"dialogue_tokens": {"p50": 41.0}}`` -> ``{"dialogue_tokens.p50": 41.0}``; an empty mapping leaves no column."""
    out = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def data_statistics(cell_paths: Sequence[Path]):
    """(per-cell statistics, topic counts per training set) as two DataFrames."""
    import pandas as pd

    rows, topics = [], {}
    for path in cell_paths:
        r = read_record(path)
        stats = dict(r.data_stats or {})
        counts = stats.pop("topics", None) or {}
        row = {k: getattr(r, k) for k in IDENTITY}
        row["max_train_samples"] = cap_label(r.max_train_samples)
        row.update(status=r.status, train_examples=r.train_examples, original_train_examples=r.original_train_examples,
                   augmented_examples=r.augmented_examples, source_truncation_rate=r.source_truncation_rate,
                   target_truncation_rate=r.target_truncation_rate)
        rows.append({**row, **_flat(stats)})
        if counts:  # the same training set for every model and split: one column per (augmentation, cap, fold)
            topics[f"{r.augmentation} / cap {cap_label(r.max_train_samples)} / fold {r.fold}"] = counts
    cells = pd.DataFrame(rows)
    if not cells.empty:
        cells = cells.sort_values(list(IDENTITY), key=lambda col: col.astype(str), kind="stable")
    topic_frame = pd.DataFrame(topics).sort_index(axis=1).rename_axis("topic").reset_index() if topics else pd.DataFrame()
    return cells, topic_frame


def write_pages(summary_csv: Path, speed_csv: Path, quality: Sequence[Path], out: Path) -> list[Path]:
    """Write cells.html, speed.html and data.html under ``out``."""
    cell_paths = [Path(c) for q in quality for c in read_quality_job(q).cells]
    stats, topics = data_statistics(cell_paths)
    pages = {
        "cells.html": page("Per-cell records", "One row per quality cell (summary.csv): its split, status, speed, "
                           "memory, gradient norms, ROUGE and times. The full record of a cell is the metrics.json in "
                           "its folder, results/<grid>/runs/<model>/aug-<a>_cap-<c>/bs<B>_ga<G>/fold<K>/.",
                           [("Cells", _table(_csv(summary_csv)))]),
        "speed.html": page("Profiled splits", "Every bs x ga split of the profile phase (speed.csv): the same short "
                           "timed budget per split, warm-up left out.", [("Splits", _table(_csv(speed_csv)))]),
        "data.html": page("Data statistics", "Each cell's training set: original and augmented examples, token "
                          "lengths with the model's tokenizer (p10 / p50 / p90 / max), the share over the configured "
                          "length and the share truncated; then the topic counts of each training set.",
                          [("Per cell", _table(stats)), ("Topics", _table(topics))]),
    }
    return [atomic_write_text(out / name, text) for name, text in pages.items()]
