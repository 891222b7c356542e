"""The plan: which trainings the quality phase runs, and what the grid costs, naive and planned.

Quality depends on the effective batch, not on its split (sumbench makes gradient accumulation
loss-equivalent and the profile proves it per model), so each effective batch trains once per fold, with
its fastest split in the profile (samples/s). If a model's equivalence check failed, every split trains.
An effective batch whose every split ran out of memory is dropped; a model whose every split failed, for
whatever cause, is left out (a decision that names the causes), and the other models' cells are planned as usual.

Cost of one training, in seconds (each term measured in the model's profile; before the profile only the
training term is known, from a throughput file):

    samples / samples_per_s(split)                  training (samples = epochs x training examples, or steps x batch)
  + load + training examples x featurize            model loading and tokenization
  + eval examples x eval + (dev + held-out) x (generate + score)    eval loss, generation, ROUGE

plus, once per quality job (one per model, or several: sumbench.planning.jobs), process start-up and the analyser's
load. The naive cost is the same sum over every split of the grid (what training all of them to convergence would take).

A grid's ``budget_hours`` fits the quality phase into the budget by, in this order: fewer folds (never
below 2), a ``max_train_samples`` cap, then dropping effective batches, most expensive first. Each
trade-off is a line in ``decisions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sumbench.config.grid import Grid
from sumbench.planning.throughput import Rates
from sumbench.records import SECONDS_PER_HOUR, Costs, ModelProfile, cap_label, split_label
from sumbench.records.plan import ModelPlan, PlanRecord, PlannedCell

MIN_FOLDS = 2
MIN_CAP_FRACTION = 0.10  # a budget never caps training below this share of a fold's training part


@dataclass(frozen=True)
class DataSizes:
    """Example counts the costs scale with (fold 0's, as `sumbench data split` deals them)."""

    train: int  # a fold's training part
    heldout: int  # a fold's held-out part (dev when k_folds is 1)
    dev: int


def data_sizes(n_train: int, n_dev: int, k_folds: int, max_eval_samples: int | None) -> DataSizes:
    heldout = n_dev if k_folds == 1 else math.ceil(n_train / k_folds)
    cap = max_eval_samples or max(heldout, n_dev)
    return DataSizes(train=n_train - (0 if k_folds == 1 else heldout), heldout=min(heldout, cap), dev=min(n_dev, cap))


@dataclass(frozen=True)
class ModelInputs:
    """What the planner knows of one model."""

    epochs: float
    augment_ratio: float  # copies per original example, per augmentation method
    rates: Rates
    costs: Costs | None = None  # from the profile
    profile: ModelProfile | None = None
    gpus: int = 1  # GPUs one of its jobs holds (resources.gpus)
    runtime_min: int = 60  # its YAML's runtime: a job's request when nothing predicts it


def training_examples(originals: int, augmentation: str, ratio: float) -> int:
    methods = 0 if augmentation == "none" else len(augmentation.split("+"))
    return originals + methods * round(ratio * originals)


def steps_and_samples(grid: Grid, examples: int, epochs: float, batch_size: int, grad_accum: int) -> tuple[int, int]:
    """Optimizer steps and samples of a full training, as the Trainer counts them."""
    if grid.max_steps:
        return grid.max_steps, grid.max_steps * batch_size * grad_accum
    per_epoch = math.ceil(math.ceil(examples / batch_size) / grad_accum)
    return math.ceil(epochs * per_epoch), round(epochs * examples)


def cell_seconds(samples: int, examples: int, rate: float | None, costs: Costs | None, sizes: DataSizes,
                 curve_evaluations: int = 0) -> float | None:
    """A quality training's seconds: its samples at the profiled rate; then, where the profile measured them, the
    Trainer's set-up, loading, featurizing, the learning curve's and the final eval-loss passes on the held-out part,
    and generating and scoring dev and held-out summaries."""
    if not rate:
        return None
    seconds = samples / rate
    if costs is not None:
        c = costs
        seconds += (c.load_s or 0) + (c.train_setup_s or 0) + examples * (c.featurize_s_per_example or 0)
        seconds += (1 + curve_evaluations) * (sizes.heldout or sizes.dev) * (c.eval_s_per_example or 0)
        seconds += (sizes.dev + sizes.heldout) * ((c.generate_s_per_example or 0) + (c.score_s_per_example or 0))
    return seconds


def job_seconds(costs: Costs | None) -> float:
    """A job's start-up: the analyzers load in a background thread while the imports run, so the later of the two."""
    return 0.0 if costs is None else max(costs.startup_s or 0, costs.analyser_load_s or 0)


@dataclass(frozen=True)
class Choice:
    """One training of an effective batch: its split, the DeepSpeed setting it trains under, and why."""

    batch_size: int
    grad_accum: int
    deepspeed: str
    reason: str


def candidates(profile: ModelProfile | None) -> tuple[list[str], dict[str, str]]:
    """The DeepSpeed settings a quality cell may train under ("off" first) and why each other profiled one may not:
    a setting is a candidate once its equivalence check passed (same loss and gradient norm as no DeepSpeed)."""
    if profile is None:
        return ["off"], {}
    checks = {c.setting: c for c in profile.deepspeed_checks}
    profiled = list(dict.fromkeys(s.deepspeed for s in profile.splits if s.deepspeed != "off"))
    barred = {name: (f"its equivalence check {checks[name].status}ed: {checks[name].detail}" if name in checks
                     else "no equivalence check ran") for name in profiled
              if name not in checks or checks[name].status != "pass"}
    return ["off"] + [n for n in profiled if n not in barred], barred


def choose_splits(grid: Grid, model: str, inputs: ModelInputs) -> tuple[dict[int, list[Choice]], dict[str, str],
                                                                         dict[int, str], bool | None]:
    """Per effective batch, the trainings to run (split and DeepSpeed setting) and why; the pruned splits; the
    dropped effective batches; and the model's GA-equivalence result (None before the profile).

    Each effective batch trains under its fastest (samples/s) split and setting that ran in the profile: a DeepSpeed
    setting competes once its equivalence check passed, so a split that runs out of memory without DeepSpeed may
    still train with, e.g., the optimizer offloaded. With a failed GA check, every split trains, each under its
    fastest setting."""
    profile = inputs.profile
    status = {s.label: s for s in profile.splits if not s.remeasured} if profile else {}
    pruned = {label: (s.message or s.status) for label, s in status.items() if s.status in ("oom", "skipped")}
    equivalent = None if profile is None or profile.ga_check is None else profile.ga_check.status == "pass"
    settings, _ = candidates(profile)

    def ran(b: int, g: int, ds: str) -> bool:
        label = split_label(b, g, ds)
        return (not status and ds == "off") or (label in status and status[label].status == "ok")

    def fastest(eb: int, options: list[tuple[int, int, str]], what: str, why: str = "") -> Choice:
        rated = sorted(((rate, b, g, ds) for b, g, ds in options if (rate := inputs.rates.of(b, g, ds))),
                       reverse=True)
        if not rated:  # no figure yet: the largest micro-batch without DeepSpeed
            b, g, ds = min(options, key=lambda o: (o[2] != "off", -o[0], o[1]))
            return Choice(b, g, ds, f"{why}no throughput known for effective batch {eb} yet: the largest "
                                    f"micro-batch, {split_label(b, g, ds)}")
        rate, b, g, ds = rated[0]
        others = ", ".join(f"{split_label(b2, g2, d2)} {r2:.3g}" for r2, b2, g2, d2 in rated[1:])
        return Choice(b, g, ds, f"{why}fastest {what}: {split_label(b, g, ds)} at {rate:.3g} samples/s "
                                f"({inputs.rates.source.split(' (')[0]}" + (f"; others: {others})" if others else ")"))

    chosen: dict[int, list[Choice]] = {}
    dropped: dict[int, str] = {}
    for eb in sorted({b * g for b in grid.batch_sizes for g in grid.grad_accum}):
        splits = [(b, g) for b in grid.batch_sizes for g in grid.grad_accum if b * g == eb]
        viable = [(b, g, ds) for b, g in splits for ds in settings if ran(b, g, ds)]
        if not viable:
            dropped[eb] = "every split ran out of memory or failed in the profile: " + \
                ", ".join(f"{label} {status[label].status}" for b, g in splits for ds in settings
                          if (label := split_label(b, g, ds)) in status)
            continue
        if equivalent is False:
            why = f"every split of effective batch {eb} trains: {model}'s gradient-accumulation check failed " \
                  f"({profile.ga_check.detail}); "
            chosen[eb] = [fastest(eb, [o for o in viable if o[:2] == (b, g)], f"setting of {split_label(b, g)}", why)
                          for b, g in dict.fromkeys(o[:2] for o in viable)]
            continue
        chosen[eb] = [fastest(eb, viable, f"split of effective batch {eb}")]
    return chosen, pruned, dropped, equivalent


def plan_cells(grid: Grid, name: str, inputs: ModelInputs, sizes: DataSizes, folds: list[int],
               caps: list[int | None], chosen: dict[int, list[Choice]]) -> list[PlannedCell]:
    cells = []
    for aug in grid.augmentation:
        for cap in caps:
            originals = min(cap or sizes.train, sizes.train)
            examples = training_examples(originals, aug, inputs.augment_ratio)
            for eb in sorted(chosen):
                for c in chosen[eb]:
                    b, g = c.batch_size, c.grad_accum
                    steps, samples = steps_and_samples(grid, examples, inputs.epochs, b, g)
                    seconds = cell_seconds(samples, examples, inputs.rates.of(b, g, c.deepspeed), inputs.costs, sizes,
                                           grid.curve_evaluations(steps, b * g))
                    cells += [PlannedCell(model=name, augmentation=aug, max_train_samples=cap, batch_size=b,
                                          grad_accum=g, fold=f, steps=steps, samples=samples, predicted_s=seconds,
                                          split_reason=c.reason, deepspeed=c.deepspeed) for f in folds]
    return cells


def naive(grid: Grid, name: str, inputs: ModelInputs, sizes: DataSizes, pruned: dict[str, str]) -> tuple[int, int,
                                                                                                       float | None]:
    """Steps, samples and seconds of training every split of the grid (that fits in memory) on every fold."""
    steps = samples = 0
    seconds: float | None = job_seconds(inputs.costs)
    for aug in grid.augmentation:
        for cap in grid.max_train_samples:
            examples = training_examples(min(cap or sizes.train, sizes.train), aug, inputs.augment_ratio)
            for b in grid.batch_sizes:
                for g in grid.grad_accum:
                    if split_label(b, g) in pruned:
                        continue
                    st, sa = steps_and_samples(grid, examples, inputs.epochs, b, g)
                    cell = cell_seconds(sa, examples, inputs.rates.of(b, g), inputs.costs, sizes,
                                        grid.curve_evaluations(st, b * g))
                    steps, samples = steps + st * grid.k_folds, samples + sa * grid.k_folds
                    seconds = None if cell is None or seconds is None else seconds + cell * grid.k_folds
    return steps, samples, seconds


def quality_seconds(cells: list[PlannedCell], inputs: ModelInputs) -> float | None:
    if not cells:
        return 0.0
    if any(c.predicted_s is None for c in cells):
        return None
    return job_seconds(inputs.costs) + sum(c.predicted_s for c in cells)


def make_plan(grid: Grid, inputs: dict[str, ModelInputs], sizes: DataSizes, stage: str) -> PlanRecord:
    """The plan of ``grid``: every model's quality cells and costs, fitted into ``grid.budget_hours`` if set."""
    folds, caps = list(range(grid.k_folds)), list(grid.max_train_samples)
    choices = {m: choose_splits(grid, m, inputs[m]) for m in grid.models}
    failed = {m: inputs[m].profile.failed() if inputs[m].profile else None for m in grid.models}
    decisions = [f"{m}: left out of the quality phase: {why}" for m, why in failed.items() if why]
    notes = _notes(grid, inputs, stage)

    def build(folds, caps, dropped_extra) -> tuple[list[ModelPlan], list[PlannedCell]]:
        plans, all_cells = [], []
        for m in grid.models:
            chosen, pruned, dropped, equivalent = choices[m]
            chosen = {eb: s for eb, s in chosen.items() if (m, eb) not in dropped_extra}
            dropped = {**dropped, **{eb: why for (mm, eb), why in dropped_extra.items() if mm == m}}
            cells = plan_cells(grid, m, inputs[m], sizes, folds, caps, chosen)
            steps, samples, naive_s = naive(grid, m, inputs[m], sizes, pruned)
            profile = inputs[m].profile
            plans.append(ModelPlan(
                model=m, throughput_source=inputs[m].rates.source, samples_per_s=dict(inputs[m].rates.samples_per_s),
                ga_equivalent=None if failed[m] else equivalent, pruned=pruned, left_out=failed[m],
                dropped_effective_batches=dropped,
                profile_s=profile.wall_s if profile else None, quality_jobs=1 if cells else 0,
                quality_steps=sum(c.steps for c in cells), quality_samples=sum(c.samples for c in cells),
                quality_s=quality_seconds(cells, inputs[m]), naive_steps=steps, naive_samples=samples, naive_s=naive_s))
            all_cells += cells
        return plans, all_cells

    dropped_extra: dict[tuple[str, int], str] = {}
    plans, cells = build(folds, caps, dropped_extra)
    if grid.budget_hours is not None:
        plans, cells, folds, caps = _fit_budget(grid, build, plans, cells, folds, caps, dropped_extra, sizes,
                                                decisions)
    from sumbench.planning.jobs import plan_jobs

    jobs = plan_jobs(grid, cells, plans, inputs, notes)
    return PlanRecord(grid=grid.name, stage=stage, budget_hours=grid.budget_hours, k_folds=len(folds), folds=folds,
                      max_train_samples=caps, decisions=decisions, notes=notes, models=plans, cells=cells, jobs=jobs)


def _hours(plans: list[ModelPlan]) -> float:
    return sum(p.quality_s or 0.0 for p in plans) / SECONDS_PER_HOUR


def _fit_budget(grid, build, plans, cells, folds, caps, dropped_extra, sizes, decisions):
    budget = grid.budget_hours
    unknown = [p.model for p in plans if p.quality_s is None]
    if unknown:
        decisions.append(f"no throughput for {', '.join(unknown)}: their hours are not in the budget's total")
    if _hours(plans) <= budget:
        decisions.append(f"the quality phase fits the budget as configured: {_hours(plans):.1f} h <= {budget:g} h")
        return plans, cells, folds, caps
    # 1. fewer folds, never below MIN_FOLDS
    for k in range(len(folds) - 1, MIN_FOLDS - 1, -1):
        before = _hours(plans)
        plans, cells = build(folds[:k], caps, dropped_extra)
        decisions.append(f"folds {len(folds)} -> {k}: {before:.1f} h -> {_hours(plans):.1f} h "
                         f"(fold-to-fold noise is then estimated from {k} folds)")
        folds = folds[:k]
        if _hours(plans) <= budget:
            return plans, cells, folds, caps
    # 2. a cap on training examples (the largest that fits; never below MIN_CAP_FRACTION of a fold's training part)
    if grid.max_steps:
        decisions.append("no max_train_samples cap: the grid fixes max_steps, so fewer examples would not save steps")
    else:
        floor = max(1, math.ceil(MIN_CAP_FRACTION * sizes.train))
        lo, hi, before = floor, sizes.train, _hours(plans)
        capped = lambda c: [min(x, c) if x else c for x in caps]  # noqa: E731
        while lo < hi:  # the largest cap whose plan fits
            mid = (lo + hi + 1) // 2
            if _hours(build(folds, sorted(set(capped(mid)), key=lambda x: x), dropped_extra)[0]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        caps = sorted(set(capped(lo)))
        plans, cells = build(folds, caps, dropped_extra)
        decisions.append(f"max_train_samples {', '.join(cap_label(c) for c in grid.max_train_samples)} -> "
                         f"{', '.join(cap_label(c) for c in caps)} ({lo / sizes.train:.0%} of a fold's "
                         f"{sizes.train} training examples): {before:.1f} h -> {_hours(plans):.1f} h")
        if _hours(plans) <= budget:
            return plans, cells, folds, caps
    # 3. drop effective batches, the most expensive first, keeping at least one per model
    while _hours(plans) > budget:
        cost: dict[tuple[str, int], float] = {}
        for c in cells:
            cost[(c.model, c.batch_size * c.grad_accum)] = cost.get((c.model, c.batch_size * c.grad_accum), 0.0) + \
                (c.predicted_s or 0.0)
        per_model = {}
        for m, eb in cost:
            per_model[m] = per_model.get(m, 0) + 1
        candidates = [(s, key) for key, s in cost.items() if per_model[key[0]] > 1]
        if not candidates:
            decisions.append(f"cannot fit {budget:g} h: the smallest plan (one effective batch per model, "
                             f"{len(folds)} folds, the smallest cap) takes {_hours(plans):.1f} h")
            break
        seconds, (model, eb) = max(candidates)
        before = _hours(plans)
        dropped_extra[(model, eb)] = f"dropped to fit the budget of {budget:g} h ({seconds / SECONDS_PER_HOUR:.1f} h)"
        plans, cells = build(folds, caps, dropped_extra)
        decisions.append(f"{model}: effective batch {eb} dropped: {before:.1f} h -> {_hours(plans):.1f} h")
    return plans, cells, folds, caps


def _notes(grid: Grid, inputs: dict[str, ModelInputs], stage: str) -> list[str]:
    notes = []
    if stage == "before-profile":
        notes.append("before the profile: training time only (samples / samples/s); loading, evaluation and "
                     "generation are measured by the profile and added after it; the profile phase's time is its "
                     "timed steps at the same samples/s")
    for m in grid.models:
        for name, why in candidates(inputs[m].profile)[1].items():
            notes.append(f"{m}: DeepSpeed {name} trains no quality cell: {why}")
        r = inputs[m].rates
        if r.source == "unknown":
            notes.append(f"{m}: no throughput known (no profile, not in the throughput file, no model of its kind "
                         f"to scale from): left out of every total")
        elif r.source.startswith("scaled"):
            notes.append(f"{m}: throughput {r.source}")
        if r.assumed:
            by_donor: dict[str, list[str]] = {}
            for label, donor in r.assumed.items():
                by_donor.setdefault(donor, []).append(label)
            notes.append(f"{m}: splits without a figure take the samples/s of the nearest split that has one: "
                         + "; ".join(f"{', '.join(labels)} from {donor}" for donor, labels in by_donor.items()))
    return notes
