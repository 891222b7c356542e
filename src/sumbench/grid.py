"""The grid as data: which cells a workflow config asks for and where their files go.

The Snakemake rules (workflow/rules/*.smk) call these functions; keeping them here makes the grid
unit-testable without Snakemake.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sumbench.config import REPO_ROOT, validate_with_schema
from sumbench.errors import ConfigError

CONFIG_SCHEMA = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
FULL_GRID = "full"
RESULTS = "results"  # relative to the workflow directory; the Snakemake rules spell it out the same way


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
    seed: int = 42

    def __post_init__(self) -> None:
        has_csv, has_synth = "train" in self.data or "dev" in self.data, "synth" in self.data
        if has_csv == has_synth or (has_csv and not {"train", "dev"} <= set(self.data)):
            raise ConfigError(f"grids.{self.name}.data: give either both `train` and `dev` CSVs or `synth`")

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


def cap_label(cap: int | None) -> str:
    return "all" if cap is None else str(cap)


def cap_value(label: str) -> int | None:
    return None if label == "all" else int(label)


def load_grids(config: dict, source: str = "configs/config.yaml") -> dict[str, Grid]:
    validate_with_schema(config, CONFIG_SCHEMA, source)
    grids = {}
    for name, body in config["grids"].items():
        body = {k: tuple(v) if isinstance(v, list) else v for k, v in body.items()}
        grids[name] = Grid(name=name, **body)
    return grids


def check_models(grid: Grid, known: dict[str, Path], source: str = "configs/config.yaml") -> None:
    for model in grid.models:
        if model not in known:
            raise ConfigError(f"{source}: grids.{grid.name}.models: unknown model {model!r} "
                              f"(known: {', '.join(sorted(known))})")
