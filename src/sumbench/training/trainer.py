"""The Hugging Face Trainer as sumbench runs it: the token-mean loss, summary-only logits, dynamic padding,
length grouping by effective batch, and every micro-batch reported to :mod:`sumbench.training.measure`.

Gradient accumulation is loss-equivalent for every model: the loss sums the token losses of each micro-batch
and divides by the number of target tokens in the whole optimizer step (``num_items_in_batch``). transformers 5.x
instead trusts BART's own loss, a per-micro-batch mean, and skips the division by the accumulation steps, so with
stock transformers BART's gradient grows with ``grad_accum`` (about 4x at ``grad_accum`` 4; tests/test_grad_accum.py
shows it).

Causal models compute logits only where the loss needs them (``training.logits: summary``): the model's forward
runs with its output head swapped for an identity, so it returns the last hidden states; the positions whose
(shifted) label is a summary token (found by the collator, on the CPU) are gathered, and only there the head and
the fp32 cross-entropy run. Full logits cost batch x (prompt + summary) x vocabulary x ~13 bytes (fp32 logits,
softmax, gradient): 17 GB for Llama 3's 128,256-token vocabulary at 16 x 640 tokens. Going through the model's own
forward keeps peft, gradient checkpointing and DDP in charge as before.

Under mixed precision the Trainer's ``compute_loss`` runs outside autocast: accelerate autocasts inside the model's
``forward`` only and converts its outputs to fp32. So the head, applied after the forward, runs under the same
autocast (the accelerator's), as it would inside the forward: its matmul in the compute dtype whatever dtype the
frozen head holds (bf16 or fp16 under LoRA, fp32 under QLoRA or full fine-tuning), the cross-entropy in fp32.

Which loss path a Trainer took, and why, is its ``loss_path`` (:class:`LossPath`): every record says it.

Imports torch and transformers lazily so that ``sumbench --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sumbench.config.model import ModelSpec, TrainingSpec
from sumbench.training.batching import SUMMARY_POSITIONS, TOKEN_COUNTS

IGNORE = -100
LOGIT_CHUNK_BYTES = 256 * 2**20  # fp32 logits of one chunk of summary positions; more positions are split in chunks
PROBE_TOKENS = 16  # tokens of the check that the head is a plain linear map of the last hidden states
PROBE_SCALE = 64.0  # the head's output is scaled by it during that check, so a soft cap shows


def token_mean_loss(shift: bool, label_smoothing: float = 0.0):
    """Cross-entropy summed over target tokens / target tokens in the whole optimizer step, from full logits.

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
                                ignore_index=IGNORE, reduction="sum", label_smoothing=label_smoothing)
        count = num_items_in_batch if num_items_in_batch is not None else labels.ne(IGNORE).sum()
        return total / count

    return loss_fn


# --------------------------------------------------------------------------------- summary-only logits
@dataclass(frozen=True)
class HeadSite:
    """Where a causal LM's output head lives: ``getattr(parent, name) is head``."""

    parent: Any
    name: str
    head: Any


def head_site(model) -> HeadSite | None:
    """The output head of a causal LM, through peft wrapping (None when the model has no separate head module)."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    if head is None:
        return None
    for qualified, module in lm.named_modules():
        if module is head and qualified:
            parent, _, name = qualified.rpartition(".")
            return HeadSite(lm.get_submodule(parent) if parent else lm, name, head)
    return None


@contextlib.contextmanager
def head_bypassed(site: HeadSite):
    """While inside, the model's forward returns its last hidden states as ``logits`` (the head is an identity)."""
    import torch

    setattr(site.parent, site.name, torch.nn.Identity())
    try:
        yield
    finally:
        setattr(site.parent, site.name, site.head)


