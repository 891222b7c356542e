"""Speed and memory of every bs × ga split: the profile's speed table, ``speed.csv``, and the per-split figures
the saturation finding and the throughput and memory plots read.

The profile phase runs every split of a model briefly (warm-up untimed, then the same timed budget for each), so
its splits are where speed is compared. A model reported without a profile record (bare ``metrics.json`` files)
falls back to its quality cells, median over folds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from sumbench.records import BYTES_PER_MIB, ModelProfile, SplitProfile
from sumbench.report.folds import SettingFolds
from sumbench.report.formatting import MISSING, cell_text, csv_text, loss_path_lines, number

SPEED_COLUMNS = ("model", "split", "batch_size", "grad_accum", "effective_batch", "status", "message", "remeasured",
                 "steps", "warmup_steps", "s_per_step_median", "s_per_step_p10", "s_per_step_p90", "samples_per_s",
                 "tokens_per_s", "tokens_counted", "loss_tokens_per_s", "loss_path", "mfu", "peak_memory_bytes",
                 "memory_kind", "memory_note", "cuda_max_reserved_bytes", "cuda_device_total_bytes", "cuda_alloc_retries",
                 "memory_fraction",
                 "padding_efficiency", "grad_norm_first", "device", "window_start", "window_end", "exclusive",
                 "lock_wait_s", "deepspeed", "cpu_peak_rss_bytes", "world_size")


@dataclass(frozen=True)
class SplitSpeed:
    """One split's speed and memory as the findings and plots compare them. ``line``: what else must match for two
    splits to be compared (augmentation and cap for quality cells; nothing for a profile, which has one)."""

    model: str
    label: str
    batch_size: int
    grad_accum: int
    line: tuple
    samples_per_s: float | None
    peak_memory_bytes: int | None
    memory_fraction: float | None
    alloc_retries: int

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum


def split_speeds(profiles: Sequence[ModelProfile], settings: Sequence[SettingFolds]) -> list[SplitSpeed]:
    """The finished splits of every profile (the re-measured one left out), then, for each model without a
    profile, its quality settings."""
    out = [SplitSpeed(p.model, s.label, s.batch_size, s.grad_accum, (), s.samples_per_s, s.peak_memory_bytes,
                      s.memory_fraction(), s.cuda_alloc_retries or 0)
           for p in profiles for s in p.splits if s.status == "ok" and not s.remeasured]
    profiled = {p.model for p in profiles}
    out += [SplitSpeed(s.model, s.label, s.batch_size, s.grad_accum, (s.augmentation, s.cap), s.median("samples_per_s"),
                       s.peak_memory(), s.memory_fraction(), int(sum(s.values("cuda_alloc_retries"))))
            for s in settings if s.model not in profiled and s.ok]
    return out


# ------------------------------------------------------------------------------------------- the table
def _s_per_step(s: SplitProfile) -> str:
    if s.s_per_step_median is None:
        return MISSING
    spread = f" ({s.s_per_step_p10:.3f}–{s.s_per_step_p90:.3f})" if None not in (s.s_per_step_p10, s.s_per_step_p90) \
        else ""
    return f"{s.s_per_step_median:.3f}{spread}"


def _mib(value: int | None) -> str:
    return number(None if value is None else value / BYTES_PER_MIB, ",.0f")


def split_message(s: SplitProfile) -> str:
    """Why a split did not finish, without a repeated status (the profile writes a skip as "skipped: ...")."""
    message = s.message or ""
    return message[len(s.status) + 1:].strip() if message.startswith(f"{s.status}:") else message


def _status(s: SplitProfile) -> str:
    if s.status == "ok":
        return "ok, measured again at the end" if s.remeasured else "ok"
    message = split_message(s)
    return f"**{s.status}**" + (f": {cell_text(message)}" if message else "")


def speed_table(profile: ModelProfile) -> list[str]:
    """Every split of the profile in the order it ran, the re-measured one last. Reserved MiB and allocator
    retries appear on a GPU, MFU where a split knows it."""
    splits = profile.splits
    gpu = any(s.cuda_device_total_bytes for s in splits)
    mfu = any(s.mfu is not None for s in splits)
    budget = (f"{profile.timed_samples} timed samples" if profile.timed_samples
              else f"{profile.timed_steps} timed steps" if profile.timed_steps else "a timed budget")
    counted = next((s.tokens_counted for s in splits if s.tokens_counted), None)
    devices = sorted({s.device for s in splits if s.device})
    out = [f"{len(splits)} split runs in the order they ran" + (f" on {', '.join(devices)}" if devices else "")
           + f": each {profile.warmup_steps} warm-up steps untimed, then {budget}"
           + (f"; tokens/s counts {counted} tokens." if counted else "."), ""]
    axis = any(s.deepspeed != "off" for s in splits)  # DeepSpeed's trade: seconds per step vs device memory
    head = ["split"] + (["DeepSpeed"] if axis else []) + ["bs", "ga", "eff. batch", "s/step median (p10–p90)",
                                                          "samples/s", "tokens/s", "peak MiB", "mem. %"] \
        + (["reserved MiB", "alloc retries"] if gpu else []) + (["host MiB"] if axis and gpu else []) \
        + (["MFU"] if mfu else []) + ["status"]
    out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for s in splits:
        row = [s.label + (" (again)" if s.remeasured else "")] + ([s.deepspeed] if axis else []) + [
            str(s.batch_size), str(s.grad_accum), str(s.effective_batch), _s_per_step(s),
            number(s.samples_per_s, ".2f"), number(s.tokens_per_s, ",.0f"), _mib(s.peak_memory_bytes),
            number(s.memory_fraction(), ".0%")]
        row += [_mib(s.cuda_max_reserved_bytes), number(s.cuda_alloc_retries, "d")] if gpu else []
        row += [_mib(s.cpu_peak_rss_bytes)] if axis and gpu else []
        row += [number(s.mfu, ".1%")] if mfu else []
        out.append("| " + " | ".join(row + [_status(s)]) + " |")
    return out + [""] + loss_path_lines(((s.label + (" (again)" if s.remeasured else ""), s.loss_path,
                                          s.loss_path_reason) for s in splits), "split") + deepspeed_lines(profile)


def deepspeed_lines(profile: ModelProfile) -> list[str]:
    """Each DeepSpeed setting's equivalence check, and the ops it loaded before its windows."""
    out = []
    for c in profile.deepspeed_checks:
        ops = next((s.deepspeed_ops_s for s in profile.splits if s.deepspeed == c.setting and s.deepspeed_ops_s), None)
        out.append(f"- DeepSpeed {c.setting}: equivalence **{c.status}** at micro-batch {c.batch_size}: {c.detail}"
                   + (f"; ops loaded before the timed windows: "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in ops.items()) if ops else ""))
    return out + [""] if out else []


def speed_csv(profiles: Sequence[ModelProfile]) -> str:
    """``speed.csv``: one row per profiled split, the re-measured one included (``remeasured`` = True)."""
    return csv_text(SPEED_COLUMNS, ({**dataclasses.asdict(s), "model": p.model, "split": s.label,
                                     "memory_fraction": s.memory_fraction()}
                                    for p in sorted(profiles, key=lambda p: p.model) for s in p.splits))

