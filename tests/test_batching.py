import random

import pytest

from sumbench.training.batching import EffectiveBatchLengthSampler, PadCollator, length_grouped_order

_RNG = random.Random(1)
LENGTHS = [_RNG.randint(10, 300) for _ in range(203)]


def test_order_is_a_permutation_with_the_longest_group_first():
    order = length_grouped_order(LENGTHS, 8, seed=0)
    assert sorted(order) == list(range(len(LENGTHS)))
    assert max(LENGTHS) in [LENGTHS[i] for i in order[:8]]


def test_groups_are_length_homogeneous():
    order = length_grouped_order(LENGTHS, 8, seed=0)
    groups = [order[i:i + 8] for i in range(0, len(order), 8)]
    padded = sum(max(LENGTHS[i] for i in g) * len(g) for g in groups)
    random_order = list(range(len(LENGTHS)))
    random.Random(0).shuffle(random_order)
    rgroups = [random_order[i:i + 8] for i in range(0, len(random_order), 8)]
    padded_random = sum(max(LENGTHS[i] for i in g) * len(g) for g in rgroups)
    assert sum(LENGTHS) / padded > 0.9 > sum(LENGTHS) / padded_random


@pytest.mark.parametrize("bs, ga", [(8, 1), (4, 2), (2, 4)])
def test_every_optimizer_step_sees_the_same_examples_for_the_same_effective_batch(bs, ga):
    """The point of grouping by effective batch: bs x ga splits are comparable step by step."""
    reference = length_grouped_order(LENGTHS, 8, seed=3)
    order = list(EffectiveBatchLengthSampler(LENGTHS, bs * ga, seed=3))
    steps = [sorted(order[i:i + bs * ga]) for i in range(0, len(order), bs * ga)]
    assert steps == [sorted(reference[i:i + 8]) for i in range(0, len(reference), 8)]


def test_sampler_reshuffles_per_epoch():
    s = EffectiveBatchLengthSampler(LENGTHS, 8, seed=3)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and sorted(list(s)) == sorted(first)


def test_pad_to_budget_pads_source_and_target(toy_tokenizer):
    f = {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [8, 9]}
    batch = PadCollator(toy_tokenizer, pad_to=(10, 4))([f, f])
    assert batch["input_ids"].shape == (2, 10) and batch["labels"].shape == (2, 4)
    assert int(batch["attention_mask"].sum()) == 6
    causal = PadCollator(toy_tokenizer, pad_to=(10, 4), causal=True)([f])
    assert causal["input_ids"].shape == (1, 14) and causal["labels"].shape == (1, 14)
    dynamic = PadCollator(toy_tokenizer)([f, {**f, "input_ids": [5], "attention_mask": [1]}])
    assert dynamic["input_ids"].shape == (2, 3)


def test_the_collator_counts_tokens_and_finds_summary_positions_on_the_cpu(toy_tokenizer):
    from sumbench.training.batching import SUMMARY_POSITIONS, TOKEN_COUNTS

    rows = [{"input_ids": [5, 6, 7, 8], "attention_mask": [1, 1, 1, 1], "labels": [-100, -100, 7, 8]},
            {"input_ids": [5, 9, 3], "attention_mask": [1, 1, 1], "labels": [-100, 9, 3]}]
    batch = PadCollator(toy_tokenizer, causal=True)(rows)
    counts = batch[TOKEN_COUNTS]
    assert (counts.samples, counts.source.real, counts.source.padded, counts.loss) == (2, 7, 8, 4)
    # hidden state p of the flattened (2 x 4) batch predicts label p + 1
    assert batch[SUMMARY_POSITIONS].tolist() == [1, 2, 4, 5]
    flat = batch["labels"].reshape(-1)
    assert flat[batch[SUMMARY_POSITIONS] + 1].tolist() == [7, 8, 9, 3]
    assert SUMMARY_POSITIONS not in PadCollator(toy_tokenizer)([rows[0]])  # seq2seq: the decoder's own logits
