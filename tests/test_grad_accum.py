"""Gradient accumulation must be loss-equivalent: bs16/ga1, bs8/ga2, bs4/ga4 give the same gradient.

transformers 5.x gets this wrong for BART (its loss is a per-micro-batch mean that the Trainer does not
divide by the accumulation steps); sumbench's token_mean_loss fixes it for every architecture. The same
measurement backs `sumbench doctor`.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sumbench.config.model import load_model
from sumbench.doctor import check_grad_accum, first_step, run_doctor
from sumbench.training.models import apply_finetune, build_tiny

from .conftest import toy_pairs

SPLITS = [(16, 1), (8, 2), (4, 4)]


def tiny(name: str, tokenizer, *overrides: str):
    spec = load_model(name, overrides=list(overrides))
    return spec, (lambda: apply_finetune(build_tiny(spec, tokenizer), spec))


@pytest.mark.parametrize("name", ["tiny-bart", "tiny-llama"])
def test_same_effective_batch_gives_the_same_gradient(name, toy_tokenizer):
    spec, factory = tiny(name, toy_tokenizer)
    results = [first_step(spec, factory, toy_tokenizer, toy_pairs(32), bs, ga) for bs, ga in SPLITS]
    loss0, norm0 = results[0]
    for (bs, ga), (loss, norm) in zip(SPLITS, results):
        assert norm == pytest.approx(norm0, rel=1e-3), f"{name} bs{bs}/ga{ga}: grad norm {norm} vs {norm0}"
        assert loss == pytest.approx(loss0, rel=1e-3), f"{name} bs{bs}/ga{ga}: loss {loss} vs {loss0}"


def test_stock_transformers_inflates_bart_gradient_under_accumulation(toy_tokenizer):
    """Proves the check can fail: with transformers' own loss handling, BART's gradient grows ~GA-fold."""
    spec, factory = tiny("tiny-bart", toy_tokenizer, "training.loss_normalization=model")
    _, norm1 = first_step(spec, factory, toy_tokenizer, toy_pairs(32), 16, 1)
    _, norm4 = first_step(spec, factory, toy_tokenizer, toy_pairs(32), 4, 4)
    assert norm4 / norm1 > 3.0
    check = check_grad_accum(spec, factory, toy_tokenizer, toy_pairs(32))
    assert check.status == "fail" and re.search(r"bs2/ga4 gives x[34]\.\d\d the gradient norm", check.detail), check.detail


def test_doctor_passes_for_tiny_bart_and_names_every_check():
    checks = run_doctor(load_model("tiny-bart"))
    assert [c.name for c in checks] == ["device", "korean round trip", "gradient accumulation", "pad token",
                                        "padding side", "chat template", "truncation", "generation", "dtype"]
    assert all(c.status == "pass" for c in checks), checks


def test_doctor_cli_exit_codes():
    ok = subprocess.run([sys.executable, "-m", "sumbench.cli", "doctor", "--model", "tiny-llama"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all checks passed" in ok.stdout and "chat template          WARN" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "sumbench.cli", "doctor", "--model", "tiny-bart", "--set",
                          "training.loss_normalization=model"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "FAILED: gradient accumulation" in bad.stdout and "Traceback" not in bad.stderr


def test_the_reference_gradient_norm_is_accumulated_in_float64():
    """512,000 equal fp32 gradients of 0.01 (an embedding's worth): torch's fp32 norm of them is ~1.1e-4 relative
    low on a CPU, more than the DeepSpeed equivalence check's 1e-5 tolerance; the check's reference is exact."""
    import math

    import torch

    from sumbench.doctor import exact_grad_norm

    model = torch.nn.Embedding(4000, 128)
    model.weight.grad = torch.full((4000, 128), 0.01)
    fp32_value = float(model.weight.grad[0, 0])  # 0.01 as fp32 holds it
    assert exact_grad_norm(model) == pytest.approx(fp32_value * math.sqrt(4000 * 128), rel=1e-12)


def test_first_step_reports_the_pre_clip_norm_whatever_the_clipping(toy_tokenizer):
    """The plain reference trains without clipping to read its gradients; clipping happens after the norm, so the
    first step's loss and norm are the same as with the YAML's max_grad_norm."""
    spec, factory = tiny("tiny-llama", toy_tokenizer, "training.max_grad_norm=0.001")
    loss, norm = first_step(spec, factory, toy_tokenizer, toy_pairs(8), 4, 1)
    spec_wide, _ = tiny("tiny-llama", toy_tokenizer, "training.max_grad_norm=1000.0")
    assert (loss, norm) == first_step(spec_wide, factory, toy_tokenizer, toy_pairs(8), 4, 1)
    assert norm > 0.001  # the pre-clip figure, not the clipped one
