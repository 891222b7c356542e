"""The data side of the report: augmentation effect, learning curve over the cap axis, data statistics.

``data_sections(records)`` is a pure function ``records -> markdown lines`` (summary.py appends them);
``plots.learning_curve_plot`` draws the learning curve as a PNG. The data statistics were computed once
per cell at train time and stored in the record (``data_stats``), so the report never reads data.

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
from collections import defaultdict
from typing import Any, Iterable, Sequence

from sumbench.records import CellRecord, cap_label
from sumbench.report.folds import SettingFolds, cap_order, group_by_setting, original_examples
from sumbench.report.formatting import MISSING, mean_std, number

METRIC = "rouge_sum"  # dev-set ROUGE-Sum (R1 + R2 + RL F1 on morphemes), the report's headline metric
# Two-sided 95 % quantiles of Student's t by degrees of freedom (folds - 1); 1.96 beyond the table.
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 120: 1.980}


def t_95(dof: int) -> float:
    """The table's value at the largest tabulated dof <= ``dof`` (conservative between entries)."""
    return T_95[max(d for d in T_95 if d <= dof)] if dof <= 120 else 1.960


# ------------------------------------------------------------------------------------------ helpers
def _scored(records: Iterable[CellRecord]) -> list[SettingFolds]:
    """The settings of the finished cells that have the headline metric."""
    return group_by_setting(r for r in records if r.status == "ok" and getattr(r, METRIC) is not None)


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
    scored = _scored(records)
    baselines = {(s.model, s.cap, s.batch_size, s.grad_accum): s for s in scored if s.augmentation == "none"}
    rows = []
    for s in sorted((s for s in scored if s.augmentation != "none"),
                    key=lambda s: (s.model, cap_order(s.cap), s.batch_size, s.grad_accum, s.augmentation)):
        base = baselines.get((s.model, s.cap, s.batch_size, s.grad_accum))
        if base is None:
            continue
        aug, none = s.by_fold(METRIC), base.by_fold(METRIC)
        d = paired_difference(aug, none)
        if d["mean"] is None:
            continue
        diff = f"{d['mean']:+.3f}" + (f" ± {d['sd']:.3f}" if d["sd"] is not None else "")
        ratio = abs(d["mean"]) / d["se"] if d["se"] else (math.inf if d["mean"] else 0.0)
        size = (f"{ratio:.1f}" if ratio < 100 else "> 100") + f" SE, needs {d['t']:.1f}" if d["t"] else ""
        verdict = ("n/a (1 fold)" if d["exceeds"] is None else f"**yes** ({size})" if d["exceeds"] else
                   f"no ({size})")
        loss = paired_difference(s.by_fold("eval_loss"), base.by_fold("eval_loss"))["mean"]
        rows.append(f"| {s.model} | {cap_label(s.cap)} | {s.batch_size} | {s.grad_accum} | {s.augmentation} | "
                    f"{mean_std(list(aug.values()))} | {mean_std(list(none.values()))} | {diff} | {d['folds']} | "
                    f"{verdict} | {number(loss, '+.3f')} |")
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


def learning_curves(records: Sequence[CellRecord]) -> dict[tuple, dict[int | None, SettingFolds]]:
    """(model, augmentation, bs, ga) -> cap -> that setting's scored folds; only settings swept over two or
    more caps."""
    curves: dict[tuple, dict[int | None, SettingFolds]] = defaultdict(dict)
    for s in _scored(records):
        curves[(s.model, s.augmentation, s.batch_size, s.grad_accum)][s.cap] = s
    return {k: v for k, v in sorted(curves.items()) if len(v) >= 2}


def learning_curve(records: Sequence[CellRecord], plot: str | None = None) -> list[str]:
    curves = learning_curves(records)
    if not curves:
        return []
    caps = sorted({cap for by_cap in curves.values() for cap in by_cap}, key=cap_order)
    head = "| model | augmentation | bs | ga | " + " | ".join(f"cap {cap_label(c)}" for c in caps) + " |"
    out = ["## Learning curve", "",
           "Dev ROUGE-Sum (mean ± std over folds) by `max_train_samples`, then the mean eval loss (the fold's "
           "held-out part); n = original training examples (before augmentation; `all` = a fold's whole training "
           "part).", "",
           head, "|---|---|---:|---:|" + "---:|" * len(caps)]
    for (model, aug, bs, ga), by_cap in curves.items():
        cells = []
        for cap in caps:
            s = by_cap.get(cap)
            if s is None:
                cells.append(MISSING)
                continue
            loss, n = s.mean("eval_loss"), s.mean_original_examples()
            cells.append(mean_std(s.values(METRIC)) + ("" if loss is None else f" · loss {loss:.3f}")
                         + ("" if n is None else f" (n={round(n)})"))
        out.append(f"| {model} | {aug} | {bs} | {ga} | " + " | ".join(cells) + " |")
    if plot:
        out += ["", f"![Learning curve]({plot})"]
    return out + [""]


def data_statistics_section(records: Sequence[CellRecord]) -> list[str]:
    """Per model: token lengths of dialogue and summary, share over the configured lengths, truncation rates,
    from the cell with the most original examples (fold 0 first); then topic counts of that training set."""
    best: dict[str, CellRecord] = {}
    for r in records:
        if not r.data_stats or r.status != "ok":
            continue
        cur = best.get(r.model)
        rank = (original_examples(r) or 0, r.augmentation == "none", -r.fold)
        if cur is None or rank > (original_examples(cur) or 0, cur.augmentation == "none", -cur.fold):
            best[r.model] = r
    if not best:
        return []

    def q(stats: dict, key: str) -> str:
        d = stats.get(key) or {}
        return " / ".join(f"{d[k]:.0f}" for k in ("p10", "p50", "p90", "max")) if d else MISSING

    def pct(value: float | None) -> str:
        return MISSING if value is None else f"{100 * value:.1f} %"

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
    added: dict[tuple[str, int | None], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for method, n in ((r.data_stats or {}).get("augmented") or {}).items():
            added[(r.augmentation, r.max_train_samples)][method].append(n)
    if added:
        out += ["", "Augmented copies added to each fold's training part (mean over cells):", "",
                "| augmentation | cap | copies per method |", "|---|---|---|"]
        for (aug, cap), by_method in sorted(added.items(), key=lambda kv: (kv[0][0], cap_order(kv[0][1]))):
            copies = ", ".join(f"{m} +{statistics.mean(ns):.0f}" for m, ns in sorted(by_method.items()))
            out.append(f"| {aug} | {cap_label(cap)} | {copies} |")
    return out + [""]


def data_sections(records: Sequence[CellRecord], learning_curve_png: str | None = None) -> list[str]:
    """Markdown lines: augmentation effect, learning curve (with the PNG link if given), data statistics.
    Sections without data (no augmentation axis, a single cap, no data_stats) are left out."""
    return augmentation_effect(records) + learning_curve(records, learning_curve_png) + data_statistics_section(records)
