"""What benchmarks/gpu_check.py judges, and its seams into the package: pure, so the CPU tests drive them with fakes.

The checks read a cell's records (metrics.json, train_log.jsonl, predictions.jsonl) or numbers the run gathered;
:func:`render_table` makes the one verdict table; :class:`SyncGuard` and :class:`MemoryWatch` wrap the package
functions the workflow's phases call (``timed_training``, ``run_cell``), so the check runs the package's code, not
a copy of it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIB = 2**20
WARMUP = 2  # steps before the timed ones: not timed, not sync-checked (first-use allocations, kernel selection)
MEMORY_SLACK_BYTES = 64 * MIB  # what may stay allocated after a cell: cuBLAS workspaces, CUDA RNG state
SYNC_WARNING = "called a synchronizing CUDA operation"  # torch's words under set_sync_debug_mode("warn")
# transformers 5 reads each attention mask (a causal LM without one: its position ids) on the host to choose SDPA's
# is_causal or no mask over a materialized one: a sync sumbench cannot avoid without changing the kernel it measures.
TRANSFORMERS_MASKS = "transformers/masking_utils.py"


# ------------------------------------------------------------------------------------------- checks (pure)
@dataclass(frozen=True)
class Check:
    ok: bool | None  # None: not applicable (shown as '-')
    detail: str = ""


SKIP = Check(None)


def loss_falls(losses: list[float]) -> Check:
    """The mean training loss of the last third of the logged steps is below that of the first third."""
    if len(losses) < 3:
        return Check(False, f"{len(losses)} logged losses: too few to tell")
    third = len(losses) // 3
    first, last = sum(losses[:third]) / third, sum(losses[-third:]) / third
    return Check(last < first, f"loss {first:.3f} -> {last:.3f}")


def grad_norm_positive(median: float | None, largest: float | None) -> Check:
    if median is None or largest is None:
        return Check(False, "no gradient norm logged")
    finite = largest == largest and largest != float("inf")
    return Check(median > 0 and finite, f"grad norm median {median:.3g}, max {largest:.3g}")


def generations_non_empty(predictions: list[dict]) -> Check:
    empty = sum(1 for p in predictions if not str(p.get("prediction", "")).strip())
    if not predictions:
        return Check(False, "no generations")
    return Check(empty == 0, f"{empty} of {len(predictions)} generations empty")


@dataclass(frozen=True)
class SyncTally:
    """What the sync guard saw over one run: timed steps checked, host syncs found (their sites), and the syncs
    allowed because transformers' attention-mask building made them."""

    armed: int = 0
    syncs: tuple[str, ...] = ()
    allowed: int = 0


def no_sync(tally: SyncTally, failed: bool = False) -> Check:
    """No host sync inside the run's timed steps (``tally.armed`` > 0 of them checked). A run that ``failed`` for
    another reason before its timed steps has nothing to judge ('-'; its status says why)."""
    if tally.syncs:
        return Check(False, f"{len(tally.syncs)} host sync(s) inside timed steps, first at {tally.syncs[0]}")
    if tally.armed == 0 and failed:
        return SKIP
    if tally.armed == 0:
        return Check(False, "no timed step ran under the sync check (the seam in sumbench.training.timed moved?)")
    return Check(True, f"{tally.armed} timed steps checked; {tally.allowed} mask read(s) by transformers allowed")


def memory_returned(baseline: int, after: int | None, live_models: int | None,
                    slack: int = MEMORY_SLACK_BYTES) -> Check:
    """Allocated bytes when the next cell starts (or the job ends) are back at ``baseline`` within ``slack``, and
    no model of an earlier cell is alive."""
    if after is None:
        return Check(False, "no reading after the cell (the seam in sumbench.training.cell moved?)")
    grown = after - baseline
    ok = grown <= slack and not live_models
    return Check(ok, f"{grown / MIB:+.1f} MiB over the baseline, {live_models} models alive")


def oom_pruned(splits: list[dict], batch: int) -> Check:
    """Micro-batch ``batch`` ran out of memory at grad accumulation 1 and every larger-GA split was skipped."""
    at = {(s["batch_size"], s["grad_accum"]): s["status"] for s in splits if not s.get("remeasured")}
    first = at.get((batch, 1))
    rest = [status for (bs, ga), status in at.items() if bs == batch and ga > 1]
    ok = first == "oom" and bool(rest) and all(s == "skipped" for s in rest)
    return Check(ok, f"bs{batch}: ga1 {first}, larger GA {', '.join(rest) or 'none'}")


