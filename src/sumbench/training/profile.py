"""The profile phase of one model: every bs x ga split of the grid runs a short timed phase, in one process.

    sumbench profile --model tiny-llama --grid-json "$(...)" --data results/quick_test/data/folds \\
        --base results/quick_test/base/tiny-llama --out results/quick_test/profile/tiny-llama.json

Speed and memory settle within a few dozen optimizer steps, so each split trains ``warmup_steps`` untimed, then
a fixed budget of timed steps (or samples), the same for every split, on fold 0's training part. The model is
loaded once (a 12.8B model is not reloaded nine times); each split runs in isolation: the trainable weights are
restored to their loaded values, the previous split's Trainer, optimizer and cached memory are freed, and the
memory statistics are reset when its window starts. The first split is measured again at the end: the drift
between its two measurements says whether the splits before it left anything behind.

Splits run micro-batch first: when micro-batch B runs out of memory, every larger micro-batch, at every grad
accumulation, is skipped (recorded with the reason) and never tried. Then the gradient-accumulation
equivalence check (``sumbench doctor``'s) runs once, and the costs of loading, evaluating, generating and
scoring are measured on a few examples: the planner predicts the quality phase from them. Last, the DeepSpeed
settings the model YAML lists: every split again under each, and each proved equivalent to no DeepSpeed
(:mod:`sumbench.training.deepspeed_profile`).

Whatever fails after the inputs were checked is a result, and the record is always written: a split that raises
is that split's status and cause; a model that does not load gives every split that cause; a failed equivalence
check or costs pass is the record's ``ga_check`` or ``costs.error``. A model whose every split failed is then
reported and left out by the plan, and the other models' quality jobs run.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sumbench.config.grid import Grid
from sumbench.config.model import ModelSpec, load_model, spec_to_dict
from sumbench.errors import SumbenchError
from sumbench.records import Costs, GaCheck, ModelProfile, SplitProfile
from sumbench.training.deepspeed_profile import check_settings, profile_settings
from sumbench.training.distributed import world
from sumbench.training.lease import DeviceLease

COST_EXAMPLES = 8  # examples the evaluation, generation and scoring costs are measured on
GA_CHECK_MAX_BATCH = 8  # the equivalence check's effective batch, at most (it must fit as one micro-batch)
GA_CHECK_EXAMPLES = 64


@dataclass(frozen=True)
class ProfileJob:
    grid: Grid
    model: str
    data: Path  # folder written by `sumbench data split`
    out: Path  # profile/<model>.json
    overrides: tuple[str, ...] = ()
    models_dir: Path | None = None
    threads: int | None = None

    def spec(self) -> ModelSpec:
        """The model's YAML with the grid's overrides (its DeepSpeed axis), then the job's own ``--set``."""
        return load_model(self.model, overrides=self.grid.model_overrides() + list(self.overrides),
                          **({"models_dir": self.models_dir} if self.models_dir else {}))


def log(line: str) -> None:
    print(f"sumbench profile: {line}", flush=True)


