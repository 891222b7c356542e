"""The planner: quality cells from a profile, pruning, naive vs planned cost, budget trade-offs, throughput files."""

from __future__ import annotations

import dataclasses

import pytest

from sumbench.config.grid import Grid
from sumbench.errors import ConfigError
from sumbench.planning.plan import DataSizes, ModelInputs, make_plan, steps_and_samples
from sumbench.planning.throughput import Rates, model_rates, read_throughput_file
from sumbench.records import Costs, DeepSpeedCheck, GaCheck, ModelProfile, SplitProfile, split_label
from sumbench.records.plan import read_plan

GRID = Grid(name="g", models=("m",), batch_sizes=(4, 8, 16), grad_accum=(1, 2, 4), k_folds=5,
            data={"synth": {"n": 1000}})
SIZES = DataSizes(train=800, heldout=200, dev=50)


def profile(rates: dict[str, float], *, oom: str | None = None, ga: str = "pass") -> ModelProfile:
    splits = []
    for b, g in GRID.splits():
        label = split_label(b, g)
        if label == oom:
            splits.append(SplitProfile(batch_size=b, grad_accum=g, status="oom", message="CUDA out of memory"))
        elif oom and b >= int(oom[2:].split("_")[0]):
            splits.append(SplitProfile(batch_size=b, grad_accum=g, status="skipped", message="skipped: micro-batch"))
        else:
            splits.append(SplitProfile(batch_size=b, grad_accum=g, samples_per_s=rates.get(label, 10.0)))
    return ModelProfile(model="m", splits=splits, ga_check=GaCheck(status=ga, detail="x1.98 at ga=2"),
                        costs=Costs(startup_s=10.0, load_s=2.0, eval_s_per_example=0.01, generate_s_per_example=0.1,
                                    score_s_per_example=0.01, featurize_s_per_example=0.001, analyser_load_s=3.0))


def inputs(p: ModelProfile) -> dict[str, ModelInputs]:
    rates = Rates("profile", {s.label: s.samples_per_s for s in p.splits if s.status == "ok"})
    return {"m": ModelInputs(epochs=1.0, augment_ratio=0.5, rates=rates, costs=p.costs, profile=p)}


def test_each_effective_batch_trains_once_per_fold_with_its_fastest_split():
    p = profile({"bs8_ga1": 30.0, "bs4_ga2": 20.0, "bs16_ga1": 50.0, "bs8_ga2": 40.0, "bs4_ga4": 10.0})
    plan = make_plan(GRID, inputs(p), SIZES, "after-profile")
    chosen = {(c.batch_size * c.grad_accum): (c.batch_size, c.grad_accum) for c in plan.cells}
    assert chosen == {4: (4, 1), 8: (8, 1), 16: (16, 1), 32: (16, 2), 64: (16, 4)}
    assert len(plan.cells) == 5 * 5 and plan.models[0].ga_equivalent is True
    cell = next(c for c in plan.cells if c.batch_size == 8 and c.grad_accum == 1)
    assert cell.split_reason == "fastest split of effective batch 8: bs8_ga1 at 30 samples/s (profile; others: bs4_ga2 20)"
    # training + loading + eval + generation + scoring, each from the profile's measured costs
    expected = 800 / 30.0 + 2.0 + 800 * 0.001 + 200 * 0.01 + 250 * (0.1 + 0.01)
    assert cell.predicted_s == pytest.approx(expected)
    # the job's start-up: imports (10 s) with the analyzers (3 s) loading beside them
    assert plan.models[0].quality_s == pytest.approx(10.0 + sum(c.predicted_s for c in plan.cells))
    assert plan.models[0].naive_steps > plan.models[0].quality_steps


def test_an_oom_prunes_larger_micro_batches_and_drops_effective_batches_left_without_a_split():
    plan = make_plan(GRID, inputs(profile({}, oom="bs8_ga1")), SIZES, "after-profile")
    m = plan.models[0]
    assert set(m.pruned) == {"bs8_ga1", "bs8_ga2", "bs8_ga4", "bs16_ga1", "bs16_ga2", "bs16_ga4"}
    assert sorted(m.dropped_effective_batches) == [32, 64]
    assert {(c.batch_size, c.grad_accum) for c in plan.cells} == {(4, 1), (4, 2), (4, 4)}


