"""What the numbers say: findings of profiles that failed, memory saturation, gradient accumulation that is not
equivalent, isolation drift, pruned splits, gradient spikes, padding waste and truncation, and the profile's checks
per model.

Pure functions of the records: each finding names the split or cells and the measured values that triggered it.
Speed and memory findings read the profile's splits (every split ran there); the saturation finding and the
recommendation (recommend.py) measure memory the same way, :meth:`sumbench.records.Measured.memory_fraction`.
Thresholds are named constants.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from sumbench.records import CellRecord, GaCheck, ModelProfile, split_label
from sumbench.report.folds import SettingFolds, group_by_setting
from sumbench.report.speed import SplitSpeed, split_message, split_speeds

MEMORY_LIMIT_FRACTION = 0.90  # a recommended setting stays below this memory fraction; at or above it = saturated
SATURATION_DROP = 0.95  # samples/s at a larger batch below this share of the smaller batch's = saturation
GA_MISMATCH = 1.10  # first-step grad-norm ratio between bs x ga splits of one effective batch
DRIFT_LIMIT = 0.05  # |s/step of the re-measured split / its first measurement - 1| above this is flagged
PADDING_WASTE = 0.70  # padding efficiency (real / padded tokens) below this is flagged
TRUNCATION = 0.05  # share of examples truncated above this is flagged


# ------------------------------------------------------------------------------------ the profile's checks
def ga_check_text(check: GaCheck | None) -> str:
    if check is None:
        return "not run"
    verdict = "pass" if check.status == "pass" else f"**{check.status}**"
    return verdict + (f": {check.detail}" if check.detail else "")


def drift_flagged(profile: ModelProfile) -> bool:
    return profile.drift is not None and abs(profile.drift) > DRIFT_LIMIT


def drift_text(profile: ModelProfile) -> str:
    if profile.drift is None:
        again = next((s for s in profile.splits if s.remeasured), None)
        return "not measured: " + (f"the first split failed when measured again ({again.status}: {again.message})"
                                   if again is not None else "fewer than two splits ran")
    measured = f"{profile.drift:+.1%} ({profile.drift_split} measured again at the end, s/step against its first run)"
    if not drift_flagged(profile):
        return f"{measured}, within ±{DRIFT_LIMIT:.0%}"
    return (f"{measured}: **above ±{DRIFT_LIMIT:.0%}**, so the device was not in the same state for every split "
            f"(memory left behind, another process, clocks) and their speeds compare less well")


def profile_checks(profile: ModelProfile) -> list[str]:
    """The per-model lines: the gradient-accumulation equivalence check, the isolation drift, and what the peak
    memory figures leave out (a paged optimizer's state), where they leave something out."""
    notes = dict.fromkeys(s.memory_note for s in profile.splits if s.memory_note)
    return [f"- **Gradient-accumulation equivalence**: {ga_check_text(profile.ga_check)}",
            f"- **Isolation drift**: {drift_text(profile)}", *(f"- **Peak memory**: {n}" for n in notes), ""]


# ----------------------------------------------------------------------------------------- diagnostics
@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    model: str
    message: str


KINDS = ("profile failures", "memory saturation", "gradient accumulation", "isolation drift", "pruned splits", "gradient spikes",
         "padding waste", "truncation", "DeepSpeed equivalence")


def memory_saturation(speeds: Sequence[SplitSpeed]) -> list[Finding]:
    """samples/s falling as the micro-batch grows at a fixed grad accumulation, CUDA allocator retries, and a
    memory fraction at or above MEMORY_LIMIT_FRACTION."""
    out = []
    by_line: dict[tuple, list[SplitSpeed]] = defaultdict(list)
    for s in speeds:
        by_line[(s.model, s.line, s.grad_accum)].append(s)
    for (model, _, _), line in by_line.items():
        line = sorted((s for s in line if s.samples_per_s), key=lambda s: s.batch_size)
        for small, big in zip(line, line[1:]):
            a, b = small.samples_per_s, big.samples_per_s
            if b < SATURATION_DROP * a:
                out.append(Finding("memory saturation", model,
                                   f"samples/s falls from {a:.1f} at {small.label} to {b:.1f} at {big.label} "
                                   f"({b / a - 1:+.0%}): a bigger batch is slower per sample"))
    for s in speeds:
        if s.alloc_retries:
            out.append(Finding("memory saturation", s.model, f"{s.label}: {s.alloc_retries} CUDA allocator retries "
                                                             f"(the allocator had to free cache to fit)"))
        if s.memory_fraction is not None and s.memory_fraction >= MEMORY_LIMIT_FRACTION:
            out.append(Finding("memory saturation", s.model, f"{s.label}: memory {s.memory_fraction:.0%} of the "
                                                             f"device"))
    return out


def profile_findings(profiles: Sequence[ModelProfile]) -> list[Finding]:
    """A model whose every split failed, a costs pass that failed, a gradient-accumulation check that did not
    pass, drift above DRIFT_LIMIT, and the splits the quality phase left out (out of memory, failed, or skipped
    after a smaller micro-batch ran out of memory)."""
    out = []
    for p in profiles:
        if p.failed():
            out.append(Finding("profile failures", p.model, f"{p.failed()}: the plan leaves {p.model} out, it has no "
                                                            f"quality cells"))
        if p.costs.error:
            out.append(Finding("profile failures", p.model, f"the costs pass (evaluation, generation, scoring) failed: "
                                                            f"{p.costs.error}; the plan predicts without its figures"))
        if p.ga_check is not None and p.ga_check.status != "pass":
            out.append(Finding("gradient accumulation", p.model, f"profile check {ga_check_text(p.ga_check)}"))
        out += [Finding("DeepSpeed equivalence", p.model, f"{c.setting} {c.status}: {c.detail}")
                for c in p.deepspeed_checks if c.status != "pass"]
        if drift_flagged(p):
            out.append(Finding("isolation drift", p.model, drift_text(p)))
        out += [Finding("pruned splits", p.model, f"{s.label} {s.status}: {split_message(s) or 'no message'}")
                for s in p.splits if s.status != "ok" and not s.remeasured]
    return out


def ga_equivalence(records: Sequence[CellRecord]) -> list[Finding]:
    """Quality cells of several splits of one effective batch (every split trained): same fold and data, so the
    first optimizer step should see the same gradient."""
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
                               f"{split_label(hi.batch_size, hi.grad_accum)} vs {lo.grad_norm_first:.3g} at "
                               f"{split_label(lo.batch_size, lo.grad_accum)} "
                               f"(x{hi.grad_norm_first / lo.grad_norm_first:.2f}): "
                               f"the loss is not scaled equivalently under gradient accumulation"))
    return out


def gradient_spikes(records: Sequence[CellRecord]) -> list[Finding]:
    return [Finding("gradient spikes", r.model, f"{split_label(r.batch_size, r.grad_accum)} fold {r.fold}: grad norm "
                                                f"above 10x its running median at step(s) "
                                                f"{', '.join(map(str, r.grad_norm_spikes))}"
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


def diagnose(records: Sequence[CellRecord], profiles: Sequence[ModelProfile] = ()) -> list[Finding]:
    """Every finding, in KINDS order. Memory saturation reads the profiles' splits, and a model's quality cells
    only when it has no profile."""
    all_settings = group_by_setting(records)
    findings = (memory_saturation(split_speeds(profiles, all_settings)) + profile_findings(profiles)
                + ga_equivalence(records) + gradient_spikes(records) + padding_and_truncation(all_settings))
    seen, unique = set(), []
    for f in sorted(findings, key=lambda f: KINDS.index(f.kind)):  # stable: each kind keeps its order
        # truncation repeats for every setting of a model: say it once per model and side
        key = (f.kind, f.model, f.message.split(": ", 1)[-1]) if f.kind == "truncation" else f
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