def run_profile(job: ProfileJob) -> ModelProfile:
    """Profile every split of ``job.grid`` for one model and write the record (atomically)."""
    from sumbench.training.timed import AnalyserLoad

    analyser = AnalyserLoad(job.grid.analyzers)  # overlaps the imports below
    import torch  # noqa: F401  start-up cost, before the clock for loading starts

    from sumbench.data.corpus import load_csv
    from sumbench.training.cell import Failure
    from sumbench.training.measure import process_age_s
    from sumbench.training.models import count_parameters, load_for_training
    from sumbench.training.trainer import set_threads

    spec = job.spec()
    train = load_csv(job.data / "fold0" / "train.csv")
    dev = load_csv(job.data / "dev.csv")
    lease = DeviceLease.acquire(spec.resources.gpus)
    set_threads(job.threads)
    import peft  # noqa: F401  imports are start-up cost, not loading: every quality job pays them once
    import transformers.trainer  # noqa: F401

    startup = process_age_s()
    budget = job.grid.budget
    try:
        started = time.perf_counter()
        model, tokenizer = load_for_training(spec)
        load_s = time.perf_counter() - started
        features, featurize_s = _featurize(spec, tokenizer, train)
    except SumbenchError:
        raise  # bad input (missing weights, a bad key): one line and a non-zero exit, as everywhere
    except Exception as exc:  # noqa: BLE001 - a model that does not load is a result: every split says why
        traceback.print_exc()
        failure = Failure.of(exc, "load")
        log(f"{job.model} did not load: {failure.message}")
        splits = [SplitProfile(batch_size=bs, grad_accum=ga, status=failure.status,
                               message=f"the model did not load: {failure.message}") for bs, ga in job.grid.splits()]
        costs = Costs(startup_s=startup, analyser_load_s=analyser.wait(), error="not measured: the model did not load")
        return _write(job, spec, splits, GaCheck(status="error", detail="the model did not load"), None, None, costs,
                      None)
    _, total_params = count_parameters(model)
    snapshot = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
    log(f"{job.model} on {lease.device}: {len(job.grid.splits())} splits, {budget.warmup_steps} warm-up steps, "
        f"then {budget.timed_samples or budget.timed_steps} timed {'samples' if budget.timed_samples else 'steps'}")

    splits: list[SplitProfile] = []
    oom_at: int | None = None
    burn_in = _profile_split(spec, model, tokenizer, features, snapshot, lease,
                             dataclasses.replace(budget, timed_steps=1, timed_samples=None), *job.grid.splits()[0],
                             remeasured=True)
    log(f"burn-in ({burn_in.label}, not recorded): {burn_in.status}")  # first-use costs stay out of the first split
    for bs, ga in job.grid.splits():
        if oom_at is not None and bs >= oom_at:
            splits.append(SplitProfile(batch_size=bs, grad_accum=ga, status="skipped",
                                       message=f"micro-batch {oom_at} ran out of memory, so {bs} would too"))
            continue
        split = _profile_split(spec, model, tokenizer, features, snapshot, lease, budget, bs, ga)
        splits.append(split)
        log(f"{split.label}: {split.status}" + (f" {split.samples_per_s:.3g} samples/s, {split.s_per_step_median:.3g}"
                                                 f" s/step" if split.status == "ok" else f" ({split.message})"))
        if split.status == "oom":
            oom_at = bs if oom_at is None else min(oom_at, bs)
    drift, drift_split = None, None
    first = next((s for s in splits if s.status == "ok"), None)
    if first is not None and len([s for s in splits if s.status == "ok"]) > 1:
        again = _profile_split(spec, model, tokenizer, features, snapshot, lease, budget, first.batch_size,
                               first.grad_accum, remeasured=True)
        splits.append(again)
        if again.status == "ok":
            drift, drift_split = again.s_per_step_median / first.s_per_step_median - 1, first.label
            log(f"isolation: {first.label} again: {again.s_per_step_median:.3g} s/step, drift {drift:+.1%}")
    _restore(model, snapshot)
    ga_check = _ga_check(spec, model, tokenizer, snapshot, train, splits)
    setups = sorted(s.setup_s for s in splits if s.status == "ok" and not s.remeasured and s.setup_s is not None)
    costs = _costs(spec, model, tokenizer, features, dev, job.grid.analyzers,
                   Costs(startup_s=startup, load_s=load_s, featurize_s_per_example=featurize_s,
                         analyser_load_s=analyser.wait(), train_setup_s=setups[len(setups) // 2] if setups else None))
    if costs.error:
        log(f"costs pass failed: {costs.error}")
    del model
    _free()
    splits += profile_settings(spec, tokenizer, features, lease, budget, job.grid.splits(), log,
                               lambda fresh, bs, ga, setting: _profile_split(spec, fresh, tokenizer, features, {}, lease,
                                                                             budget, bs, ga, deepspeed=setting))
    deepspeed_checks = check_settings(spec, tokenizer, [(e.dialogue, e.summary) for e in train[:GA_CHECK_EXAMPLES]],
                                      splits)
    return _write(job, spec, splits, ga_check, drift, drift_split, costs, total_params, deepspeed_checks)


def _write(job: ProfileJob, spec: ModelSpec, splits: list[SplitProfile], ga_check: GaCheck, drift: float | None,
           drift_split: str | None, costs: Costs, total_params: int | None, deepspeed_checks=()) -> ModelProfile:
    """The model's profile record, written atomically whatever failed on the way."""
    from sumbench.environment import capture
    from sumbench.training.measure import process_age_s

    budget = job.grid.budget
    settings = {"model": spec_to_dict(spec), "profile": dataclasses.asdict(budget), "grid": job.grid.name}
    record = ModelProfile(model=job.model, kind=spec.kind, finetune=spec.finetune, warmup_steps=budget.warmup_steps,
                          timed_steps=None if budget.timed_samples else budget.timed_steps,
                          timed_samples=budget.timed_samples, splits=splits, ga_check=ga_check,
                          deepspeed_checks=list(deepspeed_checks), drift=drift,
                          drift_split=drift_split, costs=costs, total_params=total_params, wall_s=process_age_s(),
                          settings=settings, environment=capture(settings, spec.training.seed))
    if world().main:  # one record however many processes trained
        record.write(job.out)
    return record


def _featurize(spec: ModelSpec, tokenizer, examples):
    from sumbench.training.features import Featurizer

    started = time.perf_counter()
    feat = Featurizer.for_spec(tokenizer, spec)
    features = [feat.train_example(e.dialogue, e.summary) for e in examples]
    return features, (time.perf_counter() - started) / max(1, len(examples))


def _restore(model, snapshot) -> None:
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in snapshot:
                param.copy_(snapshot[name].to(param.device))


def _free() -> None:
    from sumbench.training.memory import release_device_memory

    release_device_memory()


def _profile_split(spec, model, tokenizer, features, snapshot, lease: DeviceLease, budget, bs: int, ga: int,
                   remeasured: bool = False, deepspeed=None) -> SplitProfile:
    """One split's short timed run; an out-of-memory or other failure is the split's status, not a crash."""
    from sumbench.training.cell import Failure
    from sumbench.training.faults import injected_fault
    from sumbench.training.timed import hardware_of, measured_fields, new_measurement, timed_training
    from sumbench.training.trainer import make_trainer

    _restore(model, snapshot)
    steps = budget.warmup_steps + budget.steps(bs * ga)
    measurement, trainer = new_measurement(), None
    try:
        with tempfile.TemporaryDirectory(prefix="sumbench-profile-") as tmp:
            started = time.perf_counter()
            trainer = make_trainer(model, tokenizer, spec, features, batch_size=bs, grad_accum=ga, max_steps=steps,
                                   out=Path(tmp), measurement=measurement, deepspeed=deepspeed)
            fault = None if remeasured else injected_fault(spec.name, bs, ga)
            if fault is not None:
                trainer.add_callback(fault)
            run = timed_training(trainer, measurement, lease, budget.warmup_steps, hardware_of(model, spec))
            fields = measured_fields(run)
            samples = steps * bs * ga * (fields["world_size"] or 1)  # samples_per_s counts every rank's
            at_pace = samples / fields["samples_per_s"] if fields["samples_per_s"] else None
            setup = None if at_pace is None else time.perf_counter() - started - (run.window.waited_s or 0) - at_pace
        return SplitProfile(batch_size=bs, grad_accum=ga, remeasured=remeasured, setup_s=setup, **fields)
    except Exception as exc:  # noqa: BLE001 - a split that fails is a result; the other splits go on
        failure = Failure.of(exc, "train")
        return SplitProfile(batch_size=bs, grad_accum=ga, status=failure.status, message=failure.message,
                            remeasured=remeasured, deepspeed=deepspeed.name if deepspeed else "off")
    finally:
        del trainer
        _free()


def _ga_check(spec, model, tokenizer, snapshot, train, splits):
    """The equivalence check on the largest effective batch (up to GA_CHECK_MAX_BATCH) that fits as one micro-batch."""
    from sumbench.doctor import ga_equivalence

    fitting = [s.batch_size for s in splits if s.status == "ok"]
    if not fitting:
        return GaCheck(status="error", detail="no split ran, so no equivalence check")
    batch = min(max(fitting), GA_CHECK_MAX_BATCH)
    pairs = [(e.dialogue, e.summary) for e in train[:GA_CHECK_EXAMPLES]]

    def restored():
        _restore(model, snapshot)
        return model

    try:
        return ga_equivalence(spec, restored, tokenizer, pairs, effective_batch=batch)
    except Exception as exc:  # noqa: BLE001
        return GaCheck(status="error", effective_batch=batch, detail=f"{type(exc).__name__}: {exc}".splitlines()[0])
    finally:
        _restore(model, snapshot)
        _free()


def _costs(spec, model, tokenizer, features, dev, analyzers, known: Costs) -> Costs:
    """``known`` with the seconds per example of the eval-loss pass, generation and scoring (under the grid's
    analyzers) added, measured on COST_EXAMPLES dev examples. A failure is the record's ``error``: the figures
    measured before it are kept, the others stay None."""
    from sumbench.evaluation.generate import generate
    from sumbench.evaluation.rouge import score
    from sumbench.training.cell import Failure
    from sumbench.training.features import Featurizer
    from sumbench.training.trainer import make_trainer

    sample = dev[:COST_EXAMPLES]
    measured: dict[str, float] = {}
    trainer = None
    try:
        feat = Featurizer.for_spec(tokenizer, spec)
        with tempfile.TemporaryDirectory(prefix="sumbench-profile-") as tmp:
            trainer = make_trainer(model, tokenizer, spec, features[:1], batch_size=1, grad_accum=1, max_steps=1,
                                   out=Path(tmp),
                                   eval_features=[feat.train_example(e.dialogue, e.summary) for e in sample])
            started = time.perf_counter()
            trainer.evaluate()
            measured["eval_s_per_example"] = (time.perf_counter() - started) / len(sample)
        out = generate(model, tokenizer, spec, feat, [e.dialogue for e in sample])
        measured["generate_s_per_example"] = out.seconds / len(sample)
        score(out.summaries[:1], [sample[0].summary], analyzers=analyzers)  # first use (imports) is not per example
        started = time.perf_counter()
        score(out.summaries, [e.summary for e in sample], analyzers=analyzers)
        measured["score_s_per_example"] = (time.perf_counter() - started) / len(sample)
    except Exception as exc:  # noqa: BLE001 - a failed costs pass is a finding; the profile record is still written
        traceback.print_exc()
        failure = Failure.of(exc, "costs")
        return dataclasses.replace(known, **measured, error=f"{failure.status}: {failure.message}")
    finally:
        del trainer  # it holds the model and the accelerator: freed before the record is written
        _free()
    return dataclasses.replace(known, **measured)