def plan_check(planned: dict[str, list], ran: dict[str, set[tuple[int, int]]]) -> Check:
    """Every profiled model has planned cells, and each planned cell trains a split its profile ran (not one that
    ran out of memory or was pruned)."""
    missing = [m for m, ok_splits in ran.items() if ok_splits and not planned.get(m)]
    unrun = [f"{m} bs{c.batch_size}_ga{c.grad_accum}" for m, cells in planned.items() for c in cells
             if (c.batch_size, c.grad_accum) not in ran.get(m, set())]
    detail = f"cells per model {({m: len(c) for m, c in planned.items()})}"
    if missing:
        detail += f"; no cells for {', '.join(missing)}"
    if unrun:
        detail += f"; splits the profile did not run: {', '.join(unrun)}"
    return Check(not missing and not unrun, detail)


def read_cell(out: Path) -> tuple[dict, list[dict], list[dict]]:
    """metrics.json, train_log.jsonl and predictions.jsonl of a cell."""
    def lines(name: str) -> list[dict]:
        path = out / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    return json.loads((out / "metrics.json").read_text(encoding="utf-8")), lines("train_log.jsonl"), \
        lines("predictions.jsonl")


def cell_checks(out: Path, tally: SyncTally) -> tuple[dict, dict[str, Check]]:
    """The record of a cell and its checks: status, learned (loss, grad norm, generations), no sync."""
    metrics, log, predictions = read_cell(out)
    ok = metrics["status"] == "ok"
    checks = {
        "status": Check(ok, "" if ok else f"{metrics['status']} in {metrics.get('failed_phase')}: {metrics.get('message')}"),
        "loss falls": loss_falls([r["loss"] for r in log if r.get("loss") is not None]) if ok else SKIP,
        "grad>0": grad_norm_positive(metrics.get("grad_norm_median"), metrics.get("grad_norm_max")) if ok else SKIP,
        "generations": generations_non_empty(predictions) if ok else SKIP,
        "no sync": no_sync(tally, failed=not ok),
    }
    return metrics, checks


# ------------------------------------------------------------------------------------------- the verdict table
@dataclass
class Row:
    phase: str  # train | profile | plan | quality
    label: str
    where: str  # attention kernel, or the split / cell
    checks: dict[str, Check]
    peak_mib: float | None = None
    samples_per_s: float | None = None

    @property
    def failed(self) -> bool:
        return any(c.ok is False for c in self.checks.values())


COLUMNS = ("status", "loss falls", "grad>0", "generations", "no sync", "memory", "oom pruned", "planned")


def render_table(rows: list[Row]) -> str:
    """One table: a row per cell, profile, plan; a column per check (ok / FAIL / -); the failures' details below."""
    def mark(check: Check | None) -> str:
        return "-" if check is None or check.ok is None else ("ok" if check.ok else "FAIL")

    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    head = ["phase", "cell", "where", *COLUMNS, "peak MiB", "samples/s", "verdict"]
    body = [[r.phase, r.label, r.where, *(mark(r.checks.get(c)) for c in COLUMNS), num(r.peak_mib, 0),
             num(r.samples_per_s, 1), "FAIL" if r.failed else "ok"] for r in rows]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in [head, *body]]
    lines.insert(1, "-" * len(lines[0]))
    failures = [f"  {r.phase} {r.label} {r.where}: {name}: {c.detail}" for r in rows for name, c in r.checks.items()
                if c.ok is False]
    failed = sum(r.failed for r in rows)
    verdict = f"gpu_check: {'FAIL' if failed else 'PASS'}: {len(rows) - failed} of {len(rows)} rows pass"
    return "\n".join(lines + (["", "failures:", *failures] if failures else []) + ["", verdict])


