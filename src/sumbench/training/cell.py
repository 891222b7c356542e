"""One grid cell: fine-tune a model at (batch size, grad accumulation, fold), evaluate it, write the records.

Read top to bottom: ``run_cell`` loads the model, featurizes the fold, trains with the Hugging Face
Trainer (Seq2SeqTrainer for seq2seq) under :mod:`sumbench.training.measure`, evaluates on the fold's held-out part
and on dev, and writes ``metrics.json``, ``train_log.jsonl`` and ``predictions.jsonl``.

Gradient accumulation is loss-equivalent for every model: :func:`token_mean_loss` sums the token losses
of each micro-batch and divides by the number of target tokens in the whole optimizer step
(``num_items_in_batch``). transformers 5.x instead trusts BART's own loss, a per-micro-batch mean, and
skips the division by the accumulation steps, so BART's gradient grows with ``grad_accum`` (DESIGN.md §4).

This module imports torch lazily so that ``sumbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sumbench.config.model import ModelSpec, load_model, spec_to_dict
from sumbench.errors import ConfigError, SumbenchError
from sumbench.io import atomic_write_json, atomic_write_jsonl
from sumbench.records import CellRecord

WARMSTART_SEED = 1_000_003  # synthetic warm-start corpus; disjoint stream from the grid's data seeds
TIMING_WARMUP_STEPS = 2
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

    @property
    def fold_dir(self) -> Path:
        return self.data / f"fold{self.fold}"


# --------------------------------------------------------------------------------------------- CLI glue
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model name (configs/models/<name>.yaml)")
    p.add_argument("--batch-size", type=int, required=True, help="per-device micro-batch size")
    p.add_argument("--grad-accum", type=int, required=True, help="micro-batches per optimizer step")
    p.add_argument("--fold", type=int, required=True, help="fold index (data/fold<K>/)")
    p.add_argument("--out", required=True, help="cell folder for metrics.json, train_log.jsonl, predictions.jsonl")
    p.add_argument("--data", default="data", help="folder written by `sumbench data split` (default: data)")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: training.epochs)")
    p.add_argument("--max-train-samples", type=int, default=None, help="cap on training examples")
    p.add_argument("--max-eval-samples", type=int, default=None, help="cap on held-out and dev examples")
    p.add_argument("--warmup-steps", type=int, default=TIMING_WARMUP_STEPS, help="steps left out of timing")
    p.add_argument("--augmentation", default="none",
                   help="augmentation methods joined by +, e.g. speaker_swap+synonym (default: none)")
    p.add_argument("--train-csv", default=None,
                   help="training set written by `sumbench data augment` (already capped and augmented)")
    p.add_argument("--base", default=None, help="pretrained directory or hub id (same as --set pretrained=...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model-YAML key, e.g. --set training.learning_rate=1e-4 (repeatable)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--models-dir", default=None, help="folder of model YAMLs (default: configs/models)")
    p.add_argument("--repeats", type=int, default=1, help="run the timing phase N times and report the spread")


def add_warmstart_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a tiny model name (configs/models/<name>.yaml with `tiny:`)")
    p.add_argument("--train", required=True, help="the grid's train.csv (its text joins the tokenizer corpus)")
    p.add_argument("--out", required=True, help="directory to save_pretrained the warm-started twin into")
    p.add_argument("--steps", type=int, default=None, help="override tiny.warmstart_steps")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--models-dir", default=None)


def _models_dir(value: str | None) -> dict[str, Any]:
    return {"models_dir": Path(value)} if value else {}


def run_cell_from_args(args: argparse.Namespace) -> dict[str, Any]:
    overrides = list(args.overrides) + ([f"pretrained={args.base}"] if args.base else [])
    cell = Cell(model=args.model, batch_size=args.batch_size, grad_accum=args.grad_accum, fold=args.fold,
                data=Path(args.data), out=Path(args.out), max_steps=args.max_steps,
                max_train_samples=args.max_train_samples, max_eval_samples=args.max_eval_samples,
                warmup_steps=args.warmup_steps, augmentation=args.augmentation, overrides=tuple(overrides),
                threads=args.threads, repeats=args.repeats, **_models_dir(args.models_dir),
                train_csv=Path(args.train_csv) if getattr(args, "train_csv", None) else None)
    return run_cell(cell).to_dict()


def warmstart_from_args(args: argparse.Namespace) -> Path:
    spec = load_model(args.model, overrides=args.overrides, **_models_dir(args.models_dir))
    return warmstart(spec, Path(args.train), Path(args.out), steps=args.steps, threads=args.threads)


# ------------------------------------------------------------------------------------------ the loss
def token_mean_loss(shift: bool, label_smoothing: float = 0.0):
    """Cross-entropy summed over target tokens / target tokens in the whole optimizer step.

    Passed to the Trainer as ``compute_loss_func``; the Trainer then counts ``num_items_in_batch`` over all
    micro-batches of the step and skips its own division by the accumulation steps, so the gradient of
    bs=B/ga=G equals that of bs=B*G/ga=1 for every architecture.
    """
    import torch.nn.functional as F

    def loss_fn(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        if shift:
            logits, labels = logits[..., :-1, :], labels[..., 1:]
        total = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1).to(logits.device),
                                ignore_index=-100, reduction="sum", label_smoothing=label_smoothing)
        count = num_items_in_batch if num_items_in_batch is not None else labels.ne(-100).sum()
        return total / count

    return loss_fn


# ------------------------------------------------------------------------------------------ training
def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def make_trainer(model, tokenizer, spec: ModelSpec, train_features: list[dict], *, batch_size: int,
                 grad_accum: int, max_steps: int | None, out: Path, measurement=None, learning_rate=None,
                 eval_features: list[dict] | None = None):
    """A Trainer wired with sumbench's loss, dynamic padding and (optionally) the measurement callback."""
    import torch
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments
    from transformers import EarlyStoppingCallback
    from transformers.trainer_callback import PrinterCallback

    from sumbench.training.batching import EffectiveBatchLengthSampler, PadCollator, feature_length

    from sumbench.training.measure import make_callback
    from sumbench.training.models import precision_and_memory_args

    t, dl = spec.training, spec.dataloader
    args_cls = Seq2SeqTrainingArguments if spec.kind == "seq2seq" else TrainingArguments
    args = args_cls(
        output_dir=str(out / ".trainer"), per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=max(batch_size, 8), gradient_accumulation_steps=grad_accum,
        max_steps=max_steps if max_steps else -1, num_train_epochs=t.epochs, learning_rate=learning_rate or t.learning_rate,
        weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio, lr_scheduler_type=t.lr_scheduler_type,
        max_grad_norm=t.max_grad_norm, optim=t.optim, seed=t.seed, data_seed=t.seed,
        logging_strategy="steps", logging_steps=1, report_to=[], **early_stopping_args(t, eval_features),
        disable_tqdm=True, use_cpu=not torch.cuda.is_available(), remove_unused_columns=False,
        dataloader_num_workers=dl.num_workers, dataloader_pin_memory=dl.pin_memory and torch.cuda.is_available(),
        dataloader_prefetch_factor=dl.prefetch_factor, dataloader_persistent_workers=dl.persistent_workers,
        **precision_and_memory_args(spec),
    )
    collator = PadCollator(tokenizer, model if spec.kind == "seq2seq" else None, causal=spec.kind == "causal",
                           pad_to=(spec.lengths.source, spec.lengths.target) if dl.pad_to_max_length else None)
    trainer_cls = _measured(Seq2SeqTrainer if spec.kind == "seq2seq" else Trainer)
    trainer = trainer_cls(model=model, args=args, train_dataset=train_features, eval_dataset=eval_features,
                          data_collator=collator, processing_class=tokenizer,
                          compute_loss_func=token_mean_loss(shift=spec.kind == "causal",
                                                            label_smoothing=t.label_smoothing)
                          if t.loss_normalization == "step_tokens" else None)
    trainer.remove_callback(PrinterCallback)  # per-step logs go to train_log.jsonl, not stdout
    if t.early_stopping_patience and eval_features:
        trainer.add_callback(EarlyStoppingCallback(t.early_stopping_patience, t.early_stopping_threshold))
    trainer.measurement = measurement
    if dl.group_by_length:
        trainer.sampler = EffectiveBatchLengthSampler([feature_length(f, spec.kind == "causal") for f in train_features],
                                                      batch_size * grad_accum, seed=t.seed)
    if measurement is not None:
        trainer.add_callback(make_callback(measurement))
    return trainer


