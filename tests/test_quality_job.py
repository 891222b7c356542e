"""The quality job (one process, a model's cells back to back) releases each cell's model before the next loads."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from sumbench.config.grid import Grid
from sumbench.records import read_record
from sumbench.records.plan import PlanRecord, PlannedCell, PlannedJob, read_quality_job


def sumbench(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A synthetic corpus in 2 folds and tiny-llama (LoRA) warm-started for 2 steps."""
    root = tmp_path_factory.mktemp("quality")
    sumbench("data", "synth", "--n", "40", "--dev-n", "6", "--seed", "3", "--out", str(root / "src"))
    sumbench("data", "split", "--train", str(root / "src/train.csv"), "--dev", str(root / "src/dev.csv"), "--k", "2",
             "--out", str(root / "folds"))
    sumbench("warmstart", "--model", "tiny-llama", "--train", str(root / "src/train.csv"), "--out",
             str(root / "base"), "--steps", "2", "--set", "tiny.warmstart_corpus_size=40")
    return root


def test_each_cells_model_is_released_before_the_next_cell_loads(workspace, tmp_path, monkeypatch):
    from sumbench.training import models
    from sumbench.training.quality import QualityJob, run_quality

    monkeypatch.chdir(tmp_path)  # the grid's runs/ folder is relative
    grid = Grid(name="release", models=("tiny-llama",), batch_sizes=(4,), grad_accum=(1,), k_folds=2, data={"synth": {"n": 40}},
                max_steps=2, max_eval_samples=2, timing_warmup_steps=1, rouge={"analyzers": ["whitespace"]})
    cells = [PlannedCell(model="tiny-llama", augmentation="none", max_train_samples=None, batch_size=4, grad_accum=1,
                         fold=fold, steps=2, samples=8, predicted_s=None, split_reason="test") for fold in (0, 1)]
    job = PlannedJob(model="tiny-llama", index=0, cells=[0, 1], gpus=0, predicted_s=None, runtime_min=1)
    plan = PlanRecord(grid="release", stage="after-profile", k_folds=2, folds=[0, 1], cells=cells, jobs=[job])
    loaded, alive_at_load = [], []
    real = models.load_for_training

    def load_for_training(spec):  # the loader every cell calls: is the previous cell's model gone by now?
        alive_at_load.append([ref() is not None for ref in loaded])
        model, tokenizer = real(spec)
        # The cycle accelerate's prepare_model leaves under mixed precision (CUDA): the model keeps its own bound
        # forward, so it outlives its last reference until a garbage collection.
        model._original_forward = model.forward
        loaded.append(weakref.ref(model))
        return model, tokenizer

    monkeypatch.setattr(models, "load_for_training", load_for_training)
    gc.disable()  # no collection at an allocation that happens to come: only what the job releases itself is gone
    try:
        record = run_quality(QualityJob(plan=plan, grid=grid, model="tiny-llama", data=workspace / "folds",
                                        out=tmp_path / "quality.json", base=str(workspace / "base")))
    finally:
        gc.enable()
    assert [read_record(c).status for c in record.cells] == ["ok", "ok"]  # both cells trained, then were scored
    assert read_quality_job(tmp_path / "quality.json").cells == record.cells
    assert alive_at_load == [[], [False]]  # cell 0's model was dead when cell 1 loaded


def test_a_cell_planned_under_deepspeed_trains_under_it_and_the_next_plain_cell_trains_without(workspace, tmp_path):
    """The plan's DeepSpeed setting reaches the cell: a ZeRO-3 cell, then a plain one in the same job process (where
    accelerate and transformers keep DeepSpeed's marks of the first Trainer unless cleared)."""
    grid = Grid(name="ds", models=("tiny-llama",), batch_sizes=(4,), grad_accum=(1,), k_folds=2,
                data={"synth": {"n": 40}}, max_steps=2, max_eval_samples=2, timing_warmup_steps=1,
                rouge={"analyzers": ["whitespace"]})
    cells = [PlannedCell(model="tiny-llama", augmentation="none", max_train_samples=None, batch_size=4, grad_accum=1,
                         fold=fold, steps=2, samples=8, predicted_s=None, split_reason=f"test {setting}",
                         deepspeed=setting) for fold, setting in ((0, "zero3"), (1, "off"))]
    plan = PlanRecord(grid="ds", stage="after-profile", k_folds=2, folds=[0, 1], cells=cells,
                      jobs=[PlannedJob(model="tiny-llama", index=0, cells=[0, 1], gpus=0, predicted_s=None,
                                       runtime_min=1)])
    plan.write(tmp_path / "plan.json")
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", "quality", "--grid-json", grid.to_json(), "--model",
                           "tiny-llama", "--job", "0", "--plan", str(tmp_path / "plan.json"), "--data",
                           str(workspace / "folds"), "--base", str(workspace / "base"), "--threads", "1", "--out",
                           str(tmp_path / "quality.json")], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "SUMBENCH_DEEPSPEED_JIT": "0", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [read_record(tmp_path / c) for c in read_quality_job(tmp_path / "quality.json").cells]
    assert [(r.status, r.fold, r.deepspeed, r.split_reason) for r in records] == [
        ("ok", 0, "zero3", "test zero3"), ("ok", 1, "off", "test off")]
    assert records[0].settings["cell"]["deepspeed"] == "zero3"  # what a resumed job compares: it retrains a change