def test_a_failed_equivalence_check_trains_every_split():
    plan = make_plan(GRID, inputs(profile({}, ga="fail")), SIZES, "after-profile")
    assert len({(c.batch_size, c.grad_accum) for c in plan.cells}) == 9
    assert "gradient-accumulation check failed" in plan.cells[0].split_reason and plan.models[0].ga_equivalent is False


def with_deepspeed(p: ModelProfile, setting: str, rates: dict[str, float], check: str = "pass",
                   oom_from: int | None = None) -> ModelProfile:
    """``p`` with every split also profiled under ``setting`` (``oom_from``: that micro-batch and larger ran out of
    memory under it too), and its equivalence check."""
    extra = [SplitProfile(batch_size=b, grad_accum=g, deepspeed=setting,
                          **({"status": "oom", "message": "out of memory"} if oom_from and b >= oom_from else
                             {"samples_per_s": rates.get(split_label(b, g), 5.0)})) for b, g in GRID.splits()]
    return dataclasses.replace(p, splits=p.splits + extra, deepspeed_checks=p.deepspeed_checks + [
        DeepSpeedCheck(setting=setting, status=check, detail=f"grad norm 1.0 vs 1.{'0' if check == 'pass' else '1'}")])


def test_each_effective_batch_trains_under_its_fastest_equivalent_deepspeed_setting_that_fits():
    # without DeepSpeed micro-batch 16 runs out of memory; with the optimizer offloaded it fits
    p = with_deepspeed(profile({"bs8_ga1": 30.0, "bs8_ga2": 40.0}, oom="bs16_ga1"), "zero2+optimizer",
                       {"bs16_ga1": 25.0, "bs8_ga1": 20.0, "bs4_ga2": 35.0, "bs16_ga2": 45.0})
    plan = make_plan(GRID, inputs(p), SIZES, "after-profile")
    chosen = {c.batch_size * c.grad_accum: (c.batch_size, c.grad_accum, c.deepspeed) for c in plan.cells}
    assert chosen == {4: (4, 1, "off"), 8: (4, 2, "zero2+optimizer"), 16: (8, 2, "off"),
                      32: (16, 2, "zero2+optimizer"), 64: (16, 4, "zero2+optimizer")}
    assert plan.models[0].dropped_effective_batches == {}  # 32 and 64 fit only with offload, and train with it
    cell = next(c for c in plan.cells if c.batch_size == 4 and c.grad_accum == 2)
    assert cell.split_reason.startswith("fastest split of effective batch 8: bs4_ga2+zero2+optimizer at 35 samples/s "
                                        "(profile; others: bs8_ga1 30, ")
    assert cell.predicted_s == pytest.approx(800 / 35.0 + 2.0 + 800 * 0.001 + 200 * 0.01 + 250 * (0.1 + 0.01))
    assert "bs16_ga1+zero2+optimizer" not in plan.models[0].pruned and "bs16_ga1" in plan.models[0].pruned


def test_a_deepspeed_setting_whose_equivalence_check_failed_trains_no_cell_and_the_plan_says_why():
    p = with_deepspeed(profile({}), "zero3", {split_label(b, g): 100.0 for b, g in GRID.splits()}, check="fail")
    plan = make_plan(GRID, inputs(p), SIZES, "after-profile")
    assert {c.deepspeed for c in plan.cells} == {"off"}
    assert any(n.startswith("m: DeepSpeed zero3 trains no quality cell: its equivalence check failed: grad norm")
               for n in plan.notes)


def test_with_a_failed_ga_check_every_split_trains_under_its_own_fastest_setting():
    p = with_deepspeed(profile({}, ga="fail"), "zero2", {"bs4_ga1": 50.0})
    plan = make_plan(GRID, inputs(p), SIZES, "after-profile")
    settings = {(c.batch_size, c.grad_accum): c.deepspeed for c in plan.cells}
    assert len(settings) == 9 and settings[(4, 1)] == "zero2" and settings[(8, 1)] == "off"
    cell = next(c for c in plan.cells if (c.batch_size, c.grad_accum) == (4, 1))
    assert cell.split_reason.startswith("every split of effective batch 4 trains: m's gradient-accumulation check "
                                        "failed (x1.98 at ga=2); fastest setting of bs4_ga1: bs4_ga1+zero2 at 50")


