# Config loading and validation, the grid, and per-model settings. Logic lives in the sumbench package.
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from sumbench.config import load_model, model_files
from sumbench.errors import SumbenchError
from sumbench.grid import check_models, load_grids

# One-line errors naming the file and key (same JSON schemas as `validate()`, shorter messages).
try:
    GRIDS = load_grids(config)
    MODEL_FILES = model_files(config.get("models_dir", "configs/models"))
    for _grid in GRIDS.values():
        check_models(_grid, MODEL_FILES)
    SPECS = {
        name: load_model(name, config.get("models_dir", "configs/models"))
        for name in sorted({m for g in GRIDS.values() for m in g.models})
    }
except SumbenchError as exc:
    raise WorkflowError(str(exc))



wildcard_constraints:
    grid="|".join(map(re.escape, GRIDS)),
    model="|".join(map(re.escape, SPECS)),
    aug=r"[a-z_+]+",
    cap=r"all|\d+",
    bs=r"\d+",
    ga=r"\d+",
    fold=r"\d+",


def report_of(grid):
    if grid not in GRIDS:
        raise WorkflowError(f"configs/config.yaml: grids.{grid} is not defined")
    return GRIDS[grid].report


def source_csv(which):
    """The grid's train or dev CSV: the user's file, or the synthetic corpus rule's output."""
    index = {"train": 0, "dev": 1}[which]
    return lambda w: GRIDS[w.grid].source_csvs()[index]


def base_model(w):
    """Tiny twins train from their warm-started checkpoint; real models from `pretrained:`."""
    return [f"results/{w.grid}/base/{w.model}"] if SPECS[w.model].is_tiny else []


def train_options(w, input):
    grid = GRIDS[w.grid]
    opts = [f"--warmup-steps {grid.timing_warmup_steps}", f"--repeats {grid.repeats}"]
    if input.base:
        opts.append(f"--base {input.base}")
    if grid.max_steps:
        opts.append(f"--max-steps {grid.max_steps}")
    if grid.max_eval_samples:
        opts.append(f"--max-eval-samples {grid.max_eval_samples}")
    if w.cap != "all":
        opts.append(f"--max-train-samples {w.cap}")
    return " ".join(opts)
