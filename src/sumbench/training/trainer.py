"""The Hugging Face Trainer as sumbench runs it: the token-mean loss, dynamic padding, length grouping by
effective batch, and every micro-batch reported to :mod:`sumbench.training.measure`.

Gradient accumulation is loss-equivalent for every model: :func:`token_mean_loss` sums the token losses
of each micro-batch and divides by the number of target tokens in the whole optimizer step
(``num_items_in_batch``). transformers 5.x instead trusts BART's own loss, a per-micro-batch mean, and
skips the division by the accumulation steps, so with stock transformers BART's gradient grows with
``grad_accum`` (about 4x at ``grad_accum`` 4; tests/test_grad_accum.py shows it).

Imports torch and transformers lazily so that ``sumbench --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

from sumbench.config.model import ModelSpec, TrainingSpec


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


def set_threads(threads: int | None) -> None:
    """torch intra-op threads (None keeps torch's default)."""
    import torch

    if threads:
        torch.set_num_threads(threads)


def make_trainer(model, tokenizer, spec: ModelSpec, train_features: list[dict], *, batch_size: int,
                 grad_accum: int, max_steps: int | None, out: Path, measurement=None, learning_rate=None,
                 eval_features: list[dict] | None = None):
    """A Trainer wired with sumbench's loss, dynamic padding and (optionally) the measurement callback."""
    import torch
    from transformers import EarlyStoppingCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments
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
        # transformers 5 reads a float warmup_steps below 1 as a ratio of the training steps
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


def early_stopping_args(t: TrainingSpec, eval_features) -> dict:
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
