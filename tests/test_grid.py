import re

import pytest
import yaml

from sumbench.config.schema import REPO_ROOT
from sumbench.errors import ConfigError
from sumbench.config.grid import load_grids
from sumbench.records import cap_label


def shipped_config() -> dict:
    return yaml.safe_load((REPO_ROOT / "configs" / "config.yaml").read_text(encoding="utf-8"))


def test_quick_test_grid_covers_three_architectures_two_bs_two_ga_two_folds():
    grid = load_grids(shipped_config())["quick_test"]
    cells = grid.cells()
    assert len(grid.models) >= 3 and len(grid.batch_sizes) >= 2 and len(grid.grad_accum) >= 2 and grid.k_folds >= 2
    assert len(cells) == len(grid.models) * len(grid.batch_sizes) * len(grid.grad_accum) * grid.k_folds
    eff = {(c["bs"], c["ga"]): c["bs"] * c["ga"] for c in cells}
    assert eff.get((8, 1)) == eff.get((4, 2)) == 8  # a same-effective-batch pair exists
    assert grid.report == "results/quick_test/summary.md"


def test_full_grid_reports_to_results_summary_and_lists_the_six_models():
    grid = load_grids(shipped_config())["full"]
    assert grid.report == "results/summary.md"
    assert len(grid.models) == 6
    paths = grid.metrics_files()
    assert len(paths) == len(set(paths)) == len(grid.cells())
    assert paths[0].startswith("results/full/runs/kobart/aug-none_cap-all/bs")


def test_cap_labels_round_trip():
    """A cap becomes a path label (`cap-all`, `cap-200`) and comes back as the cap `sumbench data augment` gets."""
    assert cap_label(None) == "all" and cap_label(200) == "200"
    grid = load_grids(shipped_config())["quick_aug"]
    assert None in grid.max_train_samples and len(grid.max_train_samples) >= 2
    for cap in grid.max_train_samples:
        options = grid.augment_options(cap_label(cap))
        given = options[options.index("--max-train-samples") + 1] if "--max-train-samples" in options else None
        assert (None if given is None else int(given)) == cap


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["grids"]["quick_test"].update(batch_size=[4]), "unknown key 'grids.quick_test.batch_size'"),
    (lambda c: c["grids"]["quick_test"].update(batch_sizes=[-1]), "grids.quick_test.batch_sizes.0"),
    (lambda c: c["grids"]["quick_test"].update(k_folds=0), "grids.quick_test.k_folds"),
    (lambda c: c["grids"]["quick_test"]["data"].update(train="x.csv"), "either both `train` and `dev` CSVs or `synth`"),
    (lambda c: c["grids"]["quick_test"].update(deepspeed=[False, "zero7"]),
     "grids.quick_test: key deepspeed[1]: unknown ZeRO stage 7"),
    (lambda c: c["grids"]["quick_test"].update(deepspeed=["zero2+gpu"]), "unknown offload 'gpu' in 'zero2+gpu'"),
    (lambda c: c["grids"]["quick_test"].update(deepspeed=[]), "grids.quick_test.deepspeed"),
])
def test_bad_config_gives_one_line_naming_the_key(mutate, message):
    config = shipped_config()
    mutate(config)
    with pytest.raises(ConfigError, match=re.escape(message)) as exc:
        load_grids(config)
    assert "\n" not in str(exc.value)


def test_a_grid_names_the_deepspeed_axis_of_its_models_and_the_profile_job_takes_it(tmp_path):
    """``deepspeed:`` in a grid replaces each model YAML's axis in the profile (a job's own --set still wins), and a
    setting a model cannot take (ZeRO-3 with 4-bit weights) fails at the workflow's start, naming grid and model."""
    from sumbench.config.grid import Grid, check_models
    from sumbench.config.model import model_files
    from sumbench.training.profile import ProfileJob

    config = shipped_config()
    config["grids"]["quick_test"]["deepspeed"] = [False, "zero2+optimizer"]  # a bare `off` in YAML reads as false
    grid = Grid.from_json(load_grids(config)["quick_test"].to_json())  # as the workflow hands it to a job
    job = ProfileJob(grid=grid, model="tiny-llama", data=tmp_path, out=tmp_path / "p.json")
    assert [s.name for s in job.spec().deepspeed] == ["off", "zero2+optimizer"]
    assert [s.name for s in ProfileJob(grid=grid, model="tiny-llama", data=tmp_path, out=tmp_path / "p.json",
                                       overrides=("deepspeed=[zero3]",)).spec().deepspeed] == ["zero3"]
    config["grids"]["quick_test"].update(models=["tiny-llama-qlora"], deepspeed=["zero3"])
    with pytest.raises(ConfigError, match=r"configs/config.yaml: grids\.quick_test\.deepspeed, for model "
                                          r"tiny-llama-qlora: .*zero3 with 4-bit weights") as exc:
        check_models(load_grids(config)["quick_test"], model_files(REPO_ROOT / "configs" / "models"))
    assert "\n" not in str(exc.value)
