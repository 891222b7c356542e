"""The one place that measures: step time, memory, gradient norm, padding and truncation.

Seq2seq and causal training both use :class:`TrainMeasurement` (a transformers ``TrainerCallback``) and
the pure summary functions below. Device access goes through small seams (``clock``, ``cuda``) so that
the GPU branches are unit-tested on a CPU with fakes.

How a step is timed, so that every model's numbers mean the same:
- a step is one optimizer step: all its micro-batches, data loading included. On CUDA the clock is read
  after ``torch.cuda.synchronize()``. The first ``warmup_steps`` are dropped from the statistics.
- samples/s = effective batch / median s/step; tokens/s counts real (non-pad) tokens.
- gradient norm = the pre-clip global norm the Trainer computes each optimizer step.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

BYTES_PER_KIB = 1024
PAGE_BYTES = resource.getpagesize()
SPIKE_FACTOR = 10.0  # a grad-norm spike: more than this many times the running median so far


class CudaLike(Protocol):
    """The subset of ``torch.cuda`` used here (a fake in tests)."""

    def is_available(self) -> bool: ...
    def synchronize(self) -> None: ...
    def reset_peak_memory_stats(self) -> None: ...
    def max_memory_allocated(self) -> int: ...
    def max_memory_reserved(self) -> int: ...
    def memory_stats(self) -> dict[str, Any]: ...
    def get_device_properties(self, device: int) -> Any: ...


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class TimingSummary:
    s_per_step_median: float
    s_per_step_p10: float
    s_per_step_p90: float
    timed_steps: int
    warmup_steps: int


def summarize_step_times(step_times: Sequence[float], warmup_steps: int) -> TimingSummary:
    """Median/p10/p90 of step times after dropping warm-up; keeps at least one step."""
    warmup = min(warmup_steps, max(len(step_times) - 1, 0))
    timed = list(step_times[warmup:])
    if not timed:
        raise ValueError("no optimizer step was timed")
    return TimingSummary(statistics.median(timed), percentile(timed, 10), percentile(timed, 90), len(timed), warmup)


@dataclass(frozen=True)
class GradNormSummary:
    first: float
    median: float
    max: float
    spikes: tuple[int, ...]  # 1-based optimizer steps whose norm > SPIKE_FACTOR x running median before it


def summarize_grad_norms(norms: Sequence[float]) -> GradNormSummary:
    if not norms:
        raise ValueError("no gradient norm was logged")
    spikes = tuple(i + 1 for i in range(1, len(norms)) if norms[i] > SPIKE_FACTOR * statistics.median(norms[:i]))
    return GradNormSummary(norms[0], statistics.median(norms), max(norms), spikes)


@dataclass
class TokenCount:
    """Real (non-pad) and padded token counts of one or more batches."""

    real: int = 0
    padded: int = 0

    def add(self, mask) -> None:
        self.real += int(mask.sum())
        self.padded += int(mask.numel())


def batch_tokens(batch: dict) -> tuple[TokenCount, TokenCount]:
    """Source and target token counts of a collated batch (labels == -100 are padding or prompt)."""
    source, target = TokenCount(), TokenCount()
    if "attention_mask" in batch:
        source.add(batch["attention_mask"])
    if "labels" in batch and "decoder_input_ids" in batch:  # seq2seq: the target is a separate sequence
        target.add(batch["labels"].ne(-100))
    return source, target


@dataclass(frozen=True)
class MemoryReading:
    """Peak memory of the measured window, in bytes (the CellRecord fields of the same names)."""

    memory_kind: str  # cuda_max_allocated | cpu_peak_rss: what peak_memory_bytes is
    peak_memory_bytes: int
    cpu_peak_rss_bytes: int
    cpu_rss_rise_bytes: int
    cuda_max_reserved_bytes: int | None = None
    cuda_device_total_bytes: int | None = None
    cuda_alloc_retries: int | None = None


class MemoryProbe:
    """Peak memory: CUDA allocator stats on a GPU, peak resident set size on a CPU."""

    def __init__(self, cuda: CudaLike | None = None, device_index: int = 0):
        self.cuda = cuda if cuda is not None and cuda.is_available() else None
        self.device_index = device_index
        self.rss_at_start = 0

    @property
    def kind(self) -> str:
        return "cuda_max_allocated" if self.cuda else "cpu_peak_rss"

    @staticmethod
    def current_rss_bytes() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_BYTES

    @staticmethod
    def peak_rss_bytes() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * BYTES_PER_KIB  # Linux reports KiB

    def start(self) -> None:
        self.rss_at_start = self.current_rss_bytes()
        if self.cuda:
            self.cuda.reset_peak_memory_stats()

    def read(self) -> MemoryReading:
        peak_rss = self.peak_rss_bytes()
        cpu = dict(memory_kind=self.kind, cpu_peak_rss_bytes=peak_rss,
                   cpu_rss_rise_bytes=max(peak_rss - self.rss_at_start, 0))
        if not self.cuda:
            return MemoryReading(peak_memory_bytes=peak_rss, **cpu)
        return MemoryReading(
            peak_memory_bytes=int(self.cuda.max_memory_allocated()),
            cuda_max_reserved_bytes=int(self.cuda.max_memory_reserved()),
            cuda_device_total_bytes=int(self.cuda.get_device_properties(self.device_index).total_memory),
            cuda_alloc_retries=int(self.cuda.memory_stats().get("num_alloc_retries", 0)),
            **cpu)


class Clock:
    """Wall clock that waits for queued CUDA work before it is read."""

    def __init__(self, cuda: CudaLike | None = None, now: Callable[[], float] = time.perf_counter):
        self.cuda = cuda if cuda is not None and cuda.is_available() else None
        self._now = now

    def __call__(self) -> float:
        if self.cuda:
            self.cuda.synchronize()
        return self._now()


@dataclass
class StepRow:
    step: int
    step_time_s: float
    compute_time_s: float
    samples: int
    tokens: int
    padded_tokens: int
    target_tokens: int
    target_padded_tokens: int
    loss: float | None = None
    grad_norm: float | None = None
    lr: float | None = None


@dataclass(frozen=True)
class StepSummary:
    """What a training run measured, under the CellRecord's field names."""

    steps: int
    warmup_steps: int  # first optimizer steps left out of the timing statistics
    s_per_step_median: float
    s_per_step_p10: float
    s_per_step_p90: float
    micro_step_s_median: float | None
    samples_per_s: float  # effective batch / median s per step
    tokens_per_s: float | None  # real (non-pad) tokens of the timed steps / their seconds
    padded_tokens_per_s: float | None
    padding_efficiency: float | None  # real / padded tokens over every step, source and target together
    source_padding_efficiency: float | None
    target_padding_efficiency: float | None
    grad_norm_first: float | None
    grad_norm_median: float | None
    grad_norm_max: float | None
    grad_norm_spikes: tuple[int, ...]
    train_loss_first: float | None
    train_loss_last: float | None
    memory: MemoryReading


