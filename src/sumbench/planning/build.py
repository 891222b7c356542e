"""Gather what the planner needs for a grid — model YAMLs, example counts, profile records, a throughput file —
and make its :class:`~sumbench.records.PlanRecord` (``sumbench plan``, and the workflow's ``plan`` rule)."""

from __future__ import annotations

import math
from pathlib import Path

from sumbench.config.grid import Grid
from sumbench.errors import SumbenchError
from sumbench.planning.plan import DataSizes, ModelInputs, data_sizes, make_plan
from sumbench.planning.throughput import model_rates, read_throughput_file
from sumbench.records import read_profile
from sumbench.records.plan import PlanRecord


def is_split(folds: Path | None) -> bool:
    """Whether ``folds`` is a folder `sumbench data split` wrote."""
    return folds is not None and (folds / "fold0" / "train.csv").exists()


def example_counts(grid: Grid, folds: Path | None, examples: tuple[int, int] | None = None) -> DataSizes:
    """Fold 0's training and held-out parts and dev, counted in the split folder when it exists; else the training
    and dev rows the user states (``examples``, before the CSVs are on this machine); else from the grid's source
    (the synthetic corpus's sizes, or the CSVs' rows)."""
    from sumbench.data.corpus import load_csv

    if is_split(folds):
        cap = grid.max_eval_samples or math.inf
        heldout, dev = len(load_csv(folds / "fold0" / "heldout.csv")), len(load_csv(folds / "dev.csv"))
        return DataSizes(train=len(load_csv(folds / "fold0" / "train.csv")), heldout=min(heldout, cap),
                         dev=min(dev, cap))
    if examples is not None:
        return data_sizes(*examples, grid.k_folds, grid.max_eval_samples)
    if grid.synth:
        n = grid.synth["n"]
        n_dev = grid.synth.get("dev_n", max(20, n // 10))
    else:
        try:
            n, n_dev = len(load_csv(grid.data["train"])), len(load_csv(grid.data["dev"]))
        except SumbenchError as exc:
            raise SumbenchError(f"{exc} (the plan needs the example counts: put the CSVs where grids.{grid.name}.data "
                                f"says, pass --data with split folds, or state them: --examples TRAIN,DEV)") from None
    return data_sizes(n, n_dev, grid.k_folds, grid.max_eval_samples)


def plan_grid(grid: Grid, *, profiles: list[Path] = (), throughput: str | None = None, data: Path | None = None,
              examples: tuple[int, int] | None = None, models_dir: str | None = None,
              gpus: list[int] | None = None) -> PlanRecord:
    """``gpus``: the GPU counts the plan states its wall time on (default 1, and the grid's quality_jobs.gpus)."""
    from sumbench.config.model import DEFAULT_MODELS_DIR, load_model, model_files

    folder = models_dir or DEFAULT_MODELS_DIR
    specs = {m: load_model(m, folder) for m in grid.models}
    records = {}
    for path in profiles:
        record = read_profile(path)
        if record.model in specs:
            records[record.model] = record
    file_rates = read_throughput_file(throughput, set(model_files(folder))) if throughput else {}
    rates = model_rates(specs, grid.splits(), records, file_rates)
    ratio = grid.augment_settings().ratio
    inputs = {m: ModelInputs(epochs=specs[m].training.epochs, augment_ratio=ratio, rates=rates[m],
                             costs=records[m].costs if m in records else None, profile=records.get(m),
                             gpus=specs[m].resources.gpus, runtime_min=specs[m].resources.runtime)
              for m in grid.models}
    stage = "after-profile" if records else "before-profile"
    plan = make_plan(grid, inputs, example_counts(grid, data, examples), stage)
    if examples is not None and not is_split(data):
        plan.notes.append(f"example counts as stated with --examples: {examples[0]:,} training, {examples[1]:,} dev "
                          f"(not counted in the data)")
    from sumbench.planning.schedule import wall_time

    counts = sorted(set(gpus or [1] + ([grid.quality_jobs["gpus"]] if grid.quality_jobs.get("gpus") else [])))
    plan.wall_times = [wall_time(plan, n) for n in counts]
    return plan
