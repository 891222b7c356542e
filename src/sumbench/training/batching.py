"""Batch order and padding: where most of the wasted compute goes (a fine-tuning run of Korean dialogues was
12x slower than it needed to be, mostly from padding every batch to the length budget).

- :class:`EffectiveBatchLengthSampler` groups examples of similar length, like transformers'
  ``group_by_length``, but builds its groups from the *effective* batch (batch size x grad accumulation).
  transformers builds them from the micro-batch, so bs8/ga1 and bs4/ga2 would see different examples in
  their first optimizer step and their gradients could not be compared. Here the example order is a
  function of (lengths, effective batch, seed) only: every optimizer step sees the same examples for
  every bs x ga split of the same effective batch.
- :class:`PadCollator` pads each batch to its longest sequence (dynamic padding), or to the length budget
  (``pad_to_max_length``, kept as the baseline to compare against). While the batch is still on the CPU it also
  counts its tokens (:data:`TOKEN_COUNTS`) and, for a causal model, finds the positions the summary-only loss
  reads (:data:`SUMMARY_POSITIONS`): a timed step then never reads device data back to the host (a mask's sum
  or a boolean gather on a GPU waits for the device). The Trainer takes both out of the batch before the forward.
"""

from __future__ import annotations

import random
from typing import Iterator, Sequence

TOKEN_COUNTS = "sumbench_token_counts"  # a measure.BatchTokens of python ints
SUMMARY_POSITIONS = "sumbench_summary_positions"  # int64 flat (row x width + column) positions, see summary_positions
MEGABATCH_MULT = 50  # as transformers' LengthGroupedSampler: sort within 50 batches' worth of examples


def length_grouped_order(lengths: Sequence[int], group_size: int, seed: int, mega: int = MEGABATCH_MULT) -> list[int]:
    """Indices in an order where consecutive ``group_size`` runs have similar lengths.

    Seeded shuffle -> megabatches of ``mega * group_size`` -> each sorted by length, longest first ->
    cut into groups of ``group_size`` -> groups shuffled, except that the group holding the longest
    example goes first (an out-of-memory shows up at step 1, not at the end).
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = mega * group_size
    groups: list[list[int]] = []
    for start in range(0, len(order), size):
        mb = sorted(order[start:start + size], key=lambda i: -lengths[i])
        groups += [mb[i:i + group_size] for i in range(0, len(mb), group_size)]
    if not groups:
        return []
    longest = max(range(len(groups)), key=lambda g: max(lengths[i] for i in groups[g]))
    first = groups.pop(longest)
    rng.shuffle(groups)
    # keep full groups aligned to optimizer steps: a short group can only be the last one
    full = [g for g in groups if len(g) == group_size]
    short = [g for g in groups if len(g) != group_size]
    return [i for g in [first, *full, *short] for i in g]


class EffectiveBatchLengthSampler:
    """A torch Sampler (duck-typed) over :func:`length_grouped_order`; the Trainer calls ``set_epoch``."""

    def __init__(self, lengths: Sequence[int], effective_batch: int, seed: int):
        self.lengths, self.effective_batch, self.seed = list(lengths), effective_batch, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        return iter(length_grouped_order(self.lengths, self.effective_batch, self.seed + self.epoch))


def feature_length(feature: dict, causal: bool) -> int:
    """Tokens a feature costs: the whole sequence (causal), or encoder input plus decoder labels (seq2seq)."""
    return len(feature["input_ids"]) + (0 if causal else len(feature["labels"]))


def summary_positions(labels):
    """Where a causal LM's summary-only loss applies the head: the flat positions ``row * width + column`` (width =
    ``labels.size(1)``) whose next label is a summary token. Hidden state ``p`` of the flattened batch predicts flat
    label ``p + 1``. Computed on the CPU: the same selection on the device (a boolean gather) waits for it."""
    rows, columns = labels[:, 1:].ne(-100).nonzero(as_tuple=True)
    return rows * labels.size(1) + columns


class PadCollator:
    """Dynamic padding (transformers' DataCollatorForSeq2Seq), or padding to the length budget."""

    def __init__(self, tokenizer, model=None, *, pad_to: tuple[int, int] | None = None, causal: bool = False):
        from transformers import DataCollatorForSeq2Seq

        self.inner = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100, padding="longest")
        self.pad_id, self.pad_to, self.causal = tokenizer.pad_token_id, pad_to, causal

    def __call__(self, features: list[dict]) -> dict:
        from sumbench.training.measure import batch_tokens

        if self.pad_to:
            features = [self._pad_to_budget(f) for f in features]
        batch = self.inner(features)
        batch[TOKEN_COUNTS] = batch_tokens(batch)
        if self.causal:
            batch[SUMMARY_POSITIONS] = summary_positions(batch["labels"])
        return batch

    def _pad_to_budget(self, f: dict) -> dict:
        source, target = self.pad_to
        width = source + target if self.causal else source
        extra = width - len(f["input_ids"])
        labels_width = width if self.causal else target
        return {"input_ids": f["input_ids"] + [self.pad_id] * extra, "attention_mask": f["attention_mask"] + [0] * extra,
                "labels": f["labels"] + [-100] * (labels_width - len(f["labels"]))}
