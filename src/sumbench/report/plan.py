"""The plan as Markdown: what ``sumbench plan`` prints and the report's plan section (one renderer for both).

Hours are predicted seconds / 3600 of one device (GPU-hours on a GPU, CPU-hours on a CPU): training from
measured samples/s, plus loading, evaluation and generation where the profile measured them.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from sumbench.records import SECONDS_PER_HOUR
from sumbench.records.plan import ModelPlan, PlanRecord, QualityJobRecord
from sumbench.report.formatting import MISSING

STAGES = {"before-profile": "before the profile (throughputs from a file or unknown)",
          "after-profile": "after the profile (throughputs and costs measured here)"}


def hours(seconds: float | None) -> str:
    """Hours; under an hour also the seconds, so a CPU quick test's minutes stay readable."""
    if seconds is None:
        return MISSING
    h = seconds / SECONDS_PER_HOUR
    return f"{h:,.2f}" if h >= 1 else f"{h:.3f} ({seconds:,.0f} s)"


def _total(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def render_plan(plan: PlanRecord, heading: str = "##") -> list[str]:
    folds = f"{plan.k_folds} fold(s)"
    caps = ", ".join("all" if c is None else str(c) for c in plan.max_train_samples)
    out = [f"{heading} Plan: {plan.grid}, {STAGES.get(plan.stage, plan.stage)}", "",
           f"Quality phase: each effective batch trains once per fold with its fastest split (and DeepSpeed setting, "
           f"where the profile timed some that proved equivalent) ({folds}; "
           f"max_train_samples {caps}). Naive: every bs x ga split trained to convergence on every fold."
           + (f" Budget: **{plan.budget_hours:g} h** for the quality phase." if plan.budget_hours else ""), "",
           "| model | throughput from | GA equivalent | cells | steps | samples | planned h | naive steps "
           "| naive h |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for m in plan.models:
        cells = sum(c.model == m.model for c in plan.cells)
        equivalent = {True: "yes", False: "**no**: every split trains", None: MISSING}[m.ga_equivalent]
        out.append(f"| {m.model} | {m.throughput_source.split(' (')[0]} | {equivalent} | {cells} | "
                   f"{m.quality_steps:,} | {m.quality_samples:,} | {hours(m.quality_s)} | {m.naive_steps:,} | "
                   f"{hours(m.naive_s)} |")
    planned, naive = _total([m.quality_s for m in plan.models]), _total([m.naive_s for m in plan.models])
    out.append(f"| **total** |  |  | {len(plan.cells)} | {sum(m.quality_steps for m in plan.models):,} | "
               f"{sum(m.quality_samples for m in plan.models):,} | **{hours(planned)}** | "
               f"{sum(m.naive_steps for m in plan.models):,} | **{hours(naive)}** |")
    if planned and naive:
        out += ["", f"Planned {hours(planned)} h instead of {hours(naive)} h naive: {naive / planned:.1f}x less."]
    profile = _total([m.profile_s for m in plan.models])
    if profile is not None:
        out += ["", f"The profile phase took {hours(profile)} h (measured)." if plan.stage == "after-profile" else
                f"The profile phase is predicted to take {hours(profile)} h (its timed steps only)."]
    out += render_jobs(plan)
    if plan.decisions:
        out += ["", "Trade-offs and decisions:", ""] + [f"- {d}" for d in plan.decisions]
    out += _pruned(plan.models)
    if plan.notes:
        out += ["", "Assumptions:", ""] + [f"- {n}" for n in plan.notes]
    return out + [""]


def render_jobs(plan: PlanRecord) -> list[str]:
    """The quality jobs per model with what they ask the scheduler for, and the plan's wall time on N GPUs."""
    if not plan.jobs:
        return []
    out = ["", "Quality jobs (each asks for its predicted time with a margin plus start-up):", "",
           "| model | jobs | GPUs per job | cells per job | longest job h | longest request h |",
           "|---|---:|---:|---|---:|---:|"]
    for m in plan.models:
        jobs = [j for j in plan.jobs if j.model == m.model]
        if not jobs:
            continue
        known = [j.predicted_s for j in jobs if j.predicted_s is not None]
        out.append(f"| {m.model} | {len(jobs)} | {jobs[0].gpus} | {', '.join(str(len(j.cells)) for j in jobs)} | "
                   f"{hours(max(known)) if known else MISSING} | {max(j.runtime_min for j in jobs) / 60:,.2f} |")
    if not plan.wall_times:
        return out
    out += ["", "Wall time on N GPUs (list scheduling, longest job first, each job on its model's GPUs; a CPU job takes "
                "one worker; the quality phase starts when every profile has finished):", "",
            "| GPUs | profile phase h | quality phase h | total h |", "|---:|---:|---:|---:|"]
    missing = []
    for w in plan.wall_times:
        out.append(f"| {w.gpus} | {hours(w.profile_s)} | {hours(w.quality_s)} | **{hours(w.total_s)}** |")
        missing += [f"- {w.gpus} GPUs: {w.why}"] if w.why else []
    return out + ([""] + missing if missing else [])


def _pruned(models: list[ModelPlan]) -> list[str]:
    lines = [f"- {m.model} {label}: {why}" for m in models for label, why in sorted(m.pruned.items())]
    lines += [f"- {m.model}: effective batch {eb} dropped: {why}" for m in models
              for eb, why in sorted(m.dropped_effective_batches.items())]
    return ["", "Pruned and dropped:", ""] + lines if lines else []


def predicted_vs_measured(plan: PlanRecord, jobs: list[QualityJobRecord]) -> list[str]:
    """The plan's predicted quality-phase time beside the measured one (the model's jobs' wall times minus waiting
    for another job's timed window, summed), per model and in total."""
    rows, pred_total, meas_total = [], 0.0, 0.0
    for m in plan.models:
        mine = [j for j in jobs if j.model == m.model]
        if not mine or any(j.wall_s is None for j in mine):
            continue
        measured = sum(j.wall_s - j.lock_wait_s for j in mine)
        resumed = sum(j.resumed for j in mine)
        rows.append(f"| {m.model} | {hours(m.quality_s)} | {hours(measured)} | "
                    + (f"{measured / m.quality_s - 1:+.0%}" if m.quality_s else MISSING)
                    + (f" ({resumed} cells resumed)" if resumed else "") + " |")
        if m.quality_s is not None:
            pred_total, meas_total = pred_total + m.quality_s, meas_total + measured
    if not rows:
        return []
    out = ["| model | predicted h | measured h | error |", "|---|---:|---:|---:|", *rows]
    if pred_total:
        out.append(f"| **total** | {hours(pred_total)} | {hours(meas_total)} | {meas_total / pred_total - 1:+.0%} |")
    return out


def plan_outcome(plan: PlanRecord, jobs: Sequence[QualityJobRecord]) -> list[str]:
    """The report's opening: the predicted quality-phase time beside the measured one, and the naive cost the plan
    avoided, each figure defined in one sentence."""
    out = ["## Predicted vs measured", "",
           "- **Predicted**: the plan's time for the quality phase, every planned cell trained and evaluated.",
           "- **Measured**: the model's quality jobs' wall times minus the time they waited for another job's timed "
           "window, summed.",
           "- **Naive**: every bs x ga split of the grid trained to convergence on every fold.", ""]
    out += predicted_vs_measured(plan, list(jobs)) or ["_No quality job has finished yet._"]
    planned, naive = _total([m.quality_s for m in plan.models]), _total([m.naive_s for m in plan.models])
    if planned is not None and naive is not None:
        ratio = f" ({naive / planned:.1f}x less)" if planned else ""
        out += ["", f"Naive cost **{hours(naive)} h**, planned **{hours(planned)} h**: the plan avoided "
                    f"{hours(naive - planned)} h{ratio}."]
    return out + [""]


def predicted_cell_s(plan: PlanRecord, model: str, augmentation: str, cap: int | None, batch_size: int,
                     grad_accum: int) -> float | None:
    """The plan's predicted seconds of one full training of this cell (training and its evaluation), mean over the
    folds that have a prediction."""
    known = [c.predicted_s for c in plan.cells if c.predicted_s is not None and c.model == model
             and c.augmentation == augmentation and c.max_train_samples == cap and c.batch_size == batch_size
             and c.grad_accum == grad_accum]
    return statistics.mean(known) if known else None