@dataclass
class TrainMeasurement:
    """Collects one :class:`StepRow` per optimizer step. Feed micro-batches with :meth:`add_micro_batch`."""

    clock: Clock = field(default_factory=Clock)
    memory: MemoryProbe = field(default_factory=MemoryProbe)
    rows: list[StepRow] = field(default_factory=list)
    micro_step_times: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._last_end = 0.0
        self._step_begin = 0.0
        self._excluded = 0.0
        self._pending = (0, TokenCount(), TokenCount())

    # -- hooks (called by the callback below, or directly in tests) --
    def train_begin(self) -> None:
        self.memory.start()
        self._last_end = self.clock()

    def step_begin(self) -> None:
        self._step_begin = self.clock()

    def add_micro_batch(self, batch: dict, seconds: float) -> None:
        samples, src, tgt = self._pending
        s, t = batch_tokens(batch)
        src.real += s.real
        src.padded += s.padded
        tgt.real += t.real
        tgt.padded += t.padded
        self._pending = (samples + len(batch["input_ids"]), src, tgt)
        self.micro_step_times.append(seconds)

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (in-training evaluation, checkpointing) out of the next step's time."""
        self._excluded += seconds

    def step_end(self, step: int) -> None:
        now = self.clock()
        samples, src, tgt = self._pending
        step_time, self._excluded = now - self._last_end - self._excluded, 0.0
        self.rows.append(StepRow(step=step, step_time_s=step_time, compute_time_s=now - self._step_begin,
                                 samples=samples, tokens=src.real + tgt.real, padded_tokens=src.padded + tgt.padded,
                                 target_tokens=tgt.real, target_padded_tokens=tgt.padded))
        self._pending = (0, TokenCount(), TokenCount())
        self._last_end = now

    def log(self, step: int, logs: dict) -> None:
        if self.rows and self.rows[-1].step == step and "loss" in logs:
            row = self.rows[-1]
            row.loss = float(logs["loss"])
            row.grad_norm = float(logs["grad_norm"]) if logs.get("grad_norm") is not None else None
            row.lr = float(logs["learning_rate"]) if "learning_rate" in logs else None

    # -- summary --
    def summary(self, warmup_steps: int, effective_batch: int) -> StepSummary:
        timing = summarize_step_times([r.step_time_s for r in self.rows], warmup_steps)
        timed = self.rows[timing.warmup_steps:]
        norms = [r.grad_norm for r in self.rows if r.grad_norm is not None]
        grads = summarize_grad_norms(norms) if norms else None
        real = sum(r.tokens for r in timed)
        padded = sum(r.padded_tokens for r in timed)
        seconds = sum(r.step_time_s for r in timed)
        tgt_real = sum(r.target_tokens for r in self.rows)
        tgt_padded = sum(r.target_padded_tokens for r in self.rows)
        src_real = sum(r.tokens - r.target_tokens for r in self.rows)
        src_padded = sum(r.padded_tokens - r.target_padded_tokens for r in self.rows)
        return StepSummary(
            steps=len(self.rows),
            warmup_steps=timing.warmup_steps,
            s_per_step_median=timing.s_per_step_median,
            s_per_step_p10=timing.s_per_step_p10,
            s_per_step_p90=timing.s_per_step_p90,
            micro_step_s_median=statistics.median(self.micro_step_times) if self.micro_step_times else None,
            samples_per_s=effective_batch / timing.s_per_step_median,
            tokens_per_s=real / seconds if seconds else None,
            padded_tokens_per_s=padded / seconds if seconds else None,
            padding_efficiency=(src_real + tgt_real) / (src_padded + tgt_padded) if src_padded + tgt_padded else None,
            source_padding_efficiency=src_real / src_padded if src_padded else None,
            target_padding_efficiency=tgt_real / tgt_padded if tgt_padded else None,
            grad_norm_first=grads.first if grads else None,
            grad_norm_median=grads.median if grads else None,
            grad_norm_max=grads.max if grads else None,
            grad_norm_spikes=grads.spikes if grads else (),
            train_loss_first=self.rows[0].loss if self.rows else None,
            train_loss_last=self.rows[-1].loss if self.rows else None,
            memory=self.memory.read(),
        )


