"""The plan as Markdown: what ``sumbench plan`` prints and the report's plan section (one renderer for both).

Hours are predicted seconds / 3600 of one device (GPU-hours on a GPU, CPU-hours on a CPU): training from
measured samples/s, plus loading, evaluation and generation where the profile measured them.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from sumbench.records import SECONDS_PER_HOUR, ModelPlan, PlanRecord, QualityJobRecord
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
           f"Quality phase: each effective batch trains once per fold with its fastest split ({folds}; "
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
        out += ["", f"The profile phase took {hours(profile)} h (measured)."]
    if plan.decisions:
        out += ["", "Trade-offs and decisions:", ""] + [f"- {d}" for d in plan.decisions]
    out += _pruned(plan.models)
    if plan.notes:
        out += ["", "Assumptions:", ""] + [f"- {n}" for n in plan.notes]
    return out + [""]


def _pruned(models: list[ModelPlan]) -> list[str]:
    lines = [f"- {m.model} {label}: {why}" for m in models for label, why in sorted(m.pruned.items())]
    lines += [f"- {m.model}: effective batch {eb} dropped: {why}" for m in models
              for eb, why in sorted(m.dropped_effective_batches.items())]
    return ["", "Pruned and dropped:", ""] + lines if lines else []


def predicted_vs_measured(plan: PlanRecord, jobs: list[QualityJobRecord]) -> list[str]:
    """The plan's predicted quality-phase time beside the measured one (job wall time minus waiting for another
    job's timed window), per model and in total."""
    by_model = {j.model: j for j in jobs}
    rows, pred_total, meas_total = [], 0.0, 0.0
    for m in plan.models:
        job = by_model.get(m.model)
        if job is None or job.wall_s is None:
            continue
        measured = job.wall_s - job.lock_wait_s
        rows.append(f"| {m.model} | {hours(m.quality_s)} | {hours(measured)} | "
                    + (f"{measured / m.quality_s - 1:+.0%}" if m.quality_s else MISSING)
                    + (f" ({job.resumed} cells resumed)" if job.resumed else "") + " |")
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
           "- **Measured**: the quality job's wall time minus the time it waited for another job's timed window.",
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
