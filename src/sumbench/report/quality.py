"""The quality phase of one model in the report: a row per effective batch it trained (per augmentation and cap
where those axes vary), its ROUGE-Sum under every analyzer side by side, why that split trained it, the cells that
failed, and the recommendation with its predicted and measured training time.

Each effective batch normally trains once per fold with its fastest split; when a model's gradient-accumulation
check failed, every split trained, and each has its own row.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from sumbench.records import cap_label, split_label
from sumbench.records.plan import PlanRecord
from sumbench.report.cellfiles import primary_analyzer
from sumbench.report.folds import SettingFolds, cap_order
from sumbench.report.formatting import cell_text, loss_path_lines, mean_std, number
from sumbench.report.plan import hours, predicted_cell_s
from sumbench.report.recommend import DevScores, recommend

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rouge_sum")


def _status(s: SettingFolds) -> str:
    counts = Counter(r.status for r in s.records)
    return ", ".join(f"{n}/{len(s.records)} {status}" for status, n in sorted(counts.items()))


def _mean_hours(s: SettingFolds, field: str) -> str:
    return hours(s.mean(field))


def _table_order(settings: Sequence[SettingFolds]) -> list[SettingFolds]:
    return sorted(settings, key=lambda s: (s.augmentation, cap_order(s.cap), s.effective_batch, s.batch_size))


def quality_table(settings: Sequence[SettingFolds]) -> list[str]:
    """One row per trained setting, by augmentation, cap and effective batch; the augmentation and cap columns only
    where the model has more than one of them."""
    rows = _table_order(settings)
    augs, caps = sorted({s.augmentation for s in rows}), sorted({s.cap for s in rows}, key=cap_order)
    out = []
    if len(augs) == 1 or len(caps) == 1:
        fixed = ([f"augmentation {augs[0]}"] if len(augs) == 1 else []) + \
            ([f"max_train_samples {cap_label(caps[0])}"] if len(caps) == 1 else [])
        out += [f"Every cell: {', '.join(fixed)}.", ""]
    head = (["aug"] if len(augs) > 1 else []) + (["cap"] if len(caps) > 1 else []) + \
        ["eff. batch", "split", "samples/s", "mem. %", "ROUGE-1", "ROUGE-2", "ROUGE-L", "ROUGE-Sum", "eval loss",
         "time to train h", "time to quality h", "status"]
    out += ["| " + " | ".join(head) + " |",
            "|" + "---|" * (len(head) - 12) + "---:|---|" + "---:|" * 9 + "---|"]
    for s in rows:
        row = ([s.augmentation] if len(augs) > 1 else []) + ([cap_label(s.cap)] if len(caps) > 1 else [])
        row += [str(s.effective_batch), split_label(s.batch_size, s.grad_accum),
                number(s.median("samples_per_s"), ".2f"), number(s.memory_fraction(), ".0%"),
                *(mean_std(s.values(k)) for k in ROUGE_KEYS),
                mean_std(s.values("eval_loss")), _mean_hours(s, "time_to_train_s"),
                _mean_hours(s, "time_to_quality_s"), _status(s)]
        out.append("| " + " | ".join(row) + " |")
    return out + [""]


def _analyzer_version(metric_version: str) -> str:
    """``kiwipiepy-0.24.1`` out of ``rouge_score-0.1.2+kiwipiepy-0.24.1/morph-f1/nfc/refs-mean``."""
    head = metric_version.split("/", 1)[0]
    return head.split("+", 1)[1] if head.startswith("rouge_score") and "+" in head else head


def analyzer_table(settings: Sequence[SettingFolds]) -> list[str]:
    """Dev ROUGE-Sum of every setting under every analyzer its cells scored with (mean ± std over folds), each
    column named with the analyzer's version; the primary analyzer first. Left out below two analyzers."""
    cells = [r for s in settings for r in s.ok]
    primaries = {primary_analyzer(r) for r in cells} - {None}
    names = sorted({name for r in cells for name in r.rouge_by_analyzer}, key=lambda n: (n not in primaries, n))
    if len(names) < 2:
        return []
    head = []
    for name in names:
        versions = sorted({_analyzer_version(r.rouge_by_analyzer[name].get("metric_version") or "")
                           for r in cells if name in r.rouge_by_analyzer} - {""})
        head.append(f"{name} ({' / '.join(versions)})" if versions and versions != [name] else name)
    out = ["ROUGE-Sum by analyzer (dev, mean ± std over folds): how the score depends on how Korean text is split; "
           f"{' and '.join(sorted(primaries))} is the primary, whose scores fill the table above.", "",
           "| setting | " + " | ".join(head) + " |", "|---|" + "---:|" * len(names)]
    for s in _table_order(settings):
        row = [mean_std([r.rouge_by_analyzer[name]["rouge_sum"] for r in s.ok
                         if r.rouge_by_analyzer.get(name, {}).get("rouge_sum") is not None]) for name in names]
        out.append(f"| {s.label} | " + " | ".join(row) + " |")
    return out + [""]


