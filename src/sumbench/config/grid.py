"""The grid as data: which cells a workflow config asks for and where their files go.

The Snakemake rules (workflow/rules/*.smk) call these functions; keeping them here makes the grid
unit-testable without Snakemake.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sumbench.config.augment import AugmentSettings
from sumbench.config.deepspeed import parse_axis
from sumbench.config.schema import CONFIG_SCHEMA, validate_with_schema
from sumbench.errors import ConfigError
from sumbench.records import cap_label


def eval_interval_steps(every_samples: int, effective_batch: int) -> int:
    """Optimizer steps between two learning-curve evaluations: every_samples / effective batch, at least one."""
    return max(1, round(every_samples / effective_batch))


@dataclass(frozen=True)
class ProfileBudget:
    """The profile phase's short timed run, the same for every split of a model: ``warmup_steps`` untimed optimizer
    steps, then ``timed_steps`` steps, or as many steps as ``timed_samples`` samples take at that split."""

    warmup_steps: int = 5
    timed_steps: int | None = 20
    timed_samples: int | None = None

    def steps(self, effective_batch: int) -> int:
        """Timed optimizer steps of a split."""
        if self.timed_samples:
            return max(1, math.ceil(self.timed_samples / effective_batch))
        return self.timed_steps or 1


FULL_GRID = "full"
RESULTS = "results"  # relative to the workflow directory; the Snakemake rules spell it out the same way
DATA_SEED = 42  # a grid's default `seed`; a cell run by hand with no --grid uses it too


@dataclass(frozen=True)
class Grid:
    name: str
    models: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    grad_accum: tuple[int, ...]
    k_folds: int
    data: dict[str, Any]
    augmentation: tuple[str, ...] = ("none",)
    max_train_samples: tuple[int | None, ...] = (None,)
    max_steps: int | None = None
    max_eval_samples: int | None = None
    timing_warmup_steps: int = 2
    repeats: int = 1
    seed: int = DATA_SEED  # of the folds, the cap and the augmentation
    augment: dict[str, Any] = field(default_factory=dict)  # settings of the augmentation methods (AugmentSettings)
    profile: dict[str, Any] = field(default_factory=dict)  # the profile phase's timed budget (ProfileBudget)
    budget_hours: float | None = None  # fit the quality phase into this many GPU-hours (sumbench.planning.plan)
    progress_every: int | None = None  # a progress line every N optimizer steps (None: every ~36 s of training)
    eval_every_samples: int | None = None  # learning curve: held-out eval loss every N training samples (None: off)
    rouge: dict[str, Any] = field(default_factory=dict)  # analyzers (the first is the primary) and aggregation
    quality_jobs: dict[str, Any] = field(default_factory=dict)  # how cells become jobs (planning.jobs.JobSettings)
    scheduler_gpus: int = 0  # GPUs a job of a CPU model asks the scheduler for and leaves unused (cluster tests)
    deepspeed: tuple[Any, ...] = ()  # the DeepSpeed axis of every model of the grid; empty: each model YAML's own

    def model_overrides(self) -> list[str]:
        """``--set`` overrides the grid makes to each of its model YAMLs (its DeepSpeed axis, if it names one)."""
        return [f"deepspeed={json.dumps(list(self.deepspeed))}"] if self.deepspeed else []

    def curve_evaluations(self, steps: int, effective_batch: int) -> int:
        """How many learning-curve evaluations a training of ``steps`` optimizer steps runs."""
        return steps // eval_interval_steps(self.eval_every_samples, effective_batch) if self.eval_every_samples else 0

    @property
    def analyzers(self) -> tuple[str, ...]:
        return tuple(self.rouge.get("analyzers", ("kiwi", "mecab", "whitespace")))

    @property
    def aggregation(self) -> str:
        return self.rouge.get("aggregation", "mean")

    def __post_init__(self) -> None:
        has_csv, has_synth = "train" in self.data or "dev" in self.data, "synth" in self.data
        if has_csv == has_synth or (has_csv and not {"train", "dev"} <= set(self.data)):
            raise ConfigError(f"grids.{self.name}.data: give either both `train` and `dev` CSVs or `synth`")

    def to_json(self) -> str:
        """The grid as one JSON argument: how the workflow hands it to a job (never as flattened options)."""
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Grid:
        """A grid from :meth:`to_json` (already validated by the workflow)."""
        body = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in body.items()})

    def splits(self) -> list[tuple[int, int]]:
        """Every (batch size, grad accumulation) of the grid, micro-batch first: the profile's order."""
        return [(b, g) for b in sorted(self.batch_sizes) for g in sorted(self.grad_accum)]

    @property
    def budget(self) -> ProfileBudget:
        return ProfileBudget(**self.profile)

    @property
    def root(self) -> str:
        return f"{RESULTS}/{self.name}"

    @property
    def report(self) -> str:
        """``results/summary.md`` for the full grid (the file users read), ``results/<grid>/summary.md`` else."""
        return f"{RESULTS}/summary.md" if self.name == FULL_GRID else f"{self.root}/summary.md"

    @property
    def synth(self) -> dict[str, Any] | None:
        return self.data.get("synth")

    def source_csvs(self) -> tuple[str, str]:
        if self.synth:
            return f"{self.root}/data/source/train.csv", f"{self.root}/data/source/dev.csv"
        return self.data["train"], self.data["dev"]

    def cells(self) -> list[dict[str, Any]]:
        return [dict(model=m, aug=a, cap=cap_label(c), bs=b, ga=g, fold=f)
                for m, a, c, b, g, f in itertools.product(self.models, self.augmentation, self.max_train_samples,
                                                          self.batch_sizes, self.grad_accum, range(self.k_folds))]

    def cell_dir(self, model: str, aug: str, cap: str, bs: int | str, ga: int | str, fold: int | str) -> str:
        return f"{self.root}/runs/{model}/aug-{aug}_cap-{cap}/bs{bs}_ga{ga}/fold{fold}"

    def metrics_files(self) -> list[str]:
        return [f"{self.cell_dir(**c)}/metrics.json" for c in self.cells()]

    def train_set(self, aug: str, cap: str, fold: int | str) -> str | None:
        """The capped/augmented training CSV a cell trains on (rule `augment`); None = the fold's own train.csv."""
        if aug == "none" and cap == "all":
            return None
        return f"{self.root}/data/train/aug-{aug}_cap-{cap}/fold{fold}/train.csv"

    def augment_settings(self, source: str = "configs/config.yaml") -> AugmentSettings:
        """The `augment:` section, typed: what this grid's augment rule uses, and what a cell trained without
        ``--train-csv`` needs (with ``seed``) to train on the same examples."""
        return AugmentSettings.from_config(self.augment, f"{source}: grids.{self.name}.augment")

    def augment_options(self, cap: str) -> list[str]:
        """Options of `sumbench data augment` for this grid at ``cap``: the grid's seed, the cap, and the whole
        `augment:` section as one JSON argument (rule `augment`)."""
        return (["--seed", str(self.seed)] + ([] if cap == "all" else ["--max-train-samples", cap])
                + ["--settings", json.dumps(self.augment, ensure_ascii=False, sort_keys=True)])


