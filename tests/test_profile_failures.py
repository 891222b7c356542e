"""A profile that fails is a result: a model that does not load, a costs pass that raises, every split failing.
Each is recorded in the model's profile record (always written), reported, and left out by the plan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.config.grid import Grid
from sumbench.data.corpus import Example
from sumbench.planning.plan import DataSizes, ModelInputs, make_plan
from sumbench.planning.throughput import Rates
from sumbench.records import Costs, GaCheck, ModelProfile, SplitProfile, read_profile
from sumbench.report.diagnostics import diagnose

CAUSE = "RuntimeError: injected by SUMBENCH_FAULT=error@bad/*"


def failed_profile(model: str = "bad") -> ModelProfile:
    splits = [SplitProfile(batch_size=b, grad_accum=g, status="error", message=CAUSE) for b in (4, 8) for g in (1, 2)]
    return ModelProfile(model=model, splits=splits, ga_check=GaCheck(status="error", detail="no split ran"))


def ok_profile(model: str = "good") -> ModelProfile:
    splits = [SplitProfile(batch_size=b, grad_accum=g, samples_per_s=10.0 * b) for b in (4, 8) for g in (1, 2)]
    return ModelProfile(model=model, splits=splits, ga_check=GaCheck(status="pass"))


def test_a_model_whose_every_split_failed_is_left_out_and_the_others_are_planned():
    grid = Grid(name="g", models=("bad", "good"), batch_sizes=(4, 8), grad_accum=(1, 2), k_folds=2,
                data={"synth": {"n": 100}}, max_steps=10)
    profiles = {"bad": failed_profile(), "good": ok_profile()}
    inputs = {m: ModelInputs(epochs=1.0, augment_ratio=0.5, costs=p.costs, profile=p,
                             rates=Rates("profile", {s.label: s.samples_per_s for s in p.splits if s.samples_per_s}))
              for m, p in profiles.items()}
    plan = make_plan(grid, inputs, DataSizes(train=50, heldout=50, dev=10), "after-profile")
    assert {c.model for c in plan.cells} == {"good"} and len(plan.cells) == 3 * 2  # 3 effective batches x 2 folds
    bad = next(m for m in plan.models if m.model == "bad")
    assert bad.left_out == f"every profiled split failed (error: {CAUSE})"  # the cause, once
    assert bad.quality_jobs == 0 and bad.ga_equivalent is None  # not "every split trains": none does
    assert plan.decisions == [f"bad: left out of the quality phase: every profiled split failed (error: {CAUSE})"]
    assert next(m for m in plan.models if m.model == "good").left_out is None


def test_a_split_that_ran_keeps_the_model_in():
    profile = failed_profile()
    profile.splits[1] = SplitProfile(batch_size=4, grad_accum=2, samples_per_s=5.0)
    assert profile.failed() is None
    only_oom = ModelProfile(model="m", splits=[SplitProfile(batch_size=4, grad_accum=1, status="oom", message="CUDA OOM"),
                                               SplitProfile(batch_size=8, grad_accum=1, status="skipped", message="x")])
    assert only_oom.failed() == "every profiled split failed (oom: CUDA OOM)"  # a skip is not a cause


def test_the_report_lists_a_failed_model_and_a_failed_costs_pass():
    broken_costs = ok_profile()
    broken_costs.costs = Costs(load_s=1.0, eval_s_per_example=0.1, error="error: RuntimeError: expected m1 and m2 "
                                                                          "to have the same dtype")
    findings = [f for f in diagnose([], [failed_profile(), broken_costs]) if f.kind == "profile failures"]
    assert [(f.model, f.message) for f in findings] == [
        ("bad", f"every profiled split failed (error: {CAUSE}): the plan leaves bad out, it has no quality cells"),
        ("good", "the costs pass (evaluation, generation, scoring) failed: error: RuntimeError: expected m1 and m2 to "
                 "have the same dtype; the plan predicts without its figures")]


def test_the_costs_pass_records_a_failure_and_keeps_what_it_measured(monkeypatch):
    from sumbench.evaluation import generate
    from sumbench.training import features, profile, trainer

    class Trainer:
        def evaluate(self):
            return {"eval_loss": 1.0}

    class Feat:
        def train_example(self, dialogue, summary):
            return {}

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "make_trainer", lambda *a, **k: Trainer())
    monkeypatch.setattr(features.Featurizer, "for_spec", classmethod(lambda cls, tokenizer, spec: Feat()))
    monkeypatch.setattr(generate, "generate", out_of_memory)
    dev = [Example(fname=f"d{i}", dialogue="#Person1#: 안녕", summary="인사", topic="t") for i in range(3)]
    known = Costs(startup_s=2.0, load_s=1.0)
    costs = profile._costs(None, None, None, [{}], dev, ("whitespace",), known)
    assert costs.error == "oom: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert costs.eval_s_per_example is not None and costs.generate_s_per_example is None  # measured before it failed
    assert (costs.startup_s, costs.load_s) == (2.0, 1.0)


def test_an_error_fault_can_name_every_split_of_a_model(monkeypatch):
    from sumbench.training.faults import injected_fault

    monkeypatch.setenv("SUMBENCH_FAULT", "error@tiny-llama/*")
    assert injected_fault("tiny-llama", 4, 1) is not None and injected_fault("tiny-llama", 8, 2) is not None
    assert injected_fault("tiny-bart", 4, 1) is None
    monkeypatch.setenv("SUMBENCH_FAULT", "oom@tiny-llama/bs8_ga1")
    assert injected_fault("tiny-llama", 8, 1) is not None and injected_fault("tiny-llama", 8, 2) is None


@pytest.fixture(scope="module")
def folds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("profile")
    for args in (("synth", "--n", "20", "--dev-n", "4", "--seed", "3", "--out", str(root / "src")),
                 ("split", "--train", str(root / "src/train.csv"), "--dev", str(root / "src/dev.csv"), "--k", "1",
                  "--out", str(root / "folds"))):
        proc = subprocess.run([sys.executable, "-m", "sumbench.cli", "data", *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return root / "folds"


def test_a_model_that_does_not_load_still_writes_its_profile_record(folds, tmp_path, monkeypatch):
    from sumbench.training import models
    from sumbench.training.profile import ProfileJob, run_profile

    def no_memory(spec):
        raise RuntimeError("CUDA out of memory. Tried to allocate 24.00 GiB")

    monkeypatch.setattr(models, "load_for_training", no_memory)
    grid = Grid(name="g", models=("tiny-llama",), batch_sizes=(4, 8), grad_accum=(1,), k_folds=1,
                data={"synth": {"n": 20}}, rouge={"analyzers": ["whitespace"]})
    run_profile(ProfileJob(grid=grid, model="tiny-llama", data=folds, out=tmp_path / "p.json"))
    record = read_profile(tmp_path / "p.json")
    assert [(s.label, s.status) for s in record.splits] == [("bs4_ga1", "oom"), ("bs8_ga1", "oom")]
    assert record.splits[0].message == "the model did not load: RuntimeError: CUDA out of memory. Tried to allocate " \
                                       "24.00 GiB"
    assert record.failed() is not None and record.costs.error == "not measured: the model did not load"