# Dense bf16/fp16 tensor-core peak FLOP/s by device-name substring (vendor datasheets, no sparsity).
PEAK_FLOPS = {
    "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10G": 125e12, "A10": 125e12,
    "RTX 4090": 165e12, "RTX 3090": 71e12, "V100": 125e12, "T4": 65e12,
}
FLOPS_FORMULA = {
    "full": "6 * total_params * real_tokens (forward 2N, backward 4N per token; attention FLOPs ignored)",
    "lora": "4 * total_params * real_tokens (frozen base: forward 2N + input-gradients 2N; adapters negligible)",
}


def device_peak_flops(device_name: str | None) -> float | None:
    """Peak dense bf16 FLOP/s of a known GPU, else None (MFU is then not reported)."""
    if not device_name:
        return None
    for key in sorted(PEAK_FLOPS, key=len, reverse=True):  # "A100" before "A10"
        if key in device_name:
            return PEAK_FLOPS[key]
    return None


def model_flops_utilization(tokens_per_s: float | None, total_params: int, finetune: str,
                            peak_flops: float | None) -> float | None:
    """Achieved model FLOP/s over the device peak, by the formula in FLOPS_FORMULA[finetune]."""
    if not tokens_per_s or not peak_flops:
        return None
    per_token = (6 if finetune == "full" else 4) * total_params
    return tokens_per_s * per_token / peak_flops


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """stdev / mean of repeated measurements (None for fewer than two)."""
    if len(values) < 2:
        return None
    return statistics.stdev(values) / statistics.mean(values)


def make_callback(measurement: TrainMeasurement):
    """Wrap a measurement as a transformers TrainerCallback (imported lazily: transformers is heavy)."""
    from transformers import TrainerCallback

    class _MeasureCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            measurement.train_begin()

        def on_step_begin(self, args, state, control, **kwargs):
            measurement.step_begin()

        def on_step_end(self, args, state, control, **kwargs):
            measurement.step_end(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            measurement.log(state.global_step, logs or {})

    return _MeasureCallback()
