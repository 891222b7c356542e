"""The data side of the report: augmentation effect, learning curve over the cap axis, data statistics.

``data_sections(records)`` is a pure function ``records -> markdown lines`` (report.py appends them);
``learning_curve_plot(records, path)`` draws the learning curve as a PNG. ``data_statistics`` is computed
once per cell at train time and stored in the record (``data_stats``), so the report never re-reads data.

Fold noise: for an augmentation and its ``none`` baseline at the same (model, cap, batch size, grad
accumulation), the per-fold differences d_f = ROUGE-Sum(aug, f) - ROUGE-Sum(none, f) are paired by fold
(same training originals, held-out part and dev set). The difference **exceeds fold noise** when
|mean d| > t × SE, SE = sd(d) / √k and t the two-sided 95 % quantile of Student's t with k - 1 degrees of
freedom: a paired t-test. With few folds t is large (12.7 for 2 folds, 4.3 for 3, 2.8 for 5), so only a
large and consistent difference counts; with one fold there is no noise estimate at all.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

from sumbench.records import CellRecord

# Two-sided 95 % quantiles of Student's t by degrees of freedom (folds - 1); 1.96 beyond the table.
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980}


def t_95(dof: int) -> float:
    """The table's value at the largest tabulated dof <= ``dof`` (conservative between entries)."""
    return T_95[max(d for d in T_95 if d <= dof)] if dof <= 120 else 1.960

