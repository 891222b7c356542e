"""Gradient accumulation must be loss-equivalent: bs16/ga1, bs8/ga2, bs4/ga4 give the same gradient.

transformers 5.x gets this wrong for BART (its loss is a per-micro-batch mean that the Trainer does not
divide by the accumulation steps); sumbench's token_mean_loss fixes it for every architecture.
"""

from __future__ import annotations

import pytest
import torch

from sumbench.config import load_model
from sumbench.features import Featurizer
from sumbench.measure import TrainMeasurement
from sumbench.models import apply_finetune, build_tiny, set_dropout
from sumbench.train import make_trainer

from .conftest import toy_pairs

PAIRS = [(16, 1), (8, 2), (4, 4)]


def first_step(name: str, tokenizer, bs: int, ga: int, tmp_path, *, fixed: bool = True) -> tuple[float, float]:
    spec = load_model(name)
    torch.manual_seed(0)
    model = apply_finetune(build_tiny(spec, tokenizer), spec)
    set_dropout(model, 0.0)
    feat = Featurizer(tokenizer, spec.kind, 128, 32, spec.prompt)
    features = [feat.train_example(d, s) for d, s in toy_pairs(32)]
    m = TrainMeasurement()
    trainer = make_trainer(model, tokenizer, spec, features, batch_size=bs, grad_accum=ga, max_steps=1,
                           out=tmp_path / f"{name}-{bs}-{ga}", measurement=m)
    if not fixed:
        trainer.compute_loss_func = None  # what stock transformers does
    trainer.train()
    return m.rows[0].loss, m.rows[0].grad_norm


@pytest.mark.parametrize("name", ["tiny-bart", "tiny-llama"])
def test_same_effective_batch_gives_the_same_gradient(name, toy_tokenizer, tmp_path):
    results = [first_step(name, toy_tokenizer, bs, ga, tmp_path) for bs, ga in PAIRS]
    loss0, norm0 = results[0]
    for (bs, ga), (loss, norm) in zip(PAIRS, results):
        assert norm == pytest.approx(norm0, rel=1e-3), f"{name} bs{bs}/ga{ga}: grad norm {norm} vs {norm0}"
        assert loss == pytest.approx(loss0, rel=1e-3), f"{name} bs{bs}/ga{ga}: loss {loss} vs {loss0}"


def test_stock_transformers_inflates_bart_gradient_under_accumulation(toy_tokenizer, tmp_path):
    """Proves the check above can fail: without sumbench's loss, BART's gradient grows ~GA-fold."""
    _, norm1 = first_step("tiny-bart", toy_tokenizer, 16, 1, tmp_path, fixed=False)
    _, norm4 = first_step("tiny-bart", toy_tokenizer, 4, 4, tmp_path, fixed=False)
    assert norm4 / norm1 > 3.0
