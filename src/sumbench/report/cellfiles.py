"""What the report reads beside each ``metrics.json``, as plain data for the pure render functions.

- ``predictions.jsonl``: each dev example's ROUGE-Sum under the cell's primary analyzer, keyed by ``fname``, so
  two settings' scores pair example by example (the bootstrap intervals of the recommendation and ``diff``).
- ``train_log.jsonl``: the pre-clip gradient norm of every optimizer step, and the learning curve, the held-out
  part's eval loss at the steps that evaluated it, against training samples seen and training time (the sum of
  step times; evaluation is already left out of them).

A file a cell did not write (an older record, a failed cell) gives empty data, not an error; a dev example
listed twice is one, since scores pair by fname.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

from sumbench.errors import SumbenchError
from sumbench.io import read_jsonl
from sumbench.records import CellRecord

# (model, augmentation, max_train_samples, batch size, grad accum, fold): one cell of a grid
CellKey = tuple[str, str, int | None, int, int, int]


def cell_key(r: CellRecord) -> CellKey:
    return (r.model, r.augmentation, r.max_train_samples, r.batch_size, r.grad_accum, r.fold)


class EvalPoint(NamedTuple):
    """The held-out eval loss after ``step``, with the training samples and seconds it took to get there."""

    step: int
    samples: float
    seconds: float
    loss: float


@dataclass(frozen=True)
class CellFiles:
    dev_scores: dict[str, float] | None = None  # fname -> ROUGE-Sum, primary analyzer; None = not recorded
    grad_norms: list[tuple[int, float]] = field(default_factory=list)  # (step, pre-clip norm)
    eval_curve: list[EvalPoint] = field(default_factory=list)


def primary_analyzer(r: CellRecord) -> str | None:
    """The analyzer of the record's own ROUGE fields: the one whose metric_version is the record's, else the
    first listed (the cell lists the primary first); None for a record without per-analyzer scores."""
    for name, scores in r.rouge_by_analyzer.items():
        if scores.get("metric_version") == r.metric_version:
            return name
    return next(iter(r.rouge_by_analyzer), None)


def dev_scores(rows: Iterable[dict], analyzer: str | None, path: str | Path = "predictions.jsonl"
               ) -> dict[str, float] | None:
    """``{fname: ROUGE-Sum}`` of the dev rows under ``analyzer``; None when a dev row lacks its fname or that score
    (an older predictions file), or there are no dev rows. A fname twice is an error: pairing needs one score each."""
    scores: dict[str, float] = {}
    for row in rows:
        if row.get("split") != "dev":
            continue
        fname, value = row.get("fname"), (row.get("rouge_sum") or {}).get(analyzer) if analyzer else None
        if fname is None or not isinstance(value, (int, float)):
            return None
        if fname in scores:
            raise SumbenchError(f"{path}: dev example {fname!r} appears twice; scores pair examples by fname")
        scores[fname] = float(value)
    return scores or None


def eval_curve(rows: Iterable[dict]) -> list[EvalPoint]:
    """The rows that carry an eval loss, with the samples and step seconds summed up to them (a row's samples are
    every rank's already)."""
    points, samples, seconds = [], 0, 0.0
    for row in rows:
        samples += row.get("samples") or 0
        seconds += row.get("step_time_s") or 0.0
        if row.get("eval_loss") is not None:
            points.append(EvalPoint(row["step"], samples, seconds, float(row["eval_loss"])))
    return points


def mean_curve(curves: Iterable[list[EvalPoint]]) -> list[EvalPoint]:
    """Several folds' curves as one: at each evaluated step, the mean of the folds that evaluated there."""
    by_step: dict[int, list[EvalPoint]] = defaultdict(list)
    for curve in curves:
        for point in curve:
            by_step[point.step].append(point)
    return [EvalPoint(step, *(statistics.mean(getattr(p, f) for p in points) for f in ("samples", "seconds", "loss")))
            for step, points in sorted(by_step.items())]


def read_dev_scores(metrics_path: str | Path, record: CellRecord) -> dict[str, float] | None:
    """The per-example dev scores of the ``predictions.jsonl`` beside ``metrics_path``; None without one."""
    predictions = Path(metrics_path).with_name("predictions.jsonl")
    return dev_scores(read_jsonl(predictions), primary_analyzer(record), predictions) if predictions.exists() else None


def read_cell_files(metrics_path: str | Path, record: CellRecord) -> CellFiles:
    """The plain data of the files beside ``metrics_path``; those missing give empty data."""
    log = Path(metrics_path).with_name("train_log.jsonl")
    rows = read_jsonl(log) if log.exists() else []
    return CellFiles(dev_scores=read_dev_scores(metrics_path, record),
                     grad_norms=[(row["step"], row["grad_norm"]) for row in rows if row.get("grad_norm") is not None],
                     eval_curve=eval_curve(rows))


def setting_scores(records: Iterable[CellRecord], scores: Mapping[CellKey, Mapping[str, float]]
                   ) -> dict[int, Mapping[str, float]]:
    """``{fold: dev scores}`` of the records that have per-example scores."""
    return {r.fold: scores[cell_key(r)] for r in records if cell_key(r) in scores}
