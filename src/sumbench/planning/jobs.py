"""How a model's planned quality cells are grouped into jobs, and what wall time each job asks the scheduler for.

``per_model`` (the default on one machine): one job per model, so its imports and the analyzers' load are paid once.
``fit`` (a cluster): each model's cells are packed, longest first, into as few jobs as keep every job's request within
``max_job_hours`` and, with ``gpus`` set, within the grid's share of N GPUs (its total work / N, never below its
longest cell), so that N GPUs work at once instead of waiting for the slowest model's trainings in a row. Stating
``max_job_hours`` or ``gpus`` without a grouping means ``fit``.

A job's request (Slurm ``--time``, the rule's ``runtime`` in minutes) is its predicted time with a margin plus start-up:

    ceil( cells' predicted seconds x margin + measured start-up seconds + startup_minutes x 60 ) minutes

where ``startup_minutes`` covers what the profile does not measure (node allocation, container start, file-system
latency). A cell whose request alone exceeds ``max_job_hours`` is a plan error. Cells without a prediction (no
throughput known) stay in one job per model that asks for ``max_job_hours`` (or the model YAML's ``runtime`` when no
limit is set): there is nothing to pack by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sumbench.config.grid import Grid
from sumbench.errors import ConfigError, SumbenchError
from sumbench.planning.plan import ModelInputs, job_seconds
from sumbench.planning.throughput import Rates
from sumbench.records import SECONDS_PER_HOUR, cap_label, split_label
from sumbench.records.plan import ModelPlan, PlannedCell, PlannedJob

GROUPINGS = ("per_model", "fit")
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True)
class JobSettings:
    """A grid's ``quality_jobs``: how its quality cells become jobs."""

    grouping: str | None = None  # None: fit when a limit or a GPU count is stated, else per_model
    max_job_hours: float | None = None  # the partition's MaxTime: no job asks for more
    gpus: int | None = None  # fit: the GPUs the quality phase spreads over
    margin: float = 1.5  # requested / predicted time of a job's cells
    startup_minutes: float = 5.0  # added to every request: what the profile does not measure

    def __post_init__(self) -> None:
        if self.grouping is None:
            object.__setattr__(self, "grouping", "fit" if self.max_job_hours or self.gpus else "per_model")
        if self.grouping not in GROUPINGS:
            raise ConfigError(f"quality_jobs.grouping: {self.grouping!r} is not one of {', '.join(GROUPINGS)}")
        if self.margin < 1:
            raise ConfigError(f"quality_jobs.margin: {self.margin} is below 1 (a request shorter than the prediction)")

    @classmethod
    def from_config(cls, body: dict[str, Any] | None) -> JobSettings:
        return cls(**(body or {}))

    def request_s(self, cells_s: float, startup_s: float) -> float:
        """Seconds a job asks for: what packing compares (whole minutes only in the request itself)."""
        return cells_s * self.margin + startup_s + self.startup_minutes * SECONDS_PER_MINUTE

    def request_minutes(self, cells_s: float, startup_s: float) -> int:
        return math.ceil(round(self.request_s(cells_s, startup_s) / SECONDS_PER_MINUTE, 6))


@dataclass(frozen=True)
class JobModel:
    """What grouping needs of a model besides its cells."""

    startup_s: float  # measured start-up of its jobs (0 before the profile)
    gpus: int  # GPUs one of its jobs holds (its YAML's resources.gpus)
    fallback_minutes: int  # the YAML's runtime: the request when no cell has a prediction and no limit is set


def cell_name(cell: PlannedCell) -> str:
    return (f"{cell.model} aug-{cell.augmentation}_cap-{cap_label(cell.max_train_samples)}/"
            f"{split_label(cell.batch_size, cell.grad_accum)}/fold{cell.fold}")


def _slots(gpus: int) -> int:
    """Devices a job occupies for scheduling: a CPU job (0 GPUs) still takes one worker."""
    return max(1, gpus)


def _pack(order: list[int], seconds: dict[int, float], bins: int) -> list[list[int]]:
    """Longest-processing-time-first: each cell, longest first, to the least-loaded job (the first of equals)."""
    loads, jobs = [0.0] * bins, [[] for _ in range(bins)]
    for i in order:
        k = min(range(bins), key=lambda b: (loads[b], b))
        loads[k] += seconds[i]
        jobs[k].append(i)
    return jobs


