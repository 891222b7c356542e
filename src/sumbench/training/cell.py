"""One grid cell: fine-tune a model at (batch size, grad accumulation, fold), evaluate it, write its records.

    sumbench train --model tiny-bart --base results/quick_test/base/tiny-bart --batch-size 8 --grad-accum 2 \\
        --fold 0 --data results/quick_test/data/folds --out /tmp/cell

:func:`run_cell` reads top to bottom: load the data and the model, featurize, train under
:mod:`sumbench.training.measure`, evaluate on dev and on the fold's held-out part, write ``metrics.json``,
``train_log.jsonl`` and ``predictions.jsonl``. Each step returns a frozen result, and :func:`build_record`
assembles the :class:`~sumbench.records.CellRecord` from their fields, each named once.

Imports torch lazily so that ``sumbench --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sumbench.config.grid import DATA_SEED
from sumbench.config.model import ModelSpec, load_model, spec_to_dict
from sumbench.config.augment import AugmentSettings
from sumbench.config.deepspeed import DeepSpeedSetting, check_for_model, parse_setting
from sumbench.data.corpus import Example
from sumbench.errors import ConfigError, SumbenchError
from sumbench.io import atomic_write_jsonl
from sumbench.records import CellRecord
from sumbench.training.distributed import world
from sumbench.training.lease import DeviceLease
from sumbench.training.timed import TimedRun

TIMING_WARMUP_STEPS = 2
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rouge_sum")
RECORD_FILES = ("metrics.json", "train_log.jsonl", "predictions.jsonl")


@dataclass(frozen=True)
class Cell:
    """Everything that identifies one grid cell and where its data is."""

    model: str
    batch_size: int
    grad_accum: int
    fold: int
    data: Path  # a folder written by `sumbench data split`: fold{K}/train.csv, fold{K}/heldout.csv, dev.csv
    out: Path
    max_steps: int | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    warmup_steps: int = TIMING_WARMUP_STEPS
    augmentation: str = "none"
    overrides: tuple[str, ...] = ()
    threads: int | None = None
    models_dir: Path | None = None
    repeats: int = 1
    train_csv: Path | None = None  # a training set from `sumbench data augment` (capped + augmented) instead of the fold's
    seed: int = DATA_SEED  # of the cap and the augmentation; the model's training.seed drives init and data order
    augment_settings: AugmentSettings | None = None  # None: the defaults (ratio 0.5, ...)
    split_reason: str | None = None  # why this bs x ga split trains its effective batch (from the plan)
    progress_every: int | None = None  # a progress line every N optimizer steps (None: every ~36 s)
    eval_every_samples: int | None = None  # eval loss on the held-out part every N training samples (learning curve)
    analyzers: tuple[str, ...] = ("kiwi", "mecab", "whitespace")  # ROUGE tokenizations; the first is the primary
    aggregation: str = "mean"  # over several reference summaries: mean (the competition's rule) or max
    deepspeed: str = "off"  # a DeepSpeed setting (sumbench.config.deepspeed): off, zero2+optimizer, a file path

    def __post_init__(self) -> None:
        for key in ("batch_size", "grad_accum"):
            if getattr(self, key) < 1:
                raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(self, key)}")
        for key in ("max_steps", "max_train_samples", "max_eval_samples", "repeats"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
        if self.fold < 0:
            raise ConfigError(f"--fold must be >= 0, got {self.fold}")
        from sumbench.data.augment import parse_augmentation

        parse_augmentation(self.augmentation, "--augmentation")  # unknown or badly combined names fail here
        parse_setting(self.deepspeed, "--deepspeed")  # an unknown stage or a file that does not parse fails here

    @property
    def deepspeed_setting(self) -> DeepSpeedSetting:
        return parse_setting(self.deepspeed, "--deepspeed")

    @property
    def fold_dir(self) -> Path:
        return self.data / f"fold{self.fold}"

    def to_dict(self) -> dict[str, Any]:
        """The cell as JSON values: the record's ``settings.cell``."""
        def plain(value):
            if isinstance(value, Path):
                return str(value)
            return value.to_dict() if isinstance(value, AugmentSettings) else value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


