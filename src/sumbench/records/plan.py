"""The plan's records: ``plan.json`` (the quality phase's cells, their jobs and what they cost) and each quality
job's ``quality/<model>/job<N>.json``. The cell and profile records they refer to are in :mod:`sumbench.records`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from sumbench.io import atomic_write_json
from sumbench.records import SCHEMA_VERSION, SECONDS_PER_HOUR, from_dict, load_json


@dataclass(kw_only=True)
class PlannedCell:
    """One training the quality phase runs (or ran)."""

    model: str
    augmentation: str
    max_train_samples: int | None
    batch_size: int
    grad_accum: int
    fold: int
    steps: int  # optimizer steps of the full training
    samples: int
    predicted_s: float | None  # training + evaluation, from the measured costs; None = no throughput known
    split_reason: str
    deepspeed: str = "off"  # the DeepSpeed setting it trains under: the fastest that fits and proved equivalent


@dataclass(kw_only=True)
class PlannedJob:
    """One quality job: some of a model's planned cells, trained in one process (sumbench.planning.jobs)."""

    model: str
    index: int  # 0 = the model's longest job
    cells: list[int]  # indices into PlanRecord.cells, in the plan's order
    gpus: int  # the model's resources.gpus
    predicted_s: float | None  # start-up + its cells; None = no throughput known
    runtime_min: int  # wall time asked of the scheduler: predicted x margin + start-up


@dataclass(kw_only=True)
class WallTime:
    """The plan's predicted wall time on ``gpus`` GPUs (sumbench.planning.schedule)."""

    gpus: int
    profile_s: float | None  # None: a job's time is unknown, or it needs more GPUs than there are
    quality_s: float | None
    why: str = ""  # why a phase has no figure

    @property
    def total_s(self) -> float | None:
        return None if self.profile_s is None or self.quality_s is None else self.profile_s + self.quality_s


@dataclass(kw_only=True)
class ModelPlan:
    model: str
    throughput_source: str  # profile | throughput file | scaled from <model> by parameter count | unknown
    samples_per_s: dict[str, float] = field(default_factory=dict)  # split label -> samples/s used
    ga_equivalent: bool | None = None  # from the profile; None before it
    pruned: dict[str, str] = field(default_factory=dict)  # split label -> reason
    left_out: str | None = None  # why the model has no quality cells at all (every profiled split failed)
    dropped_effective_batches: dict[int, str] = field(default_factory=dict)  # effective batch -> reason
    profile_s: float | None = None  # predicted (before the profile) or measured profile-job time
    quality_jobs: int = 0
    quality_steps: int = 0
    quality_samples: int = 0
    quality_s: float | None = None  # predicted quality-phase time of this model
    naive_steps: int = 0  # every split of the grid trained to convergence
    naive_samples: int = 0
    naive_s: float | None = None


@dataclass(kw_only=True)
class PlanRecord:
    """``plan.json``: the quality phase's cells and what they are predicted to cost."""

    grid: str
    stage: str  # before-profile | after-profile
    schema_version: int = SCHEMA_VERSION
    budget_hours: float | None = None
    k_folds: int = 1  # after the budget's trade-offs
    folds: list[int] = field(default_factory=list)
    max_train_samples: list[int | None] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)  # every trade-off, in the order it was made
    notes: list[str] = field(default_factory=list)  # assumptions the numbers rest on
    models: list[ModelPlan] = field(default_factory=list)
    cells: list[PlannedCell] = field(default_factory=list)
    jobs: list[PlannedJob] = field(default_factory=list)  # the quality jobs the cells are grouped into
    wall_times: list[WallTime] = field(default_factory=list)  # on the GPU counts the plan was asked for

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, dataclasses.asdict(self))

    def quality_hours(self) -> float | None:
        known = [m.quality_s for m in self.models if m.quality_s is not None]
        return sum(known) / SECONDS_PER_HOUR if known else None

    def naive_hours(self) -> float | None:
        known = [m.naive_s for m in self.models if m.naive_s is not None]
        return sum(known) / SECONDS_PER_HOUR if known else None


@dataclass(kw_only=True)
class QualityJobRecord:
    """``quality/<model>/job<N>.json``: one quality job (the cells the plan groups into it, one process), written last."""

    model: str
    grid: str
    job: int = 0  # which of the model's planned jobs
    schema_version: int = SCHEMA_VERSION
    cells: list[str] = field(default_factory=list)  # metrics.json paths, in the plan's order
    resumed: int = 0  # cells kept from an earlier, interrupted run of the job
    startup_s: float | None = None  # process start to ready: imports done and the analyzers loaded
    analyser_load_s: float | None = None
    lock_wait_s: float = 0.0  # waiting for the device's timed-window lock (other jobs' windows)
    wall_s: float | None = None  # process start to this record
    device: str | None = None
    scheduler: dict[str, str] = field(default_factory=dict)  # SLURM_JOB_ID, CUDA_VISIBLE_DEVICES, ... when set

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, dataclasses.asdict(self))


def read_plan(path: str | Path) -> PlanRecord:
    return from_dict(PlanRecord, load_json(path, "plan"), path)


def read_quality_job(path: str | Path) -> QualityJobRecord:
    return from_dict(QualityJobRecord, load_json(path, "quality job record"), path)