def test_steps_follow_the_trainer_count_for_epochs_and_max_steps():
    assert steps_and_samples(GRID, 800, 1.0, 8, 2) == (50, 800)
    assert steps_and_samples(GRID, 801, 2.0, 8, 2) == (102, 1602)  # a partial last batch is a step of its own
    assert steps_and_samples(dataclasses.replace(GRID, max_steps=7), 800, 1.0, 8, 2) == (7, 112)


def test_a_budget_trims_folds_then_caps_then_drops_effective_batches_and_says_so():
    p = profile({})  # 10 samples/s everywhere
    full = make_plan(GRID, inputs(p), SIZES, "after-profile")
    hours = full.quality_hours()
    plan = make_plan(dataclasses.replace(GRID, budget_hours=hours * 0.3), inputs(p), SIZES, "after-profile")
    assert plan.quality_hours() <= hours * 0.3
    assert plan.k_folds == 2 and plan.decisions[0].startswith("folds 5 -> 4")
    assert any(d.startswith("max_train_samples all -> ") for d in plan.decisions)
    tight = make_plan(dataclasses.replace(GRID, budget_hours=hours * 0.02), inputs(p), SIZES, "after-profile")
    assert any("effective batch" in d and "dropped" in d for d in tight.decisions)
    assert tight.max_train_samples == [80]  # never below 10 % of a fold's training part
    easy = make_plan(dataclasses.replace(GRID, budget_hours=hours * 2), inputs(p), SIZES, "after-profile")
    assert easy.k_folds == 5 and "fits the budget as configured" in easy.decisions[0]


