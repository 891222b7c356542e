"""One timed training run inside an exclusive window, measured: what a profiled split and a quality cell share.

:func:`timed_training` runs a prepared Trainer under the job's device lease (:mod:`sumbench.training.lease`)
and returns a :class:`TimedRun`; :func:`measured_fields` turns it into the record fields every timed run
has (:class:`sumbench.records.Measured`), so both phases report speed and memory by one definition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sumbench.training.flops import (FLOPS_FORMULA, FlopParameters, device_peak_flops, model_flops_per_s,
                                     model_flops_utilization)
from sumbench.training.distributed import sum_over_ranks
from sumbench.training.lease import DeviceLease, Window
from sumbench.training.measure import StepRow, StepSummary, TrainMeasurement
from sumbench.training.memory import paged_state_note


@dataclass(frozen=True)
class Hardware:
    """What MFU needs to know about where a run trained."""

    device_name: str | None  # torch.cuda.get_device_name(), None on a CPU
    compute_dtype: str  # bfloat16 | float16 | tfloat32 | float32: the dtype the matmuls ran in
    flop_params: FlopParameters
    finetune: str  # full | lora


@dataclass(frozen=True)
class TimedRun:
    rows: list[StepRow]
    summary: StepSummary
    window: Window
    wall_s: float  # trainer.train(), warm-up steps included
    mfu: float | None
    peak_flops: float | None
    flops_formula: str
    compute_dtype: str
    memory_note: str | None  # what the peak leaves out (sumbench.training.memory.paged_state_note)
    loss_path: str | None  # summary | full: the Trainer's LossPath (None: a Trainer not made by make_trainer)
    loss_path_reason: str | None
    deepspeed: str = "off"
    deepspeed_ops_s: dict[str, float] | None = None  # DeepSpeed ops loaded before the window, seconds each


def new_measurement() -> TrainMeasurement:
    """A measurement wired to this process's device (CUDA clocks, events and allocator stats, or the CPU's)."""
    import torch

    from sumbench.training.measure import Clock, MicroTimer
    from sumbench.training.memory import MemoryProbe

    cuda = torch.cuda if torch.cuda.is_available() else None
    return TrainMeasurement(clock=Clock(cuda), memory=MemoryProbe(cuda), micro=MicroTimer(cuda))


def timed_training(trainer, measurement: TrainMeasurement, lease: DeviceLease, warmup_steps: int,
                   hardware: Hardware) -> TimedRun:
    """``trainer.train()`` inside one timed window; raises what training raises (the caller records it)."""
    with lease.window() as clock:
        started = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - started
    measurement.rows = sum_over_ranks(measurement.rows)  # throughput counts every rank's samples and tokens
    summary = measurement.summary(warmup_steps)
    setup = getattr(trainer, "setup", None)  # sumbench.training.distributed.TrainerSetup
    peak = device_peak_flops(hardware.device_name, hardware.compute_dtype)
    source = summary.source_tokens_per_s or 0.0
    target = summary.target_tokens_per_s or 0.0
    seq2seq = bool(hardware.flop_params.encoder)
    loss_path = getattr(trainer, "loss_path", None)
    summary_logits = loss_path is not None and loss_path.logits == "summary"  # the head only at label positions
    head_tokens = summary.loss_tokens_per_s if summary_logits and not seq2seq else \
        (target if seq2seq else source)
    flops = model_flops_per_s(hardware.flop_params, hardware.finetune, source_tokens_per_s=source,
                              target_tokens_per_s=target, head_tokens_per_s=head_tokens or 0.0)
    optim = getattr(trainer.args.optim, "value", trainer.args.optim)  # the optimizer the Trainer built
    return TimedRun(rows=measurement.rows, summary=summary, window=clock.window, wall_s=wall,
                    mfu=model_flops_utilization(flops, peak, summary.world_size), peak_flops=peak,
                    flops_formula=FLOPS_FORMULA[hardware.finetune], compute_dtype=hardware.compute_dtype,
                    memory_note=paged_state_note(str(optim), summary.memory.memory_kind),
                    loss_path=loss_path.logits if loss_path else None,
                    loss_path_reason=loss_path.reason if loss_path else None,
                    deepspeed=setup.deepspeed if setup else "off", deepspeed_ops_s=dict(setup.ops_s) if setup else {})


def measured_fields(run: TimedRun) -> dict[str, Any]:
    """The :class:`~sumbench.records.Measured` fields of a run, by name."""
    s, m, w = run.summary, run.summary.memory, run.window
    return dict(
        steps=s.steps, warmup_steps=s.warmup_steps, s_per_step_median=s.s_per_step_median,
        s_per_step_p10=s.s_per_step_p10, s_per_step_p90=s.s_per_step_p90, micro_step_s_median=s.micro_step_s_median,
        samples_per_s=s.samples_per_s, tokens_per_s=s.tokens_per_s, tokens_counted=s.tokens_counted,
        source_tokens_per_s=s.source_tokens_per_s, target_tokens_per_s=s.target_tokens_per_s,
        loss_tokens_per_s=s.loss_tokens_per_s, padded_tokens_per_s=s.padded_tokens_per_s, world_size=s.world_size,
        deepspeed=run.deepspeed, deepspeed_ops_s=run.deepspeed_ops_s or {},
        mfu=run.mfu, flops_formula=run.flops_formula, device_peak_flops=run.peak_flops,
        compute_dtype=run.compute_dtype, memory_note=run.memory_note,
        loss_path=run.loss_path, loss_path_reason=run.loss_path_reason,
        memory_kind=m.memory_kind, peak_memory_bytes=m.peak_memory_bytes, cpu_peak_rss_bytes=m.cpu_peak_rss_bytes,
        cpu_rss_rise_bytes=m.cpu_rss_rise_bytes, cuda_max_reserved_bytes=m.cuda_max_reserved_bytes,
        cuda_device_total_bytes=m.cuda_device_total_bytes, cuda_alloc_retries=m.cuda_alloc_retries,
        host_memory_bytes=m.host_memory_bytes, cgroup_memory_limit_bytes=m.cgroup_memory_limit_bytes,
        grad_norm_first=s.grad_norm_first, grad_norm_median=s.grad_norm_median, grad_norm_max=s.grad_norm_max,
        grad_norm_spikes=list(s.grad_norm_spikes), train_loss_first=s.train_loss_first,
        train_loss_last=s.train_loss_last, padding_efficiency=s.padding_efficiency,
        source_padding_efficiency=s.source_padding_efficiency, target_padding_efficiency=s.target_padding_efficiency,
        device=w.device, window_start=w.start, window_end=w.end, exclusive=w.exclusive, lock_wait_s=w.waited_s)


def hardware_of(model, spec) -> Hardware:
    """The :class:`Hardware` of a loaded model under ``spec`` on this process's device."""
    import torch

    from sumbench.training.flops import flop_parameters

    cuda = torch.cuda.is_available()
    return Hardware(device_name=torch.cuda.get_device_name(0) if cuda else None,
                    compute_dtype=compute_dtype_name(spec, cuda),
                    flop_params=flop_parameters(model, seq2seq=spec.kind == "seq2seq"), finetune=spec.finetune)