def early_stopping_args(t, eval_features) -> dict:
    """Evaluate every ``eval_steps`` and keep the best checkpoint when early stopping is on; else never."""
    if not (t.early_stopping_patience and eval_features):
        return {"eval_strategy": "no", "save_strategy": "no"}
    return {"eval_strategy": "steps", "eval_steps": t.eval_steps, "save_strategy": "steps", "save_steps": t.eval_steps,
            "save_total_limit": 1, "load_best_model_at_end": True, "metric_for_best_model": "eval_loss",
            "greater_is_better": False}


def _measured(base):
    """Subclass a Trainer: sumbench's sampler, and every micro-batch's tokens and time to the measurement."""

    class SumbenchTrainer(base):
        measurement = None
        sampler = None  # an EffectiveBatchLengthSampler when length grouping is on

        def _get_train_sampler(self, train_dataset=None):
            return self.sampler if self.sampler is not None else super()._get_train_sampler(train_dataset)

        def _untimed(self, method, *args, **kwargs):
            """Run ``method`` and leave its time out of the next optimizer step's."""
            if self.measurement is None:
                return method(*args, **kwargs)
            start = self.measurement.clock()
            try:
                return method(*args, **kwargs)
            finally:
                self.measurement.exclude(self.measurement.clock() - start)

        def evaluate(self, *args, **kwargs):  # in-training evaluation is not training time
            return self._untimed(super().evaluate, *args, **kwargs)

        def _save_checkpoint(self, *args, **kwargs):  # neither is checkpointing (early stopping keeps the best)
            return self._untimed(super()._save_checkpoint, *args, **kwargs)

        def training_step(self, model, inputs, num_items_in_batch=None):
            if self.measurement is None:
                return super().training_step(model, inputs, num_items_in_batch)
            start = self.measurement.clock()
            loss = super().training_step(model, inputs, num_items_in_batch)
            self.measurement.add_micro_batch(inputs, self.measurement.clock() - start)
            return loss

    return SumbenchTrainer