def head_is_plain(model, site: HeadSite, input_ids: list[int]) -> bool:
    """Whether ``head(hidden states)`` gives the model's own logits (False for logit soft-capping or scaling).

    The head's output is scaled by PROBE_SCALE meanwhile (a forward hook; the weights are not touched), so that even
    a random twin's logits are large enough for a soft cap (30 * tanh(x / 30)) to show.
    """
    import torch

    ids = torch.tensor([input_ids[:PROBE_TOKENS]], device=next(model.parameters()).device)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            hook = site.head.register_forward_hook(lambda module, args, out: out * PROBE_SCALE)
            try:
                full = model(input_ids=ids).logits.float()
            finally:
                hook.remove()
            with head_bypassed(site):
                ours = site.head(model(input_ids=ids).logits).float() * PROBE_SCALE
    finally:
        model.train(training)
    return ours.shape == full.shape and bool((ours - full).abs().max() <= 1e-3 * (1 + full.abs().max()))


def head_weight(head):
    """The (vocabulary x hidden) weight the head multiplies by; through peft's ``modules_to_save`` wrapper, the
    trained copy's. None when the head has no such weight."""
    if hasattr(head, "modules_to_save") and getattr(head, "active_adapters", None):
        head = head.modules_to_save[head.active_adapters[0]]
    weight = getattr(head, "weight", None)
    return weight if getattr(weight, "ndim", 0) == 2 else None


def _summed_ce(head, hidden, targets, label_smoothing: float):
    import torch
    import torch.nn.functional as F

    weight = head_weight(head)
    if weight is not None and weight.is_floating_point() and not torch.is_autocast_enabled(hidden.device.type):
        hidden = hidden.to(weight.dtype)  # without autocast the head runs in its own dtype, as inside the forward
    return F.cross_entropy(head(hidden).float(), targets, reduction="sum", label_smoothing=label_smoothing)


