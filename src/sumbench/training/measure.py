"""The one place that measures training: step time, throughput, gradient norm, padding (with memory.py for
peak memory and flops.py for MFU).

Seq2seq and causal training both use :class:`TrainMeasurement` (a transformers ``TrainerCallback``) and
the pure summary functions below. Device access goes through small seams (``clock``, ``cuda``) so that
the GPU branches are unit-tested on a CPU with fakes.

How a step is timed, so that every model's numbers mean the same:
- a step is one optimizer step: all its micro-batches, data loading included. The clock is read at step
  boundaries only; on CUDA it first waits for queued work (``torch.cuda.synchronize()``). Micro-batches are
  timed with CUDA events on a GPU (resolved at the step's end), never with a host synchronization each.
  The first ``warmup_steps`` are dropped from the statistics.
- samples/s = the samples of the timed steps / their seconds (a partial last step counts its actual samples);
  with several processes a step's rows hold every rank's samples and tokens (summed by
  :func:`sumbench.training.distributed.sum_over_ranks` before the summary).
- token counts come from the collator, on the CPU, before the batch moves to the device: nothing in a timed step
  reads device data back to the host (the Trainer reads the loss and gradient norm once per step, after it).
- tokens/s counts real (non-pad) tokens of the same steps: seq2seq source + target (encoder input and
  decoder labels), causal prompt + summary; loss tokens/s counts the tokens the loss is taken on (labels
  other than -100: the summary and its EOS).
- gradient norm = the pre-clip global norm the Trainer computes each optimizer step.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from sumbench.training.memory import MemoryProbe, MemoryReading

SPIKE_FACTOR = 10.0  # a grad-norm spike: more than this many times the running median so far


class CudaLike(Protocol):
    """The subset of ``torch.cuda`` the clocks use (a fake in tests)."""

    def is_available(self) -> bool: ...
    def synchronize(self) -> None: ...
    def Event(self, enable_timing: bool = False) -> Any: ...  # noqa: N802  (torch.cuda.Event)


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
        """Count a CPU mask: reading a device tensor here would make the host wait for the device."""
        if mask.device.type != "cpu":
            raise ValueError(f"token counts are read on the CPU, before the batch moves to {mask.device}; "
                             f"reading them from the device would synchronize every micro-batch")
        self.real += int(mask.sum())
        self.padded += int(mask.numel())


@dataclass(frozen=True)
class BatchTokens:
    """Token counts of one collated micro-batch, counted on the CPU by the collator (python ints: the measurement
    reads them during a timed step without touching the device)."""

    samples: int
    source: TokenCount  # seq2seq encoder input; causal: the whole sequence (prompt + summary)
    target: TokenCount  # seq2seq decoder labels (a separate, separately padded sequence); causal: empty
    loss: int  # label positions other than -100: what the loss is taken on
    seq2seq: bool


def batch_tokens(batch: dict) -> BatchTokens:
    """Token counts of a collated batch still on the CPU (labels == -100 are padding or prompt)."""
    source, target = TokenCount(), TokenCount()
    if "attention_mask" in batch:
        source.add(batch["attention_mask"])
    seq2seq = "labels" in batch and "decoder_input_ids" in batch  # seq2seq: the target is a separate sequence
    if seq2seq:
        target.add(batch["labels"].ne(-100))
    loss = TokenCount()
    if "labels" in batch:
        loss.add(batch["labels"].ne(-100))
    return BatchTokens(len(batch["input_ids"]), source, target, loss.real, seq2seq)


def world_size() -> int:
    """Processes training together under torchrun (1 in a single process)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


class Clock:
    """Wall clock read at step boundaries; on CUDA it first waits for queued work."""

    def __init__(self, cuda: CudaLike | None = None, now: Callable[[], float] = time.perf_counter):
        self.cuda = cuda if cuda is not None and cuda.is_available() else None
        self._now = now

    def __call__(self) -> float:
        if self.cuda:
            self.cuda.synchronize()
        return self._now()


class MicroTimer:
    """Times micro-batches without a host synchronization each: CUDA events on a GPU, resolved in
    :meth:`resolve` after the step's synchronization; ``perf_counter`` on a CPU."""

    def __init__(self, cuda: CudaLike | None = None, now: Callable[[], float] = time.perf_counter):
        self.cuda = cuda if cuda is not None and cuda.is_available() else None
        self._now = now
        self._open: list[Any] = []  # (start, end) pairs of this step

    def begin(self) -> Any:
        if not self.cuda:
            return self._now()
        event = self.cuda.Event(enable_timing=True)
        event.record()
        return event

    def end(self, started: Any) -> None:
        if not self.cuda:
            self._open.append(self._now() - started)
            return
        event = self.cuda.Event(enable_timing=True)
        event.record()
        self._open.append((started, event))

    def resolve(self) -> list[float]:
        """Seconds of each micro-batch of the step; call after the step's synchronization."""
        done, self._open = self._open, []
        if not self.cuda:
            return done
        return [start.elapsed_time(end) / 1000.0 for start, end in done]  # elapsed_time is in ms


