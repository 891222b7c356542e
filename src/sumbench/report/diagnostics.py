"""What the numbers say: the recommended setting per model, and findings of memory saturation, first-step
gradient norms that differ between bs × ga splits of one effective batch, gradient spikes, padding waste
and truncation.

Pure functions of the records: each finding names the cells and the measured values that triggered it.
Thresholds are named constants.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from sumbench.records import BYTES_PER_MIB, CellRecord
from sumbench.report.folds import SettingFolds, group_by_setting

MEMORY_LIMIT_FRACTION = 0.90  # a recommended cell must stay below this share of device memory
SATURATION_DROP = 0.95  # samples/s at a larger batch below this share of the smaller batch's = saturation
GA_MISMATCH = 1.10  # first-step grad-norm ratio between bs x ga splits of one effective batch
PADDING_WASTE = 0.70  # padding efficiency (real / padded tokens) below this is flagged
TRUNCATION = 0.05  # share of examples truncated above this is flagged


# ------------------------------------------------------------------------------------- recommendation
@dataclass(frozen=True)
class Recommendation:
    setting: SettingFolds | None  # None: nothing qualifies, and the reason says why
    reason: str


def recommend(model_settings: Sequence[SettingFolds]) -> Recommendation:
    """The fastest setting (samples/s) whose ROUGE-Sum is within fold noise (1 std) of the best and whose
    memory is below MEMORY_LIMIT_FRACTION of the device."""
    scored = [s for s in model_settings if s.mean("rouge_sum") is not None and s.median("samples_per_s")]
    if not scored:
        return Recommendation(None, "no setting finished with a ROUGE score")
    best = max(scored, key=lambda s: s.mean("rouge_sum"))
    floor = best.mean("rouge_sum") - best.std("rouge_sum")
    fits = [s for s in scored if (s.memory_fraction() or 0.0) < MEMORY_LIMIT_FRACTION]
    candidates = [s for s in fits if s.mean("rouge_sum") >= floor]
    if not candidates:
        return Recommendation(None, f"every setting within fold noise of the best ({best.label}) uses "
                                           f">= {MEMORY_LIMIT_FRACTION:.0%} of device memory")
    pick = max(candidates, key=lambda s: s.median("samples_per_s"))
    mem = pick.memory_fraction()
    noise = f"within 1 std ({best.std('rouge_sum'):.3f}) of the best, {best.label} at {best.mean('rouge_sum'):.3f}" \
        if pick is not best else "the best ROUGE-Sum"
    reason = (f"{pick.median('samples_per_s'):.1f} samples/s, the fastest of {len(candidates)} setting(s) whose "
              f"ROUGE-Sum {pick.mean('rouge_sum'):.3f} is {noise}; peak memory "
              f"{pick.peak_memory() / BYTES_PER_MIB:,.0f} MiB" + (f" ({mem:.0%} of device)" if mem is not None else ""))
    return Recommendation(pick, reason)


# ----------------------------------------------------------------------------------------- diagnostics
@dataclass(frozen=True)
class Finding:
    kind: str  # memory saturation | gradient accumulation | gradient spikes | padding waste | truncation
    model: str
    message: str


KINDS = ("memory saturation", "gradient accumulation", "gradient spikes", "padding waste", "truncation")


def memory_saturation(all_settings: Sequence[SettingFolds]) -> list[Finding]:
    out = []
    by_line: dict[tuple, list[SettingFolds]] = defaultdict(list)
    for s in all_settings:
        by_line[(s.model, s.augmentation, s.cap, s.grad_accum)].append(s)
    for (model, _, _, ga), line in by_line.items():
        line = sorted((s for s in line if s.median("samples_per_s")), key=lambda s: s.batch_size)
        for small, big in zip(line, line[1:]):
            a, b = small.median("samples_per_s"), big.median("samples_per_s")
            if b < SATURATION_DROP * a:
                out.append(Finding("memory saturation", model,
                                   f"samples/s falls from {a:.1f} at {small.label} to {b:.1f} at {big.label} "
                                   f"({b / a - 1:+.0%}): a bigger batch is slower per sample"))
    for s in all_settings:
        retries = sum(s.values("cuda_alloc_retries"))
        if retries:
            out.append(Finding("memory saturation", s.model, f"{s.label}: {retries} CUDA allocator retries "
                                                             f"(the allocator had to free cache to fit)"))
        reserved, total = s.values("cuda_max_reserved_bytes"), s.values("cuda_device_total_bytes")
        if reserved and total and max(reserved) > MEMORY_LIMIT_FRACTION * max(total):
            out.append(Finding("memory saturation", s.model, f"{s.label}: reserved {max(reserved) / max(total):.0%} "
                                                             f"of device memory"))
    return out


def ga_equivalence(records: Sequence[CellRecord]) -> list[Finding]:
    """Same effective batch, same fold and data: the first optimizer step should see the same gradient."""
    out = []
    groups: dict[tuple, list[CellRecord]] = defaultdict(list)
    for r in records:
        if r.status == "ok" and r.grad_norm_first:
            groups[(r.model, r.augmentation, r.max_train_samples, r.fold, r.effective_batch)].append(r)
    for (model, _, _, fold, eff), rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if len({(r.batch_size, r.grad_accum) for r in rs}) < 2:
            continue
        lo, hi = min(rs, key=lambda r: r.grad_norm_first), max(rs, key=lambda r: r.grad_norm_first)
        if hi.grad_norm_first > GA_MISMATCH * lo.grad_norm_first:
            out.append(Finding("gradient accumulation", model,
                               f"effective batch {eff}, fold {fold}: first-step grad norm {hi.grad_norm_first:.3g} at "
                               f"bs{hi.batch_size}/ga{hi.grad_accum} vs {lo.grad_norm_first:.3g} at "
                               f"bs{lo.batch_size}/ga{lo.grad_accum} (x{hi.grad_norm_first / lo.grad_norm_first:.2f}): "
                               f"the loss is not scaled equivalently under gradient accumulation"))
    return out


def gradient_spikes(records: Sequence[CellRecord]) -> list[Finding]:
    return [Finding("gradient spikes", r.model, f"bs{r.batch_size}/ga{r.grad_accum} fold {r.fold}: grad norm above "
                                                f"10x its running median at step(s) {', '.join(map(str, r.grad_norm_spikes))}"
                                                f" (max {r.grad_norm_max:.3g}, median {r.grad_norm_median:.3g})")
            for r in records if r.status == "ok" and r.grad_norm_spikes]


def padding_and_truncation(all_settings: Sequence[SettingFolds]) -> list[Finding]:
    out = []
    for s in all_settings:
        eff = s.mean("padding_efficiency")
        if eff is not None and eff < PADDING_WASTE:
            out.append(Finding("padding waste", s.model, f"{s.label}: only {eff:.0%} of processed tokens are real "
                                                         f"(turn on dataloader.group_by_length, avoid pad_to_max_length)"))
        for side in ("source", "target"):
            rate = s.mean(f"{side}_truncation_rate")
            if rate is not None and rate > TRUNCATION:
                out.append(Finding("truncation", s.model, f"{s.label}: {rate:.0%} of {side}s cut at lengths.{side}"))
    return out


def diagnose(records: Sequence[CellRecord]) -> list[Finding]:
    all_settings = group_by_setting(records)
    findings = (memory_saturation(all_settings) + ga_equivalence(records) + gradient_spikes(records)
                + padding_and_truncation(all_settings))
    seen, unique = set(), []
    for f in findings:  # truncation repeats for every setting of a model: say it once per model and side
        key = (f.kind, f.model, f.message.split(": ", 1)[-1]) if f.kind == "truncation" else f
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