# Top-level keys a cluster profile sets (`--config`, flat values) as every grid's quality_jobs defaults.
JOB_DEFAULTS = {"job_grouping": "grouping", "max_job_hours": "max_job_hours", "cluster_gpus": "gpus"}


def load_grids(config: dict, source: str = "configs/config.yaml") -> dict[str, Grid]:
    from sumbench.planning.jobs import JobSettings

    validate_with_schema(config, CONFIG_SCHEMA, source)
    defaults = {key: config[top] for top, key in JOB_DEFAULTS.items() if config.get(top) is not None}
    grids = {}
    for name, body in config["grids"].items():
        body = {k: tuple(v) if isinstance(v, list) else v for k, v in body.items()}
        body["quality_jobs"] = {**defaults, **body.get("quality_jobs", {})}
        try:
            JobSettings.from_config(body["quality_jobs"])
        except ConfigError as exc:
            raise ConfigError(f"{source}: grids.{name}.{exc}") from None
        grids[name] = Grid(name=name, **body)
        parse_axis(list(grids[name].deepspeed), f"{source}: grids.{name}")  # one line naming a bad entry
        check_augmentation(grids[name], source)
        check_data_size(grids[name], source)
    return grids


def grid_from_file(config: str | os.PathLike, name: str) -> Grid:
    """Grid ``name`` of a workflow config file, validated; one line naming the file if it is unreadable or lacks it."""
    import yaml

    try:
        with open(config, encoding="utf-8") as fh:
            grids = load_grids(yaml.safe_load(fh), source=str(config))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{config}: not a readable workflow config ({exc})".splitlines()[0]) from None
    if name not in grids:
        raise ConfigError(f"{config}: no grid {name!r} (grids: {', '.join(grids)})")
    return grids[name]


def check_augmentation(grid: Grid, source: str = "configs/config.yaml") -> None:
    """Each `augmentation` entry names registered methods that have what they need (e.g. a model)."""
    from sumbench.data.augment import check_settings, parse_augmentation

    settings = grid.augment_settings(source)
    for i, augmentation in enumerate(grid.augmentation):
        check_settings(parse_augmentation(augmentation, f"{source}: grids.{grid.name}.augmentation.{i}"), settings)


def check_data_size(grid: Grid, source: str = "configs/config.yaml") -> None:
    """k_folds and every cap fit the training rows (synthetic `n`, or the train CSV when it exists)."""
    if grid.synth:
        n, where = grid.synth["n"], f"grids.{grid.name}.data.synth.n = {grid.synth['n']}"
    elif os.path.exists(grid.data["train"]):
        from sumbench.data.corpus import load_csv

        n = len(load_csv(grid.data["train"]))
        where = f"{grid.data['train']} has {n} rows"
    else:
        return  # the split rule reports a missing file
    if grid.k_folds > n:
        raise ConfigError(f"{source}: grids.{grid.name}.k_folds = {grid.k_folds} is more than the training rows "
                          f"({where})")
    smallest = n if grid.k_folds == 1 else n - math.ceil(n / grid.k_folds)
    for i, cap in enumerate(grid.max_train_samples):
        if cap is not None and cap > smallest:
            raise ConfigError(f"{source}: grids.{grid.name}.max_train_samples.{i} = {cap} is more than the "
                              f"{smallest} training examples of the smallest fold ({where}, k_folds = {grid.k_folds})")


def check_models(grid: Grid, known: dict[str, Path], source: str = "configs/config.yaml") -> None:
    """Every model of ``grid`` exists, and takes the grid's overrides of its YAML (e.g. no ZeRO-3 for 4-bit weights)."""
    from sumbench.config.model import load_model

    for model in grid.models:
        if model not in known:
            raise ConfigError(f"{source}: grids.{grid.name}.models: unknown model {model!r} "
                              f"(known: {', '.join(sorted(known))})")
        if grid.model_overrides():
            try:
                load_model(model, known[model].parent, overrides=grid.model_overrides())
            except ConfigError as exc:
                raise ConfigError(f"{source}: grids.{grid.name}.deepspeed, for model {model}: {exc}") from None
