"""Summary-only logits: a causal model's head and cross-entropy run only where the labels are summary tokens, with
the same loss and gradient as full logits, through peft wrapping, in chunks, and never for a family whose logits
are not a plain linear map of the hidden states (Gemma 2's soft-capping: full logits, with a note).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from sumbench.config.model import load_model, spec_from_dict
from sumbench.doctor import first_step
from sumbench.training.features import Featurizer
from sumbench.training.models import apply_finetune, build_tiny
from sumbench.training.trainer import head_site, make_trainer, summed_cross_entropy

from .conftest import toy_pairs


def factory(spec, tokenizer):
    def make():
        torch.manual_seed(0)
        return apply_finetune(build_tiny(spec, tokenizer), spec)
    return make


@pytest.mark.parametrize("name, overrides", [
    ("tiny-llama", []),  # LoRA, tied embeddings
    ("tiny-qwen3", ["finetune=full"]),
    ("tiny-gptneox", ["lora.modules_to_save=[lm_head]"]),  # the head is a peft ModulesToSaveWrapper
])
def test_summary_logits_give_the_loss_and_gradient_of_full_logits(toy_tokenizer, name, overrides):
    pairs = toy_pairs(8)
    results = {}
    for logits in ("summary", "full"):
        spec = load_model(name, overrides=[*overrides, f"training.logits={logits}"])
        results[logits] = first_step(spec, factory(spec, toy_tokenizer), toy_tokenizer, pairs, 4, 2)
    (loss, norm), (full_loss, full_norm) = results["summary"], results["full"]
    assert loss == pytest.approx(full_loss, rel=1e-5) and norm == pytest.approx(full_norm, rel=1e-5)


def test_the_head_only_sees_summary_positions(toy_tokenizer, tmp_path):
    spec = load_model("tiny-llama")
    model = factory(spec, toy_tokenizer)()
    feat = Featurizer.for_spec(toy_tokenizer, spec)
    features = [feat.train_example(d, s) for d, s in toy_pairs(4)]
    trainer = make_trainer(model, toy_tokenizer, spec, features, batch_size=4, grad_accum=1, max_steps=1, out=tmp_path)
    assert trainer.head_site is not None and trainer.head_site.name == "lm_head"
    shapes = []
    hook = model.get_base_model().lm_head.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape)))
    trainer.train()
    hook.remove()
    summary_tokens = sum(sum(1 for y in f["labels"][1:] if y != -100) for f in features)
    assert shapes == [(summary_tokens, 128)]  # one call, positions x hidden: never batch x tokens x vocab
    assert isinstance(model.get_base_model().lm_head, torch.nn.Linear)  # the head is back after the step


def test_chunks_give_the_same_sum_and_gradient():
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 50)
    hidden = torch.randn(37, 16, requires_grad=True)
    targets = torch.randint(0, 50, (37,))
    whole = summed_cross_entropy(head, hidden, targets, 0.1)
    grads = torch.autograd.grad(whole, [hidden, head.weight])
    chunked = summed_cross_entropy(head, hidden, targets, 0.1, chunk_bytes=4 * 50 * 8)  # 8 positions per chunk
    chunked_grads = torch.autograd.grad(chunked, [hidden, head.weight])
    torch.testing.assert_close(chunked, whole)
    for a, b in zip(chunked_grads, grads):
        torch.testing.assert_close(a, b)


def test_a_soft_capped_family_falls_back_to_full_logits_with_a_note(toy_tokenizer, tmp_path):
    spec = spec_from_dict({"name": "tiny-gemma2", "kind": "causal", "architecture": "gemma2", "finetune": "lora",
                           "dtype": "float32", "resources": {"gpus": 0},
                           "tiny": {"config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16}}},
                          "tiny-gemma2.yaml")
    model = factory(spec, toy_tokenizer)()
    assert model.config.final_logit_softcapping  # logits = 30 * tanh(head(h) / 30)
    assert head_site(model) is not None
    feat = Featurizer.for_spec(toy_tokenizer, spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = make_trainer(model, toy_tokenizer, spec, [feat.train_example(d, s) for d, s in toy_pairs(4)],
                               batch_size=4, grad_accum=1, max_steps=1, out=tmp_path)
    assert trainer.head_site is None
    notes = [str(w.message) for w in caught if "training.logits summary is not possible" in str(w.message)]
    assert len(notes) == 1 and "soft-capping or scaling" in notes[0] and "full logits" in notes[0]
    trainer.train()  # the full path trains


def test_without_autocast_the_head_runs_in_its_own_dtype():
    """A bf16 head given fp32 hidden states (a forward's outputs converted to fp32) outside autocast computes in bf16,
    as inside the forward, instead of failing on mixed dtypes."""
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 50, bias=False).to(torch.bfloat16)
    hidden, targets = torch.randn(6, 16), torch.randint(0, 50, (6,))
    expected = torch.nn.functional.cross_entropy(head(hidden.bfloat16()).float(), targets, reduction="sum")
    torch.testing.assert_close(summed_cross_entropy(head, hidden, targets), expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # under autocast, autocast decides
        torch.testing.assert_close(summed_cross_entropy(head, hidden, targets), expected)