# ------------------------------------------------------------------------------- what each step returns
@dataclass(frozen=True)
class CellData:
    train: list[Example]  # originals (capped) first, then each augmentation's copies
    heldout: list[Example]  # the fold's held-out part, cut to max_eval_samples
    dev: list[Example]  # cut to max_eval_samples


@dataclass
class Loaded:
    """The model and its tokenizer. The one result that is not frozen: :func:`train` takes the model out
    (:meth:`take_model`), so that a timing repeat can free it before loading the next copy."""

    tokenizer: Any
    load_s: float  # from disk to the device
    trainable_params: int
    total_params: int  # a packed 4-bit weight counts its unpacked elements
    model: Any

    def take_model(self):
        model, self.model = self.model, None
        return model


@dataclass(frozen=True)
class Features:
    featurizer: Any  # the training examples' Featurizer; generation prompts the same way
    train: list[dict]
    eval: list[dict]  # held-out (dev when the fold has none): eval_loss and early stopping
    data_stats: dict[str, Any]  # sumbench.data.stats.data_statistics of the training set
    original_train_examples: int
    augmented_examples: int
    source_truncation_rate: float
    target_truncation_rate: float


@dataclass(frozen=True)
class TrainResult:
    model: Any  # the trained model (of the last repeat)
    trainer: Any
    run: TimedRun  # of the last repeat: its steps are train_log.jsonl
    repeats: int
    s_per_step_repeats: tuple[float, ...]  # median s/step of each repeat
    s_per_step_cv: float | None


@dataclass(frozen=True)
class SplitScore:
    """ROUGE of one evaluation split under the primary analyzer (and every analyzer asked for); None throughout
    when the split is empty."""

    examples: int | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    rouge_sum: float | None = None
    by_analyzer: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # + each metric_version


@dataclass(frozen=True)
class EvalResult:
    dev: SplitScore
    heldout: SplitScore
    generation_s: float
    generated_tokens_per_s: float | None
    metric_version: str | None
    predictions: list[dict]  # predictions.jsonl


# cuBLAS and bitsandbytes report a failed CUDA allocation as a plain RuntimeError
OOM_MESSAGES = ("out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "cudaErrorMemoryAllocation", "CUDA_ERROR_OUT_OF_MEMORY")


def is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError)
                                                       and any(m in str(exc) for m in OOM_MESSAGES))