def group_jobs(cells: list[PlannedCell], models: dict[str, JobModel], settings: JobSettings) -> list[PlannedJob]:
    """The quality jobs of ``cells`` (indices into that list), model by model in the order the cells list them; a
    model's first job is its longest. Raises a one-line :class:`SumbenchError` for a cell that fits no job."""
    by_model: dict[str, list[int]] = {}
    for i, c in enumerate(cells):
        by_model.setdefault(c.model, []).append(i)
    # whole minutes, as the scheduler takes them: a job that fits asks for at most this
    limit_s = math.floor(settings.max_job_hours * 60) * SECONDS_PER_MINUTE if settings.max_job_hours else None
    for m, idx in by_model.items():
        for i in idx:
            s = cells[i].predicted_s
            if s is not None and limit_s is not None and settings.request_minutes(s, models[m].startup_s) * \
                    SECONDS_PER_MINUTE > limit_s:
                asked = settings.request_s(s, models[m].startup_s) / SECONDS_PER_HOUR
                raise SumbenchError(
                    f"plan: cell {cell_name(cells[i])} is predicted {s / SECONDS_PER_HOUR:.1f} h (asks {asked:.1f} h "
                    f"with margin x{settings.margin:g} and start-up) and cannot fit max_job_hours "
                    f"{settings.max_job_hours:g} alone")
    target_s = _target_s(cells, by_model, models, settings, limit_s)
    jobs: list[PlannedJob] = []
    for m, idx in by_model.items():
        known = all(cells[i].predicted_s is not None for i in idx)
        if not known:
            minutes = math.floor(limit_s / SECONDS_PER_MINUTE) if limit_s else models[m].fallback_minutes
            jobs.append(PlannedJob(model=m, index=0, cells=idx, gpus=models[m].gpus, predicted_s=None,
                                   runtime_min=minutes))
            continue
        seconds = {i: cells[i].predicted_s for i in idx}
        order = sorted(idx, key=lambda i: (-seconds[i], i))
        groups = [idx]
        if settings.grouping == "fit" or limit_s is not None:
            groups = _fewest_jobs(order, seconds, models[m], settings,
                                  target_s if settings.grouping == "fit" else limit_s)
        if settings.grouping == "per_model" and len(groups) > 1:
            total = settings.request_s(sum(seconds.values()), models[m].startup_s) / SECONDS_PER_HOUR
            raise SumbenchError(f"plan: {m}'s one quality job asks {total:.1f} h, more than max_job_hours "
                                f"{settings.max_job_hours:g}: set quality_jobs.grouping: fit to split it")
        groups = sorted((sorted(g) for g in groups), key=lambda g: (-sum(seconds[i] for i in g), g[0]))
        for k, g in enumerate(groups):
            cells_s = sum(seconds[i] for i in g)
            jobs.append(PlannedJob(model=m, index=k, cells=g, gpus=models[m].gpus,
                                   predicted_s=models[m].startup_s + cells_s,
                                   runtime_min=settings.request_minutes(cells_s, models[m].startup_s)))
    return jobs


def _target_s(cells, by_model, models, settings, limit_s) -> float | None:
    """The most a fit job may ask: ``max_job_hours``, and with ``gpus`` set the grid's work per GPU (each model's
    cells in one request, weighted by its GPUs, / N), never below the longest single cell's request."""
    if settings.grouping != "fit" or not settings.gpus:
        return limit_s
    work, longest = 0.0, 0.0
    for m, idx in by_model.items():
        known = [cells[i].predicted_s for i in idx if cells[i].predicted_s is not None]
        if not known:
            continue
        work += _slots(models[m].gpus) * settings.request_s(sum(known), models[m].startup_s)
        longest = max(longest, max(settings.request_s(s, models[m].startup_s) for s in known))
    share = max(work / settings.gpus, longest)
    return share if limit_s is None else min(share, limit_s)


def _fewest_jobs(order: list[int], seconds: dict[int, float], model: JobModel, settings: JobSettings,
                 limit_s: float | None) -> list[list[int]]:
    if limit_s is None:
        return [sorted(order)]
    for bins in range(1, len(order) + 1):
        groups = _pack(order, seconds, bins)
        if all(settings.request_s(sum(seconds[i] for i in g), model.startup_s) <= limit_s for g in groups):
            return groups
    return [[i] for i in order]  # each cell alone fits (checked before packing)


def job_of(jobs: list[PlannedJob], model: str, index: int) -> PlannedJob:
    for j in jobs:
        if j.model == model and j.index == index:
            return j
    raise SumbenchError(f"the plan has no quality job {index} of {model} "
                        f"(jobs: {', '.join(f'{j.model}/{j.index}' for j in jobs) or 'none'})")


def plan_jobs(grid: Grid, cells: list[PlannedCell], plans: list[ModelPlan], inputs: dict[str, ModelInputs],
              notes: list[str]) -> list[PlannedJob]:
    """The plan's cells grouped into jobs (the grid's ``quality_jobs``), with each model's quality time then paying
    its start-up once per job (the budget counted it once per model: at most minutes per extra job), its profile
    time predicted where nothing measured it, and a note saying how jobs were grouped."""
    settings = JobSettings.from_config(grid.quality_jobs)
    models = {m: JobModel(startup_s=job_seconds(i.costs), gpus=i.gpus, fallback_minutes=i.runtime_min)
              for m, i in inputs.items()}
    jobs = group_jobs(cells, models, settings)
    for p in plans:
        mine = [j for j in jobs if j.model == p.model]
        p.quality_jobs = len(mine)
        if mine and p.quality_s is not None:
            p.quality_s = sum(j.predicted_s for j in mine)
        if p.profile_s is None:
            p.profile_s = predicted_profile_s(grid, inputs[p.model].rates)
    how = {"per_model": "one per model", "fit": "each model's cells packed longest first into as few jobs as fit"}
    limits = ([f"max_job_hours {settings.max_job_hours:g}"] if settings.max_job_hours else []) + \
        ([f"the grid's work / {settings.gpus} GPUs"] if settings.grouping == "fit" and settings.gpus else [])
    notes.append(f"quality jobs: {how[settings.grouping]}" + (f" ({', '.join(limits)})" if limits else "")
                 + f"; each asks for its predicted time x {settings.margin:g} + its measured start-up + "
                 f"{settings.startup_minutes:g} min")
    return jobs


def predicted_profile_s(grid: Grid, rates: Rates) -> float | None:
    """Before the profile: its timed steps (warm-up included) of every split at the known samples/s; loading,
    the GA check and start-up are not in it."""
    budget, total = grid.budget, 0.0
    for b, g in grid.splits():
        rate = rates.of(b, g)
        if not rate:
            return None
        total += (budget.warmup_steps + budget.steps(b * g)) * b * g / rate
    return total