QUANTILES = (("min", 0.0), ("p10", 0.10), ("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))
METRIC = "rouge_sum"  # dev-set ROUGE-Sum (R1 + R2 + RL F1 on morphemes), the report's headline metric


# ------------------------------------------------------------------------------------------ at train time
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
    from sumbench.data.augment import split_fname

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


# ------------------------------------------------------------------------------------------ helpers
def _ok(records: Iterable[CellRecord]) -> list[CellRecord]:
    return [r for r in records if r.status == "ok" and getattr(r, METRIC) is not None]


def _cap(r: CellRecord) -> str:
    return "all" if r.max_train_samples is None else str(r.max_train_samples)


def _cap_order(cap: str) -> float:
    return math.inf if cap == "all" else float(cap)


def _mean_std(values: Sequence[float], digits: int = 3) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _originals(r: CellRecord) -> int | None:
    stats = r.data_stats or {}
    if stats.get("examples") is not None:
        return stats["examples"]
    return r.original_train_examples if r.original_train_examples is not None else r.train_examples


def paired_difference(aug: dict[int, float], base: dict[int, float]) -> dict[str, Any]:
    """Fold-paired difference aug - base: mean, sd, standard error, and whether it exceeds fold noise."""
    folds = sorted(set(aug) & set(base))
    diffs = [aug[f] - base[f] for f in folds]
    out: dict[str, Any] = {"folds": len(folds), "mean": statistics.mean(diffs) if diffs else None,
                           "sd": None, "se": None, "t": None, "exceeds": None}
    if len(diffs) >= 2:
        out["sd"] = statistics.stdev(diffs)
        out["se"] = out["sd"] / math.sqrt(len(diffs))
        out["t"] = t_95(len(diffs) - 1)
        out["exceeds"] = abs(out["mean"]) > out["t"] * out["se"]
    return out


# ------------------------------------------------------------------------------------------ the sections
def augmentation_effect(records: Sequence[CellRecord]) -> list[str]:
    """One row per (model, cap, bs, ga, augmentation != none) that has a ``none`` baseline."""
    by_setting: dict[tuple, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    losses: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in _ok(records):
        by_setting[(r.model, _cap(r), r.batch_size, r.grad_accum)][r.augmentation][r.fold] = getattr(r, METRIC)
        if r.eval_loss is not None:
            losses[(r.model, _cap(r), r.batch_size, r.grad_accum, r.augmentation)][r.fold] = r.eval_loss
    rows = []
    for (model, cap, bs, ga), by_aug in sorted(by_setting.items(), key=lambda kv: (kv[0][0], _cap_order(kv[0][1]),
                                                                                  kv[0][2], kv[0][3])):
        base = by_aug.get("none")
        if not base:
            continue
        for aug in sorted(a for a in by_aug if a != "none"):
            d = paired_difference(by_aug[aug], base)
            if d["mean"] is None:
                continue
            diff = f"{d['mean']:+.3f}" + (f" ± {d['sd']:.3f}" if d["sd"] is not None else "")
            ratio = abs(d["mean"]) / d["se"] if d["se"] else (math.inf if d["mean"] else 0.0)
            size = (f"{ratio:.1f}" if ratio < 100 else "> 100") + f" SE, needs {d['t']:.1f}" if d["t"] else ""
            verdict = ("n/a (1 fold)" if d["exceeds"] is None else f"**yes** ({size})" if d["exceeds"] else
                       f"no ({size})")
            dl = paired_difference(losses[(model, cap, bs, ga, aug)], losses[(model, cap, bs, ga, "none")])["mean"]
            rows.append(f"| {model} | {cap} | {bs} | {ga} | {aug} | {_mean_std(list(by_aug[aug].values()))} | "
                        f"{_mean_std(list(base.values()))} | {diff} | {d['folds']} | {verdict} | "
                        f"{'–' if dl is None else format(dl, '+.3f')} |")
    if not rows:
        return []
    return ["## Augmentation effect", "",
            "Dev ROUGE-Sum with vs without augmentation (mean ± std over folds). Δ = per-fold difference (paired "
            "by fold), mean ± std; it *exceeds fold noise* when |mean Δ| > t standard errors (std of Δ / √folds; "
            "t = Student's 95 % quantile with folds - 1 degrees of freedom: 12.7 for 2 folds, 4.3 for 3, 2.8 for "
            "5), i.e. a paired t-test. Δ eval loss: the same difference in the eval loss on the fold's held-out "
            "part (negative = better).", "",
            "| model | cap | bs | ga | augmentation | ROUGE-Sum (aug) | ROUGE-Sum (none) | Δ | folds "
            "| exceeds fold noise | Δ eval loss |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|---|---:|", *rows, ""]


def _curves(records: Sequence[CellRecord]) -> dict[tuple, dict[str, list[CellRecord]]]:
    """(model, augmentation, bs, ga) -> cap -> records; only settings swept over two or more caps."""
    curves: dict[tuple, dict[str, list[CellRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in _ok(records):
        curves[(r.model, r.augmentation, r.batch_size, r.grad_accum)][_cap(r)].append(r)
    return {k: dict(v) for k, v in sorted(curves.items()) if len(v) >= 2}


def learning_curve(records: Sequence[CellRecord], plot: str | None = None) -> list[str]:
    curves = _curves(records)
    if not curves:
        return []
    caps = sorted({cap for by_cap in curves.values() for cap in by_cap}, key=_cap_order)
    head = "| model | augmentation | bs | ga | " + " | ".join(f"cap {c}" for c in caps) + " |"
    out = ["## Learning curve", "",
           "Dev ROUGE-Sum (mean ± std over folds) by `max_train_samples`, then the mean eval loss (the fold's "
           "held-out part); n = original training examples (before augmentation; `all` = a fold's whole training "
           "part).", "",
           head, "|---|---|---:|---:|" + "---:|" * len(caps)]
    for (model, aug, bs, ga), by_cap in curves.items():
        cells = []
        for cap in caps:
            rs = by_cap.get(cap, [])
            n = [_originals(r) for r in rs if _originals(r) is not None]
            loss = [r.eval_loss for r in rs if r.eval_loss is not None]
            cells.append(_mean_std([getattr(r, METRIC) for r in rs])
                         + (f" · loss {statistics.mean(loss):.3f}" if loss else "")
                         + (f" (n={round(statistics.mean(n))})" if n else ""))
        out.append(f"| {model} | {aug} | {bs} | {ga} | " + " | ".join(cells) + " |")
    if plot:
        out += ["", f"![Learning curve]({plot})"]
    return out + [""]


def learning_curve_plot(records: Sequence[CellRecord], path: str | Path) -> Path | None:
    """ROUGE-Sum against original training examples, one line per (model, augmentation, bs, ga), error bars
    = std over folds. Returns the path, or None (nothing written) when no setting spans two caps."""
    curves = _curves(records)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sumbench.report.plots import _save  # the report's atomic PNG write

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for (model, aug, bs, ga), by_cap in curves.items():
        points = []
        for rs in by_cap.values():
            n = [_originals(r) for r in rs if _originals(r) is not None]
            vals = [getattr(r, METRIC) for r in rs]
            loss = [r.eval_loss for r in rs if r.eval_loss is not None]
            if n:
                spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
                points.append((statistics.mean(n), statistics.mean(vals), spread,
                               statistics.mean(loss) if loss else math.nan))
        points.sort()
        if points:
            xs, ys, es, ls = zip(*points)
            label = f"{model} {aug} bs{bs}/ga{ga}"
            left.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
            right.plot(xs, ls, marker="o", label=label)
    for ax, ylabel in ((left, "dev ROUGE-Sum (± std over folds)"),
                       (right, "eval loss, held-out part (mean over folds)")):
        ax.set_xscale("log")
        ax.set_xlabel("original training examples (log scale)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    left.legend(fontsize=7)
    fig.suptitle("Learning curve over max_train_samples")
    path = _save(plt, fig, Path(path))
    return path


def data_statistics_section(records: Sequence[CellRecord]) -> list[str]:
    """Per model: token lengths of dialogue and summary, share over the configured lengths, truncation rates,
    from the cell with the most original examples (fold 0 first); then topic counts of that training set."""
    best: dict[str, CellRecord] = {}
    for r in records:
        if not r.data_stats or r.status != "ok":
            continue
        cur = best.get(r.model)
        rank = (_originals(r) or 0, r.augmentation == "none", -r.fold)
        if cur is None or rank > (_originals(cur) or 0, cur.augmentation == "none", -cur.fold):
            best[r.model] = r
    if not best:
        return []

    def q(stats: dict, key: str) -> str:
        d = stats.get(key) or {}
        return " / ".join(f"{d[k]:.0f}" for k in ("p10", "p50", "p90", "max")) if d else "–"

    def pct(value) -> str:
        return "–" if value is None else f"{100 * value:.1f} %"

    out = ["## Data", "",
           "Token lengths with each model's tokenizer (p10 / p50 / p90 / max, no special tokens) of the original "
           "training examples of one fold; *over* = share longer than the configured length; *truncated* = share "
           "of training features cut at that length (prompt included for causal models; augmented copies "
           "included).", "",
           "| model | examples | dialogue tokens | source len | over | truncated | summary tokens | target len "
           "| over | truncated |",
           "|---|---:|---|---:|---:|---:|---|---:|---:|---:|"]
    for model, r in sorted(best.items()):
        s = r.data_stats
        out.append(f"| {model} | {s.get('examples')} | {q(s, 'dialogue_tokens')} | {s.get('source_len')} | "
                   f"{pct(s.get('dialogue_over_source_len'))} | {pct(r.source_truncation_rate)} | "
                   f"{q(s, 'summary_tokens')} | {s.get('target_len')} | {pct(s.get('summary_over_target_len'))} | "
                   f"{pct(r.target_truncation_rate)} |")
    topics = next(iter(sorted(best.items())))[1].data_stats.get("topics") or {}
    if topics:
        total = sum(topics.values())
        out += ["", f"Topics of that training set ({len(topics)} topics, {total} examples):", "",
                "| topic | examples | share |", "|---|---:|---:|"]
        out += [f"| {t} | {n} | {100 * n / total:.1f} % |" for t, n in topics.items()]
    added: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for method, n in ((r.data_stats or {}).get("augmented") or {}).items():
            added[(r.augmentation, _cap(r))][method].append(n)
    if added:
        out += ["", "Augmented copies added to each fold's training part (mean over cells):", "",
                "| augmentation | cap | copies per method |", "|---|---|---|"]
        for (aug, cap), by_method in sorted(added.items(), key=lambda kv: (kv[0][0], _cap_order(kv[0][1]))):
            copies = ", ".join(f"{m} +{statistics.mean(ns):.0f}" for m, ns in sorted(by_method.items()))
            out.append(f"| {aug} | {cap} | {copies} |")
    return out + [""]


def data_sections(records: Sequence[CellRecord], learning_curve_png: str | None = None) -> list[str]:
    """Markdown lines: augmentation effect, learning curve (with the PNG link if given), data statistics.
    Sections without data (no augmentation axis, a single cap, no data_stats) are left out."""
    return augmentation_effect(records) + learning_curve(records, learning_curve_png) + data_statistics_section(records)