def split_reasons(settings: Sequence[SettingFolds]) -> list[str]:
    """Why each split trained its effective batch, in the plan's words: each reason once, after the splits it
    names (every split of an effective batch shares one when the GA check failed)."""
    splits: dict[str, list[str]] = {}
    for s in sorted(settings, key=lambda s: (s.effective_batch, s.batch_size)):
        for r in s.records:
            label = split_label(r.batch_size, r.grad_accum, r.deepspeed)  # with its DeepSpeed setting, if any
            if r.split_reason and label not in splits.setdefault(r.split_reason, []):
                splits[r.split_reason].append(label)
    if not splits:
        return []
    return ["Why each split:", ""] + [f"- {', '.join(labels)}: {reason}" for reason, labels in splits.items()] + [""]


def failed_cells(settings: Sequence[SettingFolds]) -> list[str]:
    failed = [(s, r) for s in settings for r in s.records if r.status != "ok"]
    if not failed:
        return []
    return ["Failed cells:", ""] + [
        f"- {s.label} fold {r.fold}: **{r.status.upper()}**" + (f" in {r.failed_phase}" if r.failed_phase else "")
        + (f": {cell_text(r.message)}" if r.message else "") for s, r in failed] + [""]


def recommendation(settings: Sequence[SettingFolds], plan: PlanRecord | None, dev_scores: DevScores) -> list[str]:
    """The recommended effective batch and split, and one full training's predicted hours beside the measured."""
    rec = recommend(settings, dev_scores)
    if rec.setting is None:
        return [f"**Recommendation**: none, {rec.reason}.", ""]
    s = rec.setting
    predicted = None if plan is None else predicted_cell_s(plan, s.model, s.augmentation, s.cap, s.batch_size,
                                                           s.grad_accum)
    out = [f"**Recommendation**: effective batch **{s.effective_batch}**, trained as **{s.label}**: {rec.reason}.", ""]
    folds = len(s.values("time_to_train_s"))
    if predicted is None and not folds:
        return out
    return out + [f"One full training of it: predicted **{hours(predicted)} h** by the plan (training and its "
                  f"evaluation), measured **{_mean_hours(s, 'time_to_train_s')} h** to train and "
                  f"{_mean_hours(s, 'time_to_quality_s')} h to its final ROUGE (mean over {folds} fold(s)).", ""]


def quality_section(settings: Sequence[SettingFolds], plan: PlanRecord | None, dev_scores: DevScores) -> list[str]:
    """``dev_scores``: per-example dev ROUGE-Sum by cell, for the recommendation's intervals."""
    if not settings:
        return ["_No quality cells for this model._", ""]
    paths = loss_path_lines(((f"{s.label} fold {r.fold}", r.loss_path, r.loss_path_reason) for s in settings
                             for r in s.records), "cell")
    return (quality_table(settings) + paths + analyzer_table(settings) + split_reasons(settings)
            + failed_cells(settings) + recommendation(settings, plan, dev_scores))