# ---------------------------------------------------------------------------------------- generation
def generate(model, tokenizer, spec: ModelSpec, featurizer, dialogues: list[str]) -> tuple[list[str], int, float]:
    """Batched beam search (never sampling). Returns (summaries, generated tokens, seconds).

    Causal prompts are padded on the left and only the new tokens are decoded, up to the first stop token.
    """
    import torch

    from sumbench.training.models import generation_config

    g = spec.generation
    model.eval()
    outputs: list[str] = []
    new_tokens = 0
    pad = tokenizer.pad_token_id
    config = generation_config(model, tokenizer, spec)
    stops = set(config.eos_token_id)
    start = time.perf_counter()
    for i in range(0, len(dialogues), g.batch_size):
        rows = [featurizer.generation_input(d) for d in dialogues[i:i + g.batch_size]]
        width = max(map(len, rows))
        left = spec.kind == "causal"  # decoder-only models continue the prompt: pad on the left
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, row in enumerate(rows):
            sl = slice(width - len(row), width) if left else slice(0, len(row))
            ids[j, sl] = torch.tensor(row)
            mask[j, sl] = 1
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                                 generation_config=config)
        # causal: drop the prompt; seq2seq: drop the decoder start token (BART starts with </s>)
        gen = gen[:, width:] if left else gen[:, 1:]
        for seq in gen.tolist():
            stop = next((k for k, t in enumerate(seq) if t in stops), None)
            if stop is not None:
                seq = seq[:stop]
            body = [t for t in seq if t not in (pad, tokenizer.bos_token_id)]
            new_tokens += len(body)
            outputs.append(tokenizer.decode(body, skip_special_tokens=True).strip())
    return outputs, new_tokens, time.perf_counter() - start