def compute_dtype_name(spec, cuda_available: bool) -> str:
    """The dtype matmuls run in: the autocast dtype (the 4-bit compute dtype under QLoRA), tf32 where fp32
    matmuls may use TF32 tensor cores."""
    import torch

    from sumbench.training.device import device_precision

    precision = device_precision(spec)
    dtype = precision.quant_compute or precision.compute
    name = str(dtype).removeprefix("torch.")
    if name == "float32" and cuda_available and torch.backends.cuda.matmul.allow_tf32:
        return "tfloat32"
    return name


class AnalyserLoad:
    """Load the Korean analyzers ROUGE needs in a background thread, started before the job's imports.

    Kiwi's and Mecab-ko's models load in C++ without the GIL (~1-2.5 s each), so they finish while Python imports
    torch and transformers (~6 s); :meth:`wait` joins before anything is timed or scored.
    """

    def __init__(self, analyzers: tuple[str, ...]):
        import threading

        self.seconds: float | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._load, args=(analyzers,), daemon=True)
        self._thread.start()

    def _load(self, analyzers: tuple[str, ...]) -> None:
        from sumbench.evaluation.analyzers import load

        started = time.perf_counter()
        try:
            for name in analyzers:
                load(name)
        except Exception as exc:  # noqa: BLE001 - raised again in the job's own thread, by wait()
            self._error = exc
        self.seconds = time.perf_counter() - started

    def wait(self) -> float | None:
        """Seconds the load took (in the background); a load that failed raises its error here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.seconds