@dataclass
class StepRow:
    step: int
    step_time_s: float
    compute_time_s: float
    samples: int
    tokens: int  # real tokens: source + target (seq2seq), prompt + summary (causal)
    padded_tokens: int
    target_tokens: int  # seq2seq decoder labels (0 for causal)
    target_padded_tokens: int
    loss_tokens: int = 0
    loss: float | None = None
    grad_norm: float | None = None
    lr: float | None = None
    eval_loss: float | None = None  # the held-out part's loss after this step, where the learning curve took one


@dataclass(frozen=True)
class StepSummary:
    """What a training run measured, under the CellRecord's field names."""

    steps: int
    warmup_steps: int  # first optimizer steps left out of the timing statistics
    s_per_step_median: float
    s_per_step_p10: float
    s_per_step_p90: float
    micro_step_s_median: float | None
    samples_per_s: float  # samples of the timed steps (every rank's) / their seconds
    tokens_per_s: float | None  # real (non-pad) tokens of the timed steps (every rank's) / their seconds
    tokens_counted: str  # which tokens tokens_per_s counts
    source_tokens_per_s: float | None  # seq2seq encoder input; causal: = tokens_per_s
    target_tokens_per_s: float | None  # seq2seq decoder labels; causal: 0
    loss_tokens_per_s: float | None  # label tokens (the summary), every rank's
    padded_tokens_per_s: float | None
    world_size: int
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


TOKENS_COUNTED = {"seq2seq": "source + target (encoder input + decoder labels), real tokens",
                  "causal": "prompt + summary, real tokens"}


@dataclass
class TrainMeasurement:
    """Collects one :class:`StepRow` per optimizer step. The Trainer brackets each micro-batch with
    :meth:`micro_begin` / :meth:`micro_end`; the callback calls the step hooks."""

    clock: Clock = field(default_factory=Clock)
    memory: MemoryProbe = field(default_factory=MemoryProbe)
    micro: MicroTimer = field(default_factory=MicroTimer)
    rows: list[StepRow] = field(default_factory=list)
    micro_step_times: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._last_end = 0.0
        self._step_begin = 0.0
        self._excluded = 0.0
        self._pending = StepRow(0, 0.0, 0.0, 0, 0, 0, 0, 0)
        self._seq2seq = False

    # -- hooks (called by the Trainer and the callback below, or directly in tests) --
    def train_begin(self) -> None:
        self.memory.start()
        self._last_end = self.clock()

    def step_begin(self) -> None:
        self._step_begin = self.clock()  # a step boundary: the synchronization waits for nothing new

    def micro_begin(self) -> Any:
        return self.micro.begin()

    def micro_end(self, started: Any, counts: BatchTokens) -> None:
        self.micro.end(started)
        self.add_micro_batch(counts)

    def add_micro_batch(self, counts: BatchTokens) -> None:
        """Count a micro-batch's samples and tokens (the collator's CPU counts) into the current step."""
        t, row = counts, self._pending
        self._seq2seq = self._seq2seq or t.seq2seq
        row.samples += t.samples
        row.tokens += t.source.real + t.target.real
        row.padded_tokens += t.source.padded + t.target.padded
        row.target_tokens += t.target.real
        row.target_padded_tokens += t.target.padded
        row.loss_tokens += t.loss

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (in-training evaluation, checkpointing) out of the next step's time."""
        self._excluded += seconds

    def step_end(self, step: int) -> None:
        now = self.clock()  # the step's one synchronization
        self.micro_step_times += self.micro.resolve()
        row, self._pending = self._pending, StepRow(0, 0.0, 0.0, 0, 0, 0, 0, 0)
        row.step, row.step_time_s = step, now - self._last_end - self._excluded
        row.compute_time_s = now - self._step_begin
        self._excluded, self._last_end = 0.0, now
        self.rows.append(row)

    def log(self, step: int, logs: dict) -> None:
        if self.rows and self.rows[-1].step == step and "eval_loss" in logs:
            self.rows[-1].eval_loss = float(logs["eval_loss"])
        if self.rows and self.rows[-1].step == step and "loss" in logs:
            row = self.rows[-1]
            row.loss = float(logs["loss"])
            row.grad_norm = float(logs["grad_norm"]) if logs.get("grad_norm") is not None else None
            row.lr = float(logs["learning_rate"]) if "learning_rate" in logs else None

    # -- summary --
    def summary(self, warmup_steps: int) -> StepSummary:
        timing = summarize_step_times([r.step_time_s for r in self.rows], warmup_steps)
        timed = self.rows[timing.warmup_steps:]
        norms = [r.grad_norm for r in self.rows if r.grad_norm is not None]
        grads = summarize_grad_norms(norms) if norms else None
        seconds = sum(r.step_time_s for r in timed)
        ranks = world_size()

        def rate(values) -> float | None:
            return sum(values) / seconds if seconds > 0 else None

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
            samples_per_s=rate(r.samples for r in timed),
            tokens_per_s=rate(r.tokens for r in timed),
            tokens_counted=TOKENS_COUNTED["seq2seq" if self._seq2seq else "causal"],
            source_tokens_per_s=rate(r.tokens - r.target_tokens for r in timed),
            target_tokens_per_s=rate(r.target_tokens for r in timed),
            loss_tokens_per_s=rate(r.loss_tokens for r in timed),
            padded_tokens_per_s=rate(r.padded_tokens for r in timed),
            world_size=ranks,
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


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), e.g. how long imports took; None where unreadable."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, counted after the command name
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