# ------------------------------------------------------------------------------------------- the cell
def _load_split(cell: Cell, seed: int):
    """Training examples (cap on originals first, then augmentation), the fold's held-out part, dev.

    With ``cell.train_csv`` (the workflow's `sumbench data augment` output, seeded by the grid) that file is
    the training set, checked against the fold; otherwise the cap and the augmentation (default settings,
    seeded by the model's training.seed) run here.
    """
    from sumbench.data.augment import augment_examples, load_train_set
    from sumbench.data.corpus import load_csv
    from sumbench.data.split import cap

    paths = {"train": cell.fold_dir / "train.csv", "heldout": cell.fold_dir / "heldout.csv", "dev": cell.data / "dev.csv"}
    for name, path in paths.items():
        if not path.exists():
            raise SumbenchError(f"{path}: missing {name} file for fold {cell.fold} "
                                f"(make it with `sumbench data split --out {cell.data} ...`)")
    fold_train = load_csv(paths["train"])
    if cell.train_csv:
        train = load_train_set(cell.train_csv, fold_train, paths["train"], cell.augmentation, cell.max_train_samples)
    else:
        train = cap(fold_train, cell.max_train_samples, seed, paths["train"])
        train = augment_examples(train, cell.augmentation, seed=seed)[0] if cell.augmentation != "none" else train
    heldout, dev = load_csv(paths["heldout"]), load_csv(paths["dev"])
    if cell.max_eval_samples:
        heldout, dev = heldout[: cell.max_eval_samples], dev[: cell.max_eval_samples]
    return train, heldout, dev


def load_for_training(spec: ModelSpec):
    """Model + tokenizer through the pretrained path, with dropout override and LoRA applied."""
    from transformers import set_seed

    from sumbench.training.models import apply_finetune, load_pretrained, set_dropout

    set_seed(spec.training.seed)  # new rows of a resized embedding and LoRA's A matrices start random: seed them
    model, tokenizer = load_pretrained(spec)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:  # a pad token was added
        model.resize_token_embeddings(len(tokenizer))
    model = apply_finetune(model, spec)
    set_dropout(model, spec.training.dropout)  # after LoRA wrapping, so lora_dropout follows it too
    return model, tokenizer


def run_cell(cell: Cell) -> CellRecord:
    """Train and evaluate one cell and write its records atomically.

    Bad input (config, data, missing weights) raises SumbenchError before anything is written. A crash or
    an out-of-memory error after that is a result: ``metrics.json`` with ``status: error|oom``.
    """
    spec = load_model(cell.model, overrides=list(cell.overrides),
                      **({"models_dir": cell.models_dir} if cell.models_dir else {}))
    train, heldout, dev = _load_split(cell, spec.training.seed)
    record = CellRecord(model=cell.model, batch_size=cell.batch_size, grad_accum=cell.grad_accum, fold=cell.fold,
                        augmentation=cell.augmentation, max_train_samples=cell.max_train_samples,
                        max_steps=cell.max_steps, kind=spec.kind, finetune=spec.finetune, train_examples=len(train))
    record.settings = {"model": spec_to_dict(spec), "cell": {k: str(v) if isinstance(v, Path) else v
                                                             for k, v in cell.__dict__.items()}}
    try:
        _train_and_evaluate(cell, spec, train, heldout, dev, record)
    except SumbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed cell is a result; the grid goes on
        import torch

        record.status = "oom" if isinstance(exc, torch.OutOfMemoryError) else "error"
        record.message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        traceback.print_exc()
        for name in RECORD_FILES[1:]:  # the workflow expects every record file, even of a failed cell
            if not (cell.out / name).exists():
                write_jsonl_on_main(cell.out / name, [])
    from sumbench.environment import capture

    record.environment = capture(record.settings, spec.training.seed)
    if is_main_process():
        record.write(cell.out / "metrics.json")
    shutil.rmtree(cell.out / ".trainer", ignore_errors=True)
    return record