# ------------------------------------------------------------------------------------------- seams into the package
class SyncGuard:
    """``set_sync_debug_mode("warn")`` over the micro-batches of each timed optimizer step, every sync's site kept.

    Wraps ``sumbench.training.timed.timed_training`` (what a profiled split and a quality cell both train through)
    and adds a Trainer callback after sumbench's measurement callback: ``on_step_begin`` arms the mode once the
    measurement has read its clock (the step's opening synchronization), ``on_pre_optimizer_step`` disarms it, so
    every forward, backward, token count and the Trainer's own per-micro-batch work are checked; the optimizer step
    (bitsandbytes' paged optimizers synchronize there by design) and the step's closing clock are not. The first
    ``skip`` steps (the warm-up) are not checked; ``armed`` counts the steps that were.

    'warn', not 'error': torch turns each sync into a Python warning raised where the Python code asked for it, so
    the guard can name the site and let transformers' own attention-mask reads through (counted in ``allowed``)
    while any other sync fails the check. A run that raises leaves the mode 'default'.
    """

    def __init__(self, cuda, skip: int = WARMUP):
        self.cuda, self.skip, self.armed, self._steps = cuda, skip, 0, 0
        self.syncs: list[str] = []
        self.allowed = 0

    def mark(self) -> SyncTally:
        return SyncTally(self.armed, tuple(self.syncs), self.allowed)

    def since(self, mark: SyncTally) -> SyncTally:
        """What the guard saw after ``mark`` (a run's own tally)."""
        return SyncTally(self.armed - mark.armed, tuple(self.syncs[len(mark.syncs):]), self.allowed - mark.allowed)

    def step_begin(self) -> None:
        self._steps += 1
        if self._steps > self.skip:
            self.cuda.set_sync_debug_mode("warn")
            self.armed += 1

    def disarm(self) -> None:
        self.cuda.set_sync_debug_mode("default")

    def saw_sync(self, stack: list[traceback.FrameSummary]) -> None:
        """A sync warned at ``stack`` (outermost frame first): allowed inside transformers' mask building, else
        kept with the innermost frame outside torch and the warnings machinery."""
        if any(frame.filename.endswith(TRANSFORMERS_MASKS) for frame in stack):
            self.allowed += 1
            return
        ours = [f for f in stack if "/torch/" not in f.filename and not f.filename.endswith(("warnings.py",
                                                                                              "gpu_check_verdict.py"))]
        site = ours[-1] if ours else stack[-1]
        self.syncs.append(f"{site.filename}:{site.lineno} ({site.name})")

    def callback(self):
        from transformers import TrainerCallback

        guard = self

        class _SyncGuardCallback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                guard.step_begin()

            def on_pre_optimizer_step(self, args, state, control, **kwargs):
                guard.disarm()

        return _SyncGuardCallback()

    def wrap(self, timed_training: Callable, make_callback: Callable | None = None) -> Callable:
        def guarded(trainer, *args, **kwargs):
            self._steps = 0
            trainer.add_callback((make_callback or self.callback)())
            with warnings.catch_warnings():  # restores the filters and showwarning afterwards
                shown = warnings.showwarning
                warnings.simplefilter("always")  # every sync, not once per site

                def show(message, category, filename, lineno, file=None, line=None):
                    if SYNC_WARNING in str(message):
                        self.saw_sync(traceback.extract_stack())
                    else:
                        shown(message, category, filename, lineno, file, line)

                warnings.showwarning = show
                try:
                    return timed_training(trainer, *args, **kwargs)
                finally:
                    self.disarm()

        return guarded


class MemoryWatch:
    """Wraps ``sumbench.training.cell.run_cell`` as the quality job calls it: reads allocated memory and the live
    models when each cell starts, i.e. after the job has let the previous cell go (no gc.collect() of ours)."""

    def __init__(self, allocated: Callable[[], int], live_models: Callable[[], int]):
        self.allocated, self.live_models = allocated, live_models
        self.readings: list[tuple[int, int]] = []

    def read(self) -> None:
        self.readings.append((self.allocated(), self.live_models()))

    def wrap(self, run_cell: Callable) -> Callable:
        def watched(*args, **kwargs):
            self.read()
            return run_cell(*args, **kwargs)

        return watched

    def after(self, cell_index: int) -> tuple[int | None, int | None]:
        """Allocated bytes and live models once cell ``cell_index`` (0-based) was done."""
        return self.readings[cell_index + 1] if cell_index + 1 < len(self.readings) else (None, None)


@contextlib.contextmanager
def patched(module, name: str, value) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def live_models() -> int:
    """transformers models still reachable or awaiting the garbage collector."""
    import warnings

    from transformers import PreTrainedModel

    with warnings.catch_warnings():  # isinstance() on every object touches deprecated module attributes too
        warnings.simplefilter("ignore")
        return sum(1 for o in gc.get_objects() if isinstance(o, PreTrainedModel))


def figures(metrics: dict) -> dict:
    peak = metrics.get("peak_memory_bytes")
    return {"peak_mib": None if peak is None else peak / MIB, "samples_per_s": metrics.get("samples_per_s")}