def summed_cross_entropy(head, hidden, targets, label_smoothing: float = 0.0, chunk_bytes: int = LOGIT_CHUNK_BYTES):
    """Σ cross-entropy of ``head(hidden)`` against ``targets`` (``hidden``: positions x hidden size).

    Beyond ``chunk_bytes`` of fp32 logits the positions go in chunks, each recomputed in the backward pass
    (activation checkpointing), so that only one chunk's logits, softmax and gradient exist at a time.
    """
    from torch.utils.checkpoint import checkpoint

    weight = head_weight(head)
    rows = max(1, chunk_bytes // (4 * weight.shape[0])) if weight is not None else hidden.size(0)
    if hidden.size(0) <= rows:
        return _summed_ce(head, hidden, targets, label_smoothing)
    return sum(checkpoint(_summed_ce, head, hidden[i:i + rows], targets[i:i + rows], label_smoothing,
                          use_reentrant=False) for i in range(0, hidden.size(0), rows))


class SummaryTokenLoss:
    """:func:`token_mean_loss` of a causal model, from its last hidden states (``outputs["logits"]`` while the head is
    bypassed): the head runs only at the batch's summary positions (:func:`sumbench.training.batching.summary_positions`,
    given for each batch by :meth:`at`), under the forward's autocast. Passed to the Trainer as ``compute_loss_func``.
    """

    def __init__(self, head, label_smoothing: float = 0.0, chunk_bytes: int = LOGIT_CHUNK_BYTES):
        self.head, self.label_smoothing, self.chunk_bytes = head, label_smoothing, chunk_bytes
        self._positions = None
        self._autocast = contextlib.nullcontext

    @contextlib.contextmanager
    def at(self, positions, autocast=contextlib.nullcontext):
        """While inside, the loss reads these positions and applies the head under ``autocast()``."""
        if positions is None:
            raise ValueError("the summary-only loss needs the batch's summary positions (batches from PadCollator)")
        self._positions, self._autocast = positions, autocast
        try:
            yield
        finally:
            self._positions, self._autocast = None, contextlib.nullcontext

    def __call__(self, outputs, labels, num_items_in_batch=None):
        if self._positions is None:
            raise ValueError("SummaryTokenLoss called outside SummaryTokenLoss.at(positions)")
        hidden = outputs["logits"]
        positions = self._positions.to(hidden.device, non_blocking=True)
        states = hidden.reshape(-1, hidden.size(-1)).index_select(0, positions)  # a gather: no host synchronization
        targets = labels.to(hidden.device).reshape(-1).index_select(0, positions + 1)
        with self._autocast():
            total = summed_cross_entropy(self.head, states, targets, self.label_smoothing, self.chunk_bytes)
        return total / (num_items_in_batch if num_items_in_batch is not None else positions.numel())


def ddp_find_unused_parameters(spec: ModelSpec) -> bool | None:
    """False for LoRA without ``modules_to_save``: every adapter is used in every forward, and DDP can skip its
    search for unused parameters each step. None leaves transformers' default (it searches unless checkpointing)."""
    return False if spec.finetune == "lora" and not spec.lora.modules_to_save else None


@dataclass(frozen=True)
class LossPath:
    """Where a Trainer's loss came from: ``summary`` logits (the head only at summary positions) or ``full`` logits,
    and why."""

    logits: str  # summary | full
    reason: str


def summary_site(model, spec: ModelSpec, features: list[dict]) -> tuple[HeadSite | None, LossPath]:
    """Where the summary-only loss applies the head (None for the full-logits path), and the path with its reason
    (with a note when the YAML asked for summary logits and the model cannot take them)."""
    t = spec.training
    if spec.kind != "causal":
        return None, LossPath("full", "seq2seq: the loss is on the decoder's logits, every one a summary token")
    if t.loss_normalization != "step_tokens":
        return None, LossPath("full", f"training.loss_normalization: {t.loss_normalization} (the model's own loss)")
    if t.logits != "summary":
        return None, LossPath("full", f"training.logits: {t.logits}")
    site, reason = head_site(model), None
    if site is None:
        reason = "it has no separate output-head module"
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1 and ddp_find_unused_parameters(spec) is not False:
        reason = "under DDP the head runs outside the forward, which DDP's search for unused parameters forbids"
    elif features and not head_is_plain(model, site, features[0]["input_ids"]):
        reason = "its logits are not a plain linear map of the last hidden states (logit soft-capping or scaling)"
    if reason:
        warnings.warn(f"{spec.name}: training.logits summary is not possible here ({reason}); computing the loss "
                      f"from full logits", stacklevel=2)
        return None, LossPath("full", f"training.logits: summary is not possible: {reason}")
    return site, LossPath("summary", "training.logits: summary; the head is a plain linear map of the hidden states")


def unprepared(model):
    """``model`` as no Trainer has prepared it. accelerate wraps a model's ``forward`` in its autocast and fp32
    output conversion and marks the model prepared; a later Trainer's accelerator then keeps that wrapper. Undone
    here, each Trainer prepares the model afresh (the profile reuses one model for every split, the equivalence
    check and the costs), and the head check compares the plain forward with the plain head."""
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(model, keep_fp32_wrapper=False)  # restores the forward it wrapped, in place
    model.__dict__.pop("_is_accelerate_prepared", None)
    return model


def set_threads(threads: int | None) -> None:
    """torch intra-op threads (None keeps torch's default)."""
    import torch

    if threads:
        torch.set_num_threads(threads)


def make_trainer(model, tokenizer, spec: ModelSpec, train_features: list[dict], *, batch_size: int,
                 grad_accum: int, max_steps: int | None, out: Path, measurement=None, learning_rate=None,
                 eval_features: list[dict] | None = None, deepspeed=None):
    """A Trainer wired with sumbench's loss, dynamic padding and (optionally) the measurement callback; with
    several processes on their process group, under ``deepspeed`` (a DeepSpeedSetting) through DeepSpeed."""
    import torch
    from transformers import EarlyStoppingCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from sumbench.training.batching import EffectiveBatchLengthSampler, PadCollator, feature_length
    from sumbench.training.distributed import trainer_setup, world
    from sumbench.training.measure import make_callback
    from sumbench.training.models import precision_and_memory_args

    t, dl = spec.training, spec.dataloader
    setup = trainer_setup(deepspeed, batch_size=batch_size, grad_accum=grad_accum)
    unprepared(model)
    extra = dict(setup.args)
    args_cls = Seq2SeqTrainingArguments if spec.kind == "seq2seq" else TrainingArguments
    args = args_cls(
        output_dir=str(out / ".trainer"), per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=max(batch_size, 8), gradient_accumulation_steps=grad_accum,
        max_steps=max_steps if max_steps else -1, num_train_epochs=t.epochs, learning_rate=learning_rate or t.learning_rate,
        # transformers 5 reads a float warmup_steps below 1 as a ratio of the training steps
        weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio, lr_scheduler_type=t.lr_scheduler_type,
        max_grad_norm=t.max_grad_norm, optim=t.optim, seed=t.seed, data_seed=t.seed,
        logging_strategy="steps", logging_steps=1, report_to=[], **early_stopping_args(t, eval_features),
        # on (the default), the Trainer tests every micro-batch's loss for nan/inf on the host: a device
        # synchronization per micro-batch. Off, a non-finite loss shows in the logged loss, where it belongs.
        logging_nan_inf_filter=False,
        prediction_loss_only=True,  # evaluation reads eval_loss only; never gather (batch x tokens x vocab) logits
        ddp_find_unused_parameters=ddp_find_unused_parameters(spec),
        disable_tqdm=True, use_cpu=extra.pop("use_cpu", not torch.cuda.is_available()), remove_unused_columns=False,
        dataloader_num_workers=dl.num_workers, dataloader_pin_memory=dl.pin_memory and torch.cuda.is_available(),
        dataloader_prefetch_factor=dl.prefetch_factor, dataloader_persistent_workers=dl.persistent_workers,
        **precision_and_memory_args(spec), **extra,
    )
    collator = PadCollator(tokenizer, model if spec.kind == "seq2seq" else None, causal=spec.kind == "causal",
                           pad_to=(spec.lengths.source, spec.lengths.target) if dl.pad_to_max_length else None)
    trainer_cls = _measured(Seq2SeqTrainer if spec.kind == "seq2seq" else Trainer)
    site, loss_path = summary_site(model, spec, train_features)
    if t.loss_normalization != "step_tokens":
        loss_func = None
    elif site is not None:
        loss_func = SummaryTokenLoss(site.head, label_smoothing=t.label_smoothing)
    else:
        loss_func = token_mean_loss(shift=spec.kind == "causal", label_smoothing=t.label_smoothing)
    trainer = trainer_cls(model=model, args=args, train_dataset=train_features, eval_dataset=eval_features,
                          data_collator=collator, processing_class=tokenizer, compute_loss_func=loss_func)
    trainer.head_site, trainer.loss_path = site, loss_path
    trainer.setup = setup
    trainer.remove_callback(PrinterCallback)  # per-step logs go to train_log.jsonl, not stdout
    if t.early_stopping_patience and eval_features:
        trainer.add_callback(EarlyStoppingCallback(t.early_stopping_patience, t.early_stopping_threshold))
    trainer.measurement = measurement
    if dl.group_by_length:
        trainer.sampler = EffectiveBatchLengthSampler([feature_length(f, spec.kind == "causal") for f in train_features],
                                                      batch_size * grad_accum * world().size, seed=t.seed)
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
        head_site = None  # a HeadSite: the summary-only loss (the forward returns hidden states)
        loss_path = None  # a LossPath
        setup = None  # the TrainerSetup: process group and DeepSpeed

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs.pop(TOKEN_COUNTS, None)  # the collator's CPU counts and positions never reach the forward
            positions = inputs.pop(SUMMARY_POSITIONS, None)
            if self.head_site is None:
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            # the forward returns hidden states, autocast inside it and converted to fp32 by accelerate; the loss
            # applies the head at the summary positions under the same autocast
            with head_bypassed(self.head_site), self.compute_loss_func.at(positions, self.accelerator.autocast):
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)

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
            counts = inputs.pop(TOKEN_COUNTS, None)  # python ints, counted by the collator on the CPU
            if self.measurement is None:
                return super().training_step(model, inputs, num_items_in_batch)
            if counts is None:
                raise ValueError("a measured training step needs the collator's token counts (batches from PadCollator)")
            started = self.measurement.micro_begin()  # a CUDA event on a GPU: no host synchronization here
            loss = super().training_step(model, inputs, num_items_in_batch)
            self.measurement.micro_end(started, counts)
            return loss

    return SumbenchTrainer