FAULT_ENV = "SUMBENCH_FAULT"  # e.g. "oom@tiny-bart/bs8_ga2": a test seam to prove failed cells are reported


def injected_fault(cell: Cell):
    """A callback that raises at the first optimizer step when ``$SUMBENCH_FAULT`` names this cell."""
    spec = os.environ.get(FAULT_ENV, "")
    kind, _, target = spec.partition("@")
    if not spec or target != f"{cell.model}/bs{cell.batch_size}_ga{cell.grad_accum}":
        return None
    import torch
    from transformers import TrainerCallback

    class Fault(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if kind == "oom":
                raise torch.OutOfMemoryError(f"CUDA out of memory (injected by {FAULT_ENV}={spec})")
            raise RuntimeError(f"injected by {FAULT_ENV}={spec}")

    return Fault()


def is_main_process() -> bool:
    """Rank 0 under `accelerate launch` (multi-GPU jobs), always True in a single process."""
    return int(os.environ.get("RANK", "0")) == 0


def write_jsonl_on_main(path: Path, rows: list[dict]) -> None:
    """Only rank 0 writes a cell's records; other ranks of a multi-GPU job would race on the same files."""
    if is_main_process():
        atomic_write_jsonl(path, rows)


def _clear_records(out: Path) -> None:
    """Remove an earlier run's records, so that a stale file never passes for this run's."""
    for name in RECORD_FILES:
        (out / name).unlink(missing_ok=True)


def _train_and_evaluate(cell: Cell, spec: ModelSpec, train, heldout, dev, record: CellRecord) -> None:
    import torch

    from sumbench.training.features import Featurizer
    from sumbench.training.measure import (FLOPS_FORMULA, Clock, MemoryProbe, TrainMeasurement, coefficient_of_variation,
                                  device_peak_flops, model_flops_utilization)
    from sumbench.training.models import count_parameters
    from sumbench.report.sections import data_statistics
    from sumbench.evaluation.rouge import score

    _set_threads(cell.threads)
    model, tokenizer = load_for_training(spec)
    _clear_records(cell.out)
    record.trainable_params, record.total_params = count_parameters(model)
    feat = Featurizer.for_spec(tokenizer, spec)  # the prompt format of the YAML (chat template or plain)
    train_features = [feat.train_example(e.dialogue, e.summary) for e in train]
    record.data_stats = data_statistics(train, tokenizer, spec.lengths.source, spec.lengths.target)
    record.original_train_examples = record.data_stats["examples"]
    record.augmented_examples = len(train) - record.original_train_examples
    record.source_truncation_rate = feat.truncation.source_rate
    record.target_truncation_rate = feat.truncation.target_rate
    eval_examples = heldout or dev
    eval_features = [Featurizer.for_spec(tokenizer, spec)
                     .train_example(e.dialogue, e.summary) for e in eval_examples]

    cuda = torch.cuda if torch.cuda.is_available() else None
    repeat_medians, trainer = [], None
    for repeat in range(cell.repeats):  # `repeats` re-runs the timing phase from the same start
        if repeat:
            del trainer, model  # free the previous repeat before loading a fresh copy
            gc.collect()
            if cuda:
                cuda.empty_cache()
            model, tokenizer = load_for_training(spec)
        measurement = TrainMeasurement(clock=Clock(cuda), memory=MemoryProbe(cuda))
        trainer = make_trainer(model, tokenizer, spec, train_features, batch_size=cell.batch_size,
                               grad_accum=cell.grad_accum, max_steps=cell.max_steps, out=cell.out,
                               measurement=measurement, eval_features=eval_features)
        fault = injected_fault(cell)
        if fault is not None:
            trainer.add_callback(fault)
        started = time.perf_counter()
        trainer.train()
        record.train_s = time.perf_counter() - started
        summary = measurement.summary(cell.warmup_steps, cell.batch_size * cell.grad_accum)
        repeat_medians.append(summary["s_per_step_median"])
    for key, value in summary.items():
        setattr(record, key, value)
    record.repeats, record.s_per_step_repeats = cell.repeats, repeat_medians
    record.s_per_step_cv = coefficient_of_variation(repeat_medians)
    record.device_peak_flops = device_peak_flops(torch.cuda.get_device_name(0)) if cuda else None
    record.flops_formula = FLOPS_FORMULA[spec.finetune]
    record.mfu = model_flops_utilization(record.tokens_per_s, record.total_params, spec.finetune,
                                         record.device_peak_flops)
    write_jsonl_on_main(cell.out / "train_log.jsonl", [row.__dict__ for row in measurement.rows])
    record.eval_loss = float(trainer.evaluate()["eval_loss"])

    predictions: list[dict] = []
    gen_seconds, gen_tokens = 0.0, 0
    for split, examples in (("dev", dev), ("heldout", heldout)):
        if not examples:
            continue
        texts, n_tokens, seconds = generate(model, tokenizer, spec, feat, [e.dialogue for e in examples])
        gen_seconds, gen_tokens = gen_seconds + seconds, gen_tokens + n_tokens
        result = score(texts, [e.summary for e in examples])
        prefix = "" if split == "dev" else "heldout_"
        for metric in ("rouge1", "rouge2", "rougeL", "rouge_sum"):
            setattr(record, prefix + metric, getattr(result, metric))
        setattr(record, "eval_examples" if split == "dev" else "heldout_examples", len(examples))
        record.metric_version = result.metric_version
        predictions += [{"split": split, "fname": e.fname, "prediction": p, "reference": e.summary}
                        for e, p in zip(examples, texts)]
    record.generation_s = gen_seconds
    record.generated_tokens_per_s = gen_tokens / gen_seconds if gen_seconds else None
    write_jsonl_on_main(cell.out / "predictions.jsonl", predictions)


# ----------------------------------------------------------------------------------------- warm start
def warmstart(spec: ModelSpec, train_csv: Path, out: Path, *, steps: int | None = None,
              threads: int | None = None) -> Path:
    """Pre-train a tiny twin once, so the grid fine-tunes a model that already summarizes.

    The corpus is synthetic (seed ``WARMSTART_SEED``, disjoint from the grid's data); the tokenizer is
    trained on that corpus plus the grid's training text. The result is a ``save_pretrained`` directory
    that the grid loads through the same path as a hub model.
    """
    from transformers import set_seed

    from sumbench.data.corpus import load_csv
    from sumbench.data.synth import synthesize
    from sumbench.training.features import Featurizer
    from sumbench.training.models import build_tiny
    from sumbench.training.tokenizer import cached_tokenizer

    if spec.tiny is None:
        raise ConfigError(f"{spec.source_file}: model {spec.name!r} has no `tiny:` section; only tiny twins are "
                          f"warm-started")
    _set_threads(threads)
    tiny = spec.tiny
    corpus = synthesize(tiny.warmstart_corpus_size, seed=WARMSTART_SEED)
    grid_train = load_csv(train_csv)
    tokenizer = cached_tokenizer([e.dialogue + "\n" + e.summary for e in corpus + grid_train], tiny.vocab_size)
    set_seed(spec.training.seed)  # the random init too, so a warm start (and every cell after it) is reproducible
    model = build_tiny(spec, tokenizer)
    feat = Featurizer.for_spec(tokenizer, spec)
    features = [feat.train_example(e.dialogue, e.summary) for e in corpus]
    n_steps = steps if steps is not None else tiny.warmstart_steps
    started = time.perf_counter()
    if n_steps:
        trainer = make_trainer(model, tokenizer, spec, features, batch_size=tiny.warmstart_batch_size, grad_accum=1,
                               max_steps=n_steps, out=out.with_name(out.name + ".work"),
                               learning_rate=tiny.warmstart_learning_rate)
        trainer.train()
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    else:
        losses = []
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / "warmstart.json", {
        "model": spec.name, "steps": n_steps, "corpus_rows": len(corpus), "corpus_seed": WARMSTART_SEED,
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        "seconds": time.perf_counter() - started, "vocab_size": len(tokenizer)})
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    shutil.rmtree(out.with_name(out.name + ".work"), ignore_errors=True)
    return out