def test_throughput_file_fills_missing_splits_and_scales_other_models_by_size(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("big: {bs8_ga2: 4.0, bs16_ga2: 3.0}\n", encoding="utf-8")

    class Spec:
        def __init__(self, kind, parameters):
            self.kind, self.parameters = kind, parameters

    specs = {"big": Spec("causal", 3e9), "bigger": Spec("causal", 12e9), "s2s": Spec("seq2seq", 1e8)}
    rates = model_rates(specs, [(8, 1), (8, 2), (16, 2)], {}, read_throughput_file(path, set(specs)))
    assert rates["big"].samples_per_s == {"bs8_ga1": 4.0, "bs8_ga2": 4.0, "bs16_ga2": 3.0}
    assert rates["big"].assumed == {"bs8_ga1": "bs8_ga2"}
    assert rates["bigger"].samples_per_s["bs8_ga2"] == pytest.approx(1.0)
    assert rates["bigger"].source.startswith("scaled from big by parameter count (3.0B -> 12.0B")
    assert rates["s2s"].source == "unknown"


@pytest.mark.parametrize("text, message", [
    ("nope: {bs8_ga2: 4}\n", "unknown model 'nope'"),
    ("big: {bs8: 4}\n", "key 'big.bs8' is not a split like bs8_ga2"),
    ("big: {bs8_ga2: -1}\n", "key 'big.bs8_ga2' must be a positive samples/s"),
    ("[1, 2]\n", "expected a mapping of model"),
])
def test_bad_throughput_files_fail_with_one_line(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_throughput_file(path, {"big"})


def test_plan_full_with_the_users_throughputs_fits_a_24_hour_budget_and_lists_each_trade_off(tmp_path):
    import subprocess

    import yaml

    from sumbench.config.schema import REPO_ROOT

    data = tmp_path / "data"  # the competition's sizes: 12,457 training and 499 dev dialogues
    subprocess.run(["sumbench", "data", "synth", "--n", "12457", "--dev-n", "499", "--out", str(data)], check=True,
                   capture_output=True)
    config = yaml.safe_load((REPO_ROOT / "configs" / "config.yaml").read_text(encoding="utf-8"))
    config["grids"]["full"]["data"] = {"train": str(data / "train.csv"), "dev": str(data / "dev.csv")}
    throughput = str(REPO_ROOT / "configs" / "throughput" / "user-24gb.yaml")

    def plan(budget):
        config["grids"]["full"]["budget_hours"] = budget
        path = tmp_path / f"config-{budget}.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        proc = subprocess.run(["sumbench", "plan", "full", "--config", str(path), "--throughput", throughput,
                               "--out", str(tmp_path / f"plan-{budget}.json")], capture_output=True, text=True)
        if proc.returncode != 0:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            return proc.stderr, None
        return proc.stdout, read_plan(tmp_path / f"plan-{budget}.json")

    text, free = plan(None)
    assert free.naive_hours() > 1.5 * free.quality_hours() > 100  # every split to convergence vs each effective batch once
    assert "| **total** |" in text and "naive" in text
    text, fitted = plan(24)
    assert fitted.quality_hours() <= 24.0 and fitted.k_folds == 2
    assert [d.split(":")[0] for d in fitted.decisions[:3]] == ["folds 5 -> 4", "folds 4 -> 3", "folds 3 -> 2"]
    assert fitted.decisions[3].startswith("max_train_samples all -> ")
    for decision in fitted.decisions:
        assert f"- {decision}" in text

    # Before the CSVs are on the machine: the same plan from the row counts the user states.
    config["grids"]["full"]["data"] = {"train": str(tmp_path / "absent" / "train.csv"), "dev": "absent/dev.csv"}
    text, stated = plan(None)  # fails without --examples, naming the option ...
    assert "absent/train.csv: cannot read" in text.strip() and "--examples TRAIN,DEV" in text
    proc = subprocess.run(["sumbench", "plan", "full", "--config", str(tmp_path / "config-None.yaml"), "--throughput",
                           throughput, "--examples", "12457,499", "--out", str(tmp_path / "stated.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr  # ... and with it gives the plan the CSVs gave
    stated = read_plan(tmp_path / "stated.json")
    assert stated.quality_hours() == pytest.approx(free.quality_hours())
    assert stated.naive_hours() == pytest.approx(free.naive_hours())
    assert "example counts as stated with --examples: 12,457 training, 499 dev" in proc.stdout


def test_a_cell_is_predicted_from_its_rate_setup_curve_and_final_evals_and_generation():
    """Every term by hand: samples at the rate; load, Trainer set-up and featurizing; the learning curve's and the
    final eval-loss passes over the held-out part; generating and scoring dev and held-out summaries."""
    from sumbench.planning.plan import cell_seconds

    costs = Costs(load_s=2.0, train_setup_s=0.5, featurize_s_per_example=0.001, eval_s_per_example=0.01,
                  generate_s_per_example=0.1, score_s_per_example=0.02)
    by_hand = 640 / 32 + 2.0 + 0.5 + 800 * 0.001 + (1 + 3) * 200 * 0.01 + (50 + 200) * (0.1 + 0.02)
    assert cell_seconds(640, 800, 32.0, costs, SIZES, curve_evaluations=3) == pytest.approx(by_hand)
    assert cell_seconds(640, 800, None, costs, SIZES) is None  # no rate, no prediction


@pytest.mark.parametrize(("every", "steps", "batch", "evaluations"),
                         [(None, 40, 16, 0), (16, 8, 4, 2), (16, 8, 16, 8), (100, 40, 16, 6), (16, 8, 64, 8)])
def test_the_learning_curve_evaluations_a_training_runs(every, steps, batch, evaluations):
    grid = dataclasses.replace(GRID, eval_every_samples=every)
    assert grid.curve_evaluations(steps, batch) == evaluations


def test_a_job_is_ready_when_both_its_imports_and_its_analyzers_are():
    from sumbench.planning.plan import job_seconds

    assert job_seconds(Costs(startup_s=6.0, analyser_load_s=2.5)) == 6.0
    assert job_seconds(Costs(startup_s=2.0, analyser_load_s=5.0)) == 5.0
    assert job_seconds(None) == 0.0