@dataclass(frozen=True)
class Failure:
    """A crash after the inputs were checked: a result (``status: oom|error``), not an exit code."""

    status: str
    message: str
    phase: str  # load | train | eval | generation

    @classmethod
    def of(cls, exc: BaseException, phase: str) -> Failure:
        return cls("oom" if is_oom(exc) else "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:500], phase)


# ------------------------------------------------------------------------------------------- the cell
def run_cell(cell: Cell, lease: DeviceLease | None = None, progress_file: Path | None = None) -> CellRecord:
    """Train and evaluate one cell and write its records atomically.

    Bad input (config, data, missing weights) raises SumbenchError before anything is written. A crash or
    an out-of-memory error after that is a result: ``metrics.json`` with ``status: error|oom`` and the phase it
    failed in; what was measured before the failure is kept. ``lease``: the job's device (the quality job
    passes its own); None leases one here.
    """
    from sumbench.environment import capture
    from sumbench.training.trainer import set_threads

    started = time.perf_counter()
    spec = load_model(cell.model, overrides=list(cell.overrides),
                      **({"models_dir": cell.models_dir} if cell.models_dir else {}))
    check_for_model(cell.deepspeed_setting, spec)
    data = load_data(cell)
    lease = lease or DeviceLease.acquire(spec.resources.gpus)
    set_threads(cell.threads)
    loaded = features = trained = eval_loss = evaluated = failure = None
    phase = "load"
    try:
        loaded = load(spec)
        clear_records(cell.out)
        features = featurize(spec, loaded.tokenizer, data)
        phase = "train"
        trained = train(cell, spec, loaded, features, lease, progress_file)
        phase = "eval"
        eval_loss = float(trained.trainer.evaluate()["eval_loss"])
        phase = "generation"
        evaluated = evaluate(spec, trained, loaded.tokenizer, features.featurizer, data, cell.analyzers,
                             cell.aggregation)
    except SumbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed cell is a result; the grid goes on
        failure = Failure.of(exc, phase)
        traceback.print_exc()
    settings = {"model": spec_to_dict(spec), "cell": cell.to_dict()}
    record = build_record(cell, spec, data, loaded=loaded, features=features, trained=trained, eval_loss=eval_loss,
                          evaluated=evaluated, failure=failure, settings=settings,
                          environment=capture(settings, spec.training.seed),
                          time_to_quality_s=time.perf_counter() - started if evaluated else None)
    write_records(cell.out, record, trained, evaluated)
    shutil.rmtree(cell.out / ".trainer", ignore_errors=True)
    return record


def load_data(cell: Cell) -> CellData:
    """The training set (the cap picks originals first, then augmentation adds copies; or the workflow's
    ``--train-csv``, checked against the fold), the fold's held-out part and dev."""
    from sumbench.data.corpus import load_csv
    from sumbench.data.trainset import cell_train_set

    paths = {"train": cell.fold_dir / "train.csv", "heldout": cell.fold_dir / "heldout.csv", "dev": cell.data / "dev.csv"}
    for name, path in paths.items():
        if not path.exists():
            raise SumbenchError(f"{path}: missing {name} file for fold {cell.fold} "
                                f"(make it with `sumbench data split --out {cell.data} ...`)")
    train = cell_train_set(cell.data, cell.fold, cell.augmentation, max_train_samples=cell.max_train_samples,
                           seed=cell.seed, settings=cell.augment_settings, train_csv=cell.train_csv)
    n = cell.max_eval_samples
    return CellData(train=train, heldout=load_csv(paths["heldout"])[:n], dev=load_csv(paths["dev"])[:n])


def load(spec: ModelSpec) -> Loaded:
    from sumbench.training.models import count_parameters, load_for_training

    started = time.perf_counter()
    model, tokenizer = load_for_training(spec)
    trainable, total = count_parameters(model)
    return Loaded(model=model, tokenizer=tokenizer, load_s=time.perf_counter() - started, trainable_params=trainable,
                  total_params=total)


def featurize(spec: ModelSpec, tokenizer, data: CellData) -> Features:
    """Token ids in the YAML's prompt format (chat template or plain), and the training set's statistics."""
    from sumbench.data.stats import data_statistics
    from sumbench.training.features import Featurizer

    feat = Featurizer.for_spec(tokenizer, spec)
    train = [feat.train_example(e.dialogue, e.summary) for e in data.train]
    eval_feat = Featurizer.for_spec(tokenizer, spec)  # its own, so truncation rates count training examples only
    evaluation = [eval_feat.train_example(e.dialogue, e.summary) for e in data.heldout or data.dev]
    stats = data_statistics(data.train, tokenizer, spec.lengths.source, spec.lengths.target)
    return Features(featurizer=feat, train=train, eval=evaluation, data_stats=stats,
                    original_train_examples=stats["examples"], augmented_examples=len(data.train) - stats["examples"],
                    source_truncation_rate=feat.truncation.source_rate,
                    target_truncation_rate=feat.truncation.target_rate)


def train(cell: Cell, spec: ModelSpec, loaded: Loaded, features: Features, lease: DeviceLease,
          progress_file: Path | None = None) -> TrainResult:
    """The timed phase, ``cell.repeats`` times from the same start (a fresh model each time), each repeat in
    one exclusive window on the job's device."""
    import torch

    from sumbench.training.curves import make_curve_callback
    from sumbench.training.faults import injected_fault
    from sumbench.training.measure import coefficient_of_variation
    from sumbench.training.models import load_for_training
    from sumbench.training.progress import Progress, make_progress_callback
    from sumbench.training.timed import hardware_of, new_measurement, timed_training
    from sumbench.training.trainer import make_trainer

    model, trainer, medians, run = loaded.take_model(), None, [], None
    for repeat in range(cell.repeats):
        if repeat:
            del trainer, model  # free the previous repeat before loading a fresh copy
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            model, _ = load_for_training(spec)
        measurement = new_measurement()
        trainer = make_trainer(model, loaded.tokenizer, spec, features.train, batch_size=cell.batch_size,
                               grad_accum=cell.grad_accum, max_steps=cell.max_steps, out=cell.out,
                               measurement=measurement, eval_features=features.eval,
                               deepspeed=cell.deepspeed_setting)
        label = f"{cell.model} bs{cell.batch_size}/ga{cell.grad_accum} fold {cell.fold}"
        trainer.add_callback(make_progress_callback(Progress(measurement, label=label, every_steps=cell.progress_every,
                                                             progress_file=progress_file)))
        if cell.eval_every_samples and features.eval:
            trainer.add_callback(make_curve_callback(cell.eval_every_samples, cell.batch_size * cell.grad_accum))
        fault = injected_fault(cell.model, cell.batch_size, cell.grad_accum)
        if fault is not None:
            trainer.add_callback(fault)
        run = timed_training(trainer, measurement, lease, cell.warmup_steps, hardware_of(model, spec))
        medians.append(run.summary.s_per_step_median)
    return TrainResult(model=model, trainer=trainer, run=run, repeats=cell.repeats,
                       s_per_step_repeats=tuple(medians), s_per_step_cv=coefficient_of_variation(medians))


def evaluate(spec: ModelSpec, trained: TrainResult, tokenizer, featurizer, data: CellData,
             analyzers: tuple[str, ...], aggregation: str) -> EvalResult:
    """Generated summaries and ROUGE (every analyzer asked for; per example too, for intervals) on dev and on the
    held-out part. With several processes only rank 0 generates and scores (every rank holds the same trained
    model; the others would repeat its work), except under ZeRO-3, where each rank holds a shard of the weights:
    every rank then takes part in rank 0's generation, and only rank 0 scores."""
    from sumbench.evaluation.generate import generate
    from sumbench.evaluation.rouge import score
    from sumbench.training.distributed import weights_split_over_ranks

    scores = {"dev": SplitScore(), "heldout": SplitScore()}
    predictions: list[dict] = []
    seconds, tokens, version = 0.0, 0, None
    together = weights_split_over_ranks(trained.model)
    for split, examples in (("dev", data.dev), ("heldout", data.heldout)):
        if not examples or not (world().main or together):
            continue
        out = generate(trained.model, tokenizer, spec, featurizer, [e.dialogue for e in examples], synced=together)
        if not world().main:
            continue
        seconds, tokens = seconds + out.seconds, tokens + out.new_tokens
        result = score(out.summaries, [e.references for e in examples], analyzers=analyzers, aggregation=aggregation)
        scores[split] = SplitScore(examples=len(examples), rouge1=result.rouge1, rouge2=result.rouge2,
                                   rougeL=result.rougeL, rouge_sum=result.rouge_sum,
                                   by_analyzer={name: {**{k: getattr(r, k) for k in ROUGE_KEYS},
                                                       "metric_version": r.metric_version}
                                                for name, r in result.by_analyzer.items()})
        version = result.metric_version
        predictions += [{"split": split, "fname": e.fname, "prediction": p, "references": list(e.references),
                         "rouge_sum": {name: values[i] for name, values in result.per_example.items()}}
                        for i, (e, p) in enumerate(zip(examples, out.summaries))]
    return EvalResult(dev=scores["dev"], heldout=scores["heldout"], generation_s=seconds,
                      generated_tokens_per_s=tokens / seconds if seconds else None, metric_version=version,
                      predictions=predictions)


# ----------------------------------------------------------------------------------------- the record
def build_record(cell: Cell, spec: ModelSpec, data: CellData, *, loaded: Loaded | None = None,
                 features: Features | None = None, trained: TrainResult | None = None,
                 eval_loss: float | None = None, evaluated: EvalResult | None = None, failure: Failure | None = None,
                 settings: dict[str, Any], environment: dict[str, Any],
                 time_to_quality_s: float | None = None) -> CellRecord:
    """The cell's record from the results of the steps that ran (a failed cell has only the first ones)."""
    from sumbench.training.timed import measured_fields

    fields: dict[str, Any] = {}
    if loaded is not None:
        fields.update(load_s=loaded.load_s, trainable_params=loaded.trainable_params, total_params=loaded.total_params)
    if features is not None:
        f = features
        fields.update(data_stats=f.data_stats, original_train_examples=f.original_train_examples,
                      augmented_examples=f.augmented_examples, source_truncation_rate=f.source_truncation_rate,
                      target_truncation_rate=f.target_truncation_rate)
    if trained is not None:
        t = trained
        fields.update(measured_fields(t.run))
        fields.update(time_to_train_s=t.run.wall_s, repeats=t.repeats, s_per_step_repeats=list(t.s_per_step_repeats),
                      s_per_step_cv=t.s_per_step_cv)
    if evaluated is not None:
        e, dev, held = evaluated, evaluated.dev, evaluated.heldout
        fields.update(generation_s=e.generation_s, generated_tokens_per_s=e.generated_tokens_per_s,
                      metric_version=e.metric_version, eval_examples=dev.examples, rouge1=dev.rouge1,
                      rouge2=dev.rouge2, rougeL=dev.rougeL, rouge_sum=dev.rouge_sum, rouge_by_analyzer=dev.by_analyzer,
                      rouge_aggregation=cell.aggregation, heldout_examples=held.examples,
                      heldout_rouge1=held.rouge1, heldout_rouge2=held.rouge2, heldout_rougeL=held.rougeL,
                      heldout_rouge_sum=held.rouge_sum, heldout_rouge_by_analyzer=held.by_analyzer)
    if failure is not None:
        fields.update(status=failure.status, message=failure.message, failed_phase=failure.phase)
    return CellRecord(model=cell.model, batch_size=cell.batch_size, grad_accum=cell.grad_accum, fold=cell.fold,
                      augmentation=cell.augmentation, max_train_samples=cell.max_train_samples,
                      max_steps=cell.max_steps, kind=spec.kind, finetune=spec.finetune, train_examples=len(data.train),
                      split_reason=cell.split_reason, eval_loss=eval_loss, time_to_quality_s=time_to_quality_s,
                      settings=settings, environment=environment, **fields)


# ----------------------------------------------------------------------------------- writing, rank 0 only
def write_jsonl_on_main(path: Path, rows: list[dict]) -> None:
    """Only rank 0 writes a cell's records; other ranks of a multi-GPU job would race on the same files."""
    if world().main:
        atomic_write_jsonl(path, rows)


def clear_records(out: Path) -> None:
    """Remove an earlier run's records, so that a stale file never passes for this run's."""
    for name in RECORD_FILES:
        (out / name).unlink(missing_ok=True)


def write_records(out: Path, record: CellRecord, trained: TrainResult | None, evaluated: EvalResult | None) -> None:
    """All three files, even of a failed cell (empty logs), the workflow expects them; metrics.json last."""
    write_jsonl_on_main(out / "train_log.jsonl", [dataclasses.asdict(row) for row in trained.run.rows] if trained else [])
    write_jsonl_on_main(out / "predictions.jsonl", evaluated.predictions if evaluated else [])
    if world().main:
        record.write(out / "metrics.json")
