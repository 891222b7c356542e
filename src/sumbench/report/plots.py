"""The report's plots (PNG, matplotlib's Agg backend): each function takes split speeds, settings or records and
writes one file atomically. Throughput and memory come from the profile's splits; quality from the cells."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from sumbench.records import BYTES_PER_MIB, CellRecord, split_label
from sumbench.report.cellfiles import EvalPoint
from sumbench.report.folds import SettingFolds
from sumbench.report.sections import METRIC, learning_curves
from sumbench.report.speed import SplitSpeed

DPI = 110


def _figure(ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.2)):
    """pyplot, a figure, and its ``ncols`` gridded axes (one axis alone, not a tuple, when ncols is 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=figsize)
    for ax in (axes,) if ncols == 1 else axes:
        ax.grid(True, alpha=0.3)
    return plt, fig, axes


def _save(plt, fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    tmp.replace(path)
    return path


def throughput_vs_effective_batch(speeds: Sequence[SplitSpeed], path: Path) -> Path:
    """samples/s against effective batch, one line per model (the fastest bs x ga split at each point; every
    split a faint dot)."""
    plt, fig, ax = _figure()
    by_model: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in speeds:
        if s.samples_per_s:
            by_model[s.model][s.effective_batch].append(s.samples_per_s)
    for model, points in sorted(by_model.items()):
        xs = sorted(points)
        line, = ax.plot(xs, [max(points[x]) for x in xs], marker="o", label=model)
        for x in xs:
            ax.scatter([x] * len(points[x]), points[x], color=line.get_color(), alpha=0.35, s=14)
    ax.set(xlabel="effective batch (batch size x grad accum)", ylabel="samples/s", title="Throughput vs effective batch")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def memory_vs_batch(speeds: Sequence[SplitSpeed], path: Path) -> Path:
    """Peak memory against micro-batch size, one line per model (its smallest grad accum)."""
    plt, fig, ax = _figure()
    by_model: dict[str, list[SplitSpeed]] = defaultdict(list)
    for s in speeds:
        if s.peak_memory_bytes:
            by_model[s.model].append(s)
    for model, ss in sorted(by_model.items()):
        ga = min(s.grad_accum for s in ss)
        line = sorted((s for s in ss if s.grad_accum == ga), key=lambda s: s.batch_size)
        ax.plot([s.batch_size for s in line], [s.peak_memory_bytes / BYTES_PER_MIB for s in line], marker="o",
                label=f"{model} (ga{ga})")
    ax.set(xlabel="batch size (per device)", ylabel="peak memory (MiB)", title="Peak memory vs batch size")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not beaten on both axes (higher x and higher y are better)."""
    return [i for i, (x, y) in enumerate(points)
            if not any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in points)]


def rouge_vs_throughput(all_settings: Sequence[SettingFolds], path: Path) -> Path:
    """ROUGE-Sum against samples/s for every setting; the Pareto front is marked."""
    plt, fig, ax = _figure()
    scored = [s for s in all_settings if s.mean("rouge_sum") is not None and s.median("samples_per_s")]
    points = [(s.median("samples_per_s"), s.mean("rouge_sum")) for s in scored]
    for model in sorted({s.model for s in scored}):
        idx = [i for i, s in enumerate(scored) if s.model == model]
        ax.scatter([points[i][0] for i in idx], [points[i][1] for i in idx], label=model, s=24)
    front = sorted(pareto_front(points), key=lambda i: points[i][0])
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], color="black", lw=1, ls="--",
            marker="o", mfc="none", ms=10, label="Pareto front")
    for i in front:
        ax.annotate(f"{scored[i].model} {scored[i].label}", points[i], fontsize=6, xytext=(4, 4),
                    textcoords="offset points")
    ax.set(xlabel="samples/s", ylabel="ROUGE-Sum (dev, mean over folds)", title="Quality vs speed")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def grad_norm_traces(traces: dict[str, list[tuple[int, float]]], path: Path) -> Path:
    """Pre-clip gradient norm per optimizer step, one line per (model, setting) of fold 0."""
    plt, fig, ax = _figure()
    styles = {m: ("-", "--", ":", "-.")[i % 4] for i, m in enumerate(sorted({k.split()[0] for k in traces}))}
    for label, points in sorted(traces.items()):
        ax.plot([p[0] for p in points], [p[1] for p in points], label=label, lw=1, ls=styles[label.split()[0]])
    ax.set(xlabel="optimizer step", ylabel="grad norm (pre-clip)", title="Gradient norm traces (fold 0)")
    ax.set_yscale("log")
    if traces:
        ax.legend(fontsize=6, ncol=2)
    return _save(plt, fig, path)


def eval_loss_curves(model: str, curves: dict[str, list[EvalPoint]], path: Path) -> Path:
    """One model's held-out eval loss while it trains: against training samples seen (left) and against training
    time (right), one line per label of ``curves``, in its order."""
    plt, fig, (left, right) = _figure(2, figsize=(10, 4.2))
    for label, points in curves.items():
        loss = [p.loss for p in points]
        line, = left.plot([p.samples for p in points], loss, marker=".", label=label)
        right.plot([p.seconds for p in points], loss, marker=".", color=line.get_color(), label=label)
    left.set(xlabel="training samples seen", ylabel="eval loss, held-out part")
    right.set(xlabel="training time (s, sum of step times)", ylabel="eval loss, held-out part")
    left.legend(fontsize=7)
    fig.suptitle(f"{model}: learning curve while training")
    return _save(plt, fig, path)


def learning_curve_plot(records: Sequence[CellRecord], path: Path) -> Path | None:
    """ROUGE-Sum and eval loss against original training examples, one line per (model, augmentation, bs, ga),
    error bars = std over folds. Returns the path, or None (nothing written) when no setting spans two caps."""
    curves = learning_curves(records)
    if not curves:
        return None
    plt, fig, (left, right) = _figure(2, figsize=(10, 4.2))
    for (model, aug, bs, ga), by_cap in curves.items():
        points = []
        for s in by_cap.values():
            n, loss = s.mean_original_examples(), s.mean("eval_loss")
            if n is not None:
                points.append((n, s.mean(METRIC), s.std(METRIC), math.nan if loss is None else loss))
        points.sort()
        if points:
            xs, ys, es, ls = zip(*points)
            label = f"{model} {aug} {split_label(bs, ga)}"
            left.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
            right.plot(xs, ls, marker="o", label=label)
    for ax, ylabel in ((left, "dev ROUGE-Sum (± std over folds)"),
                       (right, "eval loss, held-out part (mean over folds)")):
        ax.set_xscale("log")
        ax.set_xlabel("original training examples (log scale)")
        ax.set_ylabel(ylabel)
    left.legend(fontsize=7)
    fig.suptitle("Learning curve over max_train_samples")
    return _save(plt, fig, Path(path))
