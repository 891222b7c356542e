"""The quality phase of one model: every cell the plan gives it, trained and evaluated in one process.

    sumbench quality --model tiny-llama --plan results/quick_test/plan.json --data results/quick_test/data/folds \\
        --job 0 --base results/quick_test/base/tiny-llama --out results/quick_test/quality/tiny-llama/job0.json

One process per quality job (the plan groups a model's cells into one job, or several on a cluster) pays the imports
and the Korean analyser's load once for all of its cells (each cell still loads fresh weights; the previous cell's
model, Trainer and optimizer state are released first, so one cell's weights never add to the next one's peak). Each
cell writes its own records under ``runs/`` as it finishes; a cell whose ``metrics.json`` already holds this cell's
settings from this code version is kept, not trained again, so a job killed halfway resumes where it stopped. The
job's own output, written last, lists its cells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sumbench.config.grid import Grid
from sumbench.errors import SumbenchError
from sumbench.planning.jobs import job_of
from sumbench.records import cap_label, read_record
from sumbench.records.plan import PlanRecord, PlannedCell, QualityJobRecord
from sumbench.training.cell import Cell


@dataclass(frozen=True)
class QualityJob:
    plan: PlanRecord
    grid: Grid
    model: str
    data: Path
    out: Path  # quality/<model>/job<index>.json
    index: int = 0  # which of the model's planned jobs
    base: str | None = None  # pretrained directory (a tiny twin's warm start)
    models_dir: Path | None = None
    threads: int | None = None


def cell_of(job: QualityJob, planned: PlannedCell) -> Cell:
    g = job.grid
    cap = cap_label(planned.max_train_samples)
    train_set = g.train_set(planned.augmentation, cap, planned.fold)
    return Cell(model=planned.model, batch_size=planned.batch_size, grad_accum=planned.grad_accum, fold=planned.fold,
                data=job.data, out=Path(g.cell_dir(planned.model, planned.augmentation, cap, planned.batch_size,
                                                   planned.grad_accum, planned.fold)),
                max_steps=g.max_steps, max_train_samples=planned.max_train_samples, max_eval_samples=g.max_eval_samples,
                warmup_steps=g.timing_warmup_steps, augmentation=planned.augmentation,
                overrides=(f"pretrained={job.base}",) if job.base else (), threads=job.threads,
                models_dir=job.models_dir, repeats=g.repeats, train_csv=Path(train_set) if train_set else None,
                seed=g.seed, augment_settings=g.augment_settings(), split_reason=planned.split_reason,
                progress_every=g.progress_every, eval_every_samples=g.eval_every_samples, analyzers=g.analyzers,
                aggregation=g.aggregation, deepspeed=planned.deepspeed)


def already_done(cell: Cell, code_version: str | None) -> bool:
    """A finished record of exactly this cell, from this code version (a resumed job keeps it)."""
    path = cell.out / "metrics.json"
    if not path.exists():
        return False
    try:
        record = read_record(path)
    except SumbenchError:
        return False
    same_code = record.environment.get("git_sha") == code_version
    return record.settings.get("cell") == json.loads(json.dumps(cell.to_dict())) and same_code


def scheduler_facts() -> dict[str, str]:
    """Which scheduler job this is and the devices it was given (a CPU model's are held and left unused)."""
    import os

    keys = ("SLURM_JOB_ID", "SLURM_RESTART_COUNT", "SLURM_JOB_PARTITION", "CUDA_VISIBLE_DEVICES")
    return {k: os.environ[k] for k in keys if k in os.environ}


def run_quality(job: QualityJob) -> QualityJobRecord:
    from sumbench.training.timed import AnalyserLoad

    analyser = AnalyserLoad(job.grid.analyzers)  # what every cell's ROUGE needs, loaded while the imports below run
    from sumbench.config.model import load_model
    from sumbench.environment import git_sha
    from sumbench.training.cell import run_cell
    from sumbench.training.distributed import world
    from sumbench.training.lease import DeviceLease
    from sumbench.training.measure import process_age_s
    from sumbench.training.memory import release_device_memory

    spec = load_model(job.model, **({"models_dir": job.models_dir} if job.models_dir else {}))
    planned = [job.plan.cells[i] for i in job_of(job.plan.jobs, job.model, job.index).cells]
    if not planned:
        raise SumbenchError(f"the plan has no quality cells for {job.model}")
    lease = DeviceLease.acquire(spec.resources.gpus)
    import peft  # noqa: F401  imports are the job's start-up cost, paid once for all its cells
    import transformers.trainer  # noqa: F401

    analyser_s = analyser.wait()
    startup = process_age_s()  # ready: imports done and the analyzers loaded
    code = git_sha()
    cells, resumed, waited = [], 0, 0.0
    main = world().main  # several processes train each cell together; one of them speaks and writes

    def say(line: str) -> None:
        if main:
            print(line, flush=True)

    for i, p in enumerate(planned, 1):
        cell = cell_of(job, p)
        if already_done(cell, code):
            resumed += 1
            say(f"sumbench quality: {i}/{len(planned)} {cell.out}: done earlier, kept")
        else:
            say(f"sumbench quality: {i}/{len(planned)} {cell.out}: {p.split_reason}")
            record = run_cell(cell, lease=lease, progress_file=cell.out / "progress.json")
            release_device_memory()  # this cell's model, Trainer and optimizer, before the next cell loads
            waited += record.lock_wait_s or 0.0
            say(f"sumbench quality: {i}/{len(planned)} {record.status}, ROUGE-Sum {record.rouge_sum}")
        cells.append(str(cell.out / "metrics.json"))
    record = QualityJobRecord(model=job.model, grid=job.grid.name, job=job.index, cells=cells, resumed=resumed,
                              startup_s=startup, analyser_load_s=analyser_s, lock_wait_s=waited,
                              wall_s=process_age_s(), device=lease.device, scheduler=scheduler_facts())
    if main:
        record.write(job.out)
    return record
