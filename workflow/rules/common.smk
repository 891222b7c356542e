# Config loading and validation, the grid, and per-model settings. Logic lives in the sumbench package.
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

from sumbench.config.model import load_model, model_files
from sumbench.containers.jobs import check_runtime, job_launcher
from sumbench.errors import SumbenchError
from sumbench.config.grid import check_models, load_grids
from sumbench.planning.jobs import job_of
from sumbench.records import cap_label
from sumbench.records.plan import read_plan

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
    job=r"\d+",


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


def grid_json(w):
    """The grid, validated and with every --config override applied, as one JSON argument for a job."""
    return GRIDS[w.grid].to_json()


def plan_of(grid):
    """The plan (checkpoint `plan`): after it runs, Snakemake re-evaluates what the quality phase needs."""
    return read_plan(checkpoints.plan.get(grid=grid).output.json)


def quality_train_sets(w):
    """The capped and/or augmented training sets (rule augment) the quality job's planned cells train on."""
    grid, plan = GRIDS[w.grid], plan_of(w.grid)
    paths = {grid.train_set(c.augmentation, cap_label(c.max_train_samples), c.fold)
             for c in (plan.cells[i] for i in job_of(plan.jobs, w.model, int(w.job)).cells)}
    return sorted(p for p in paths if p)


def existing_plan(grid):
    """The plan if it is written yet (a quality job asked for by name is created before the plan runs), else None."""
    path = Path(f"results/{grid}/plan.json")
    return read_plan(path) if path.exists() else None


def planned_job(w):
    """The plan's quality job (model, index), or None before the plan is written."""
    plan = existing_plan(w.grid)
    return next((j for j in plan.jobs if j.model == w.model and j.index == int(w.job)), None) if plan else None


def quality_priority(w):
    """Longest quality job first (the plan's prediction, seconds): the last job to finish is then a short one."""
    job = planned_job(w)
    return (job.predicted_s or 0.0) if job else 0.0


def quality_runtime(w):
    """Minutes a quality job asks the scheduler for: the plan's request (its cells' predicted time x margin + start-up);
    the model YAML's runtime for a job asked for by name before the plan exists."""
    job = planned_job(w)
    return job.runtime_min if job else SPECS[w.model].resources.runtime


def scheduler_gpus(w):
    """GPUs a profile or quality job asks the scheduler for: the model's own; for a CPU model, the grid's
    scheduler_gpus (held and left unused, to test a cluster's GPU scheduling with tiny twins)."""
    return SPECS[w.model].resources.gpus or GRIDS[w.grid].scheduler_gpus


def profile_records(grid):
    return [f"results/{grid}/profile/{m}.json" for m in GRIDS[grid].models]


def quality_records(grid):
    """The record of every quality job the plan groups its cells into (a model whose every effective batch ran out
    of memory has none)."""
    return [f"results/{grid}/quality/{j.model}/job{j.index}.json" for j in plan_of(grid).jobs]


def launcher(w):
    """The program a train job starts: `sumbench`, `torchrun` for several processes (GPUs or resources.cpu_processes), inside the image when runtime: docker."""
    return job_launcher(SPECS[w.model], RUNTIME, models_dir=config.get("models_dir"))


# ---- Where practitioners look: Snakemake's HTML report (report.smk, track.smk) and MLflow runs (track.smk).
from sumbench.tracking import TrackingSettings
from sumbench.tracking.mlflow_runs import log_grid

try:
    TRACKING = TrackingSettings.from_config(config)
    TRACKING.check()  # MLflow importable when tracking.mlflow is on: one line now, not a failed job at the end
except SumbenchError as exc:
    raise WorkflowError(str(exc))

# Category and title of each plot in the HTML report, by the start of its file name (the first that matches); a plot
# none matches shows under "plots". plot.rst holds their captions.
PLOTS = (
    ("throughput_vs_effective_batch", "speed", "Throughput vs effective batch"),
    ("memory_vs_batch", "memory", "Peak memory vs batch size"),
    ("rouge_vs_throughput", "quality", "Quality vs speed"),
    ("learning_curve_", "quality", "Eval loss while training: "),  # one per model: learning_curve_<model>.png
    ("learning_curve", "quality", "Learning curve over the training cap"),
    ("grad_norm_traces", "diagnostics", "Gradient norm traces"),
)


def plot_info(name):
    """(category, title) of plots/<name>.png in the HTML report."""
    for start, category, title in PLOTS:
        if name.startswith(start):
            return category, title + name[len(start):] if title.endswith(": ") else title
    return "plots", name


def grid_outputs(grid):
    """What a named target builds: the grid's report, its HTML tables, and its MLflow runs when tracking.mlflow is on."""
    return [report_of(grid), f"results/{grid}/pages/cells.html"] + (
        [f"results/{grid}/mlflow/{m}.json" for m in GRIDS[grid].models] if TRACKING.mlflow else []
    )


def report_file(grid, name):
    """A file beside the grid's summary.md (the full grid's report sits at results/, any other at results/<grid>/)."""
    return str(Path(report_of(grid)).with_name(name))


def report_item(path, caption, category, result, grid=None):
    """An output shown in the HTML report: its caption (workflow/report/), category, and labels (what, which grid)."""
    return report(path, caption=f"../report/{caption}", category=category,
                  labels=lambda w: {"result": result, "grid": grid or w.grid})


def report_plots(path, grid=None):
    """A plots/ folder in the HTML report: each PNG with its caption (plot.rst picks it by name), in its category."""
    return report(directory(path), patterns=["{plot}.png"], caption="../report/plot.rst",
                  category=lambda w: plot_info(w.plot)[0],
                  labels=lambda w: {"result": plot_info(w.plot)[1], "grid": grid or w.grid})
