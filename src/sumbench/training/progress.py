"""Progress of a long training: a line to the job's log every N optimizer steps, and a small file for
``sumbench status``.

    step 120/1558  loss 1.8421  grad norm 0.912  samples/s 4.83  ETA 1h 19m

The ETA is the steps left x the median of this run's last ``RECENT`` measured step times (its own
measurement, so it follows a run that slows down). By default a line is written every ``EVERY_S`` seconds
of training (a one-hour job writes ~100 lines); ``every_steps`` writes one every that many steps instead.
"""

from __future__ import annotations

import os
import socket
import statistics
import time
from pathlib import Path

from sumbench.io import atomic_write_json
from sumbench.training.measure import TrainMeasurement

EVERY_S = 36.0  # 3600 s / 100 lines
RECENT = 10  # step times the ETA is the median of


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"


class Progress:
    """Fed by the Trainer's callbacks (:func:`make_progress_callback`); prints and writes ``progress_file``."""

    def __init__(self, measurement: TrainMeasurement, *, label: str, every_steps: int | None = None,
                 every_s: float = EVERY_S, progress_file: Path | None = None, echo=print, clock=time.monotonic):
        self.measurement, self.label = measurement, label
        self.every_steps, self.every_s = every_steps, every_s
        self.progress_file, self.echo, self.clock = progress_file, echo, clock
        self._last = clock()
        self.lines: list[str] = []

    def eta_s(self, step: int, total: int) -> float | None:
        times = [r.step_time_s for r in self.measurement.rows[-RECENT:]]
        return statistics.median(times) * (total - step) if times else None

    def step_end(self, step: int, total: int) -> None:
        now = self.clock()
        due = step % self.every_steps == 0 if self.every_steps else now - self._last >= self.every_s
        if not due and step != total:
            return
        self._last = now
        rows = self.measurement.rows
        row = rows[-1] if rows else None
        eta = self.eta_s(step, total)
        parts = [f"{self.label}: step {step}/{total}"]
        if row is not None and row.loss is not None:
            parts.append(f"loss {row.loss:.4f}")
        if row is not None and row.grad_norm is not None:
            parts.append(f"grad norm {row.grad_norm:.3g}")
        if row is not None and row.step_time_s > 0:
            parts.append(f"samples/s {row.samples / row.step_time_s:.2f}")
        parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA ?")
        line = "  ".join(parts)
        self.lines.append(line)
        self.echo(line, flush=True)
        if self.progress_file is not None:
            atomic_write_json(self.progress_file, {"label": self.label, "step": step, "total": total, "eta_s": eta,
                                                   "updated": time.time(), "pid": os.getpid(),
                                                   "host": socket.gethostname()})


def make_progress_callback(progress: Progress):
    """A transformers TrainerCallback that reports after each optimizer step, once the step is measured and
    logged (add it after the measurement's callback)."""
    from transformers import TrainerCallback

    class _ProgressCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                progress.step_end(state.global_step, state.max_steps)

    return _ProgressCallback()
