# Config loading and validation, the grid, and per-model settings. Logic lives in the sumbench package.
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

from sumbench.config.model import load_model, model_files
from sumbench.containers.jobs import check_runtime, job_launcher
from sumbench.errors import SumbenchError
from sumbench.config.grid import check_models, load_grids

MODELS_DIR = config.get("models_dir", "configs/models")

# One-line errors naming the file and key (same JSON schemas as `validate()`, shorter messages).
try:
    GRIDS = load_grids(config)
    MODEL_FILES = model_files(MODELS_DIR)
    for _grid in GRIDS.values():
        check_models(_grid, MODEL_FILES)
    SPECS = {
        name: load_model(name, MODELS_DIR)
        for name in sorted({m for g in GRIDS.values() for m in g.models})
    }
except SumbenchError as exc:
    raise WorkflowError(str(exc))

# Where train jobs run: `runtime: host` (with --use-singularity, Apptainer) or `runtime: docker` (sumbench images run).
# A missing Apptainer, or both container routes at once, is one line here, before any job starts.
try:
    RUNTIME = check_runtime(
        config.get("runtime", "host"),
        use_apptainer=DeploymentMethod.APPTAINER in workflow.deployment_settings.deployment_method,
    )
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


def train_set_of(w):
    """A cell's capped and/or augmented training set (rule augment); none = the fold's own train.csv."""
    path = GRIDS[w.grid].train_set(w.aug, w.cap, w.fold)
    return [path] if path else []


def train_options(w, input):
    grid = GRIDS[w.grid]
    opts = [
        f"--warmup-steps {grid.timing_warmup_steps}",
        f"--repeats {grid.repeats}",
        f"--models-dir {MODELS_DIR}",
        f"--seed {grid.seed}",  # recorded in settings.cell, so a cell run by hand with the same seed agrees
    ]
    if input.base:
        opts.append(f"--base {input.base}")
    if grid.max_steps:
        opts.append(f"--max-steps {grid.max_steps}")
    if grid.max_eval_samples:
        opts.append(f"--max-eval-samples {grid.max_eval_samples}")
    if w.cap != "all":
        opts.append(f"--max-train-samples {w.cap}")
    if input.train_set:
        opts.append(f"--train-csv {input.train_set}")
    return " ".join(opts)


def launcher(w):
    """The program a train job starts: `sumbench`, `accelerate launch` for >1 GPU, inside the image when runtime: docker."""
    return job_launcher(SPECS[w.model], RUNTIME, models_dir=config.get("models_dir"))
