"""MFU: per-stack FLOPs of seq2seq models, LoRA 4N / full 6N, exact device names and compute dtypes."""

from __future__ import annotations

import pytest

from sumbench.training.flops import (FLOPS_FORMULA, FlopParameters, device_peak_flops, flop_parameters,
                                     model_flops_per_s, model_flops_utilization)


def test_peaks_match_exact_device_names_for_the_compute_dtype():
    assert device_peak_flops("NVIDIA A100-SXM4-80GB", "bfloat16") == 312e12
    assert device_peak_flops("NVIDIA A100-SXM4-80GB", "float32") == 19.5e12
    assert device_peak_flops("NVIDIA H100 80GB HBM3", "float16") == pytest.approx(989.4e12)
    assert device_peak_flops("NVIDIA H100 PCIe", "bfloat16") == pytest.approx(756.5e12)
    assert device_peak_flops("NVIDIA H200", "tfloat32") == pytest.approx(494.7e12)
    assert device_peak_flops("NVIDIA L40S", "bfloat16") == pytest.approx(362.05e12)
    assert device_peak_flops("NVIDIA L4", "bfloat16") == 121e12  # not L40's by a substring match
    assert device_peak_flops("NVIDIA A10", "bfloat16") == 125e12
    assert device_peak_flops("NVIDIA GeForce RTX 4090", "bfloat16") == pytest.approx(165.2e12)
    assert device_peak_flops("NVIDIA A100 something new", "bfloat16") is None  # unknown: no MFU, never a guess
    assert device_peak_flops(None, "bfloat16") is None
    assert device_peak_flops("NVIDIA L4", "int8") is None


def test_bart_mfu_is_within_5_percent_of_a_hand_computation():
    from transformers import BartConfig, BartForConditionalGeneration

    d, f, layers, vocab = 256, 1024, 3, 8000
    config = BartConfig(vocab_size=vocab, d_model=d, encoder_layers=layers, decoder_layers=layers,
                        encoder_ffn_dim=f, decoder_ffn_dim=f, encoder_attention_heads=4, decoder_attention_heads=4,
                        max_position_embeddings=128)
    params = flop_parameters(BartForConditionalGeneration(config), seq2seq=True)
    # by hand: attention 4 d^2 and FFN 2 d f per layer; the decoder has self- and cross-attention; head V x d
    enc, dec, head = layers * (4 * d * d + 2 * d * f), layers * (8 * d * d + 2 * d * f), vocab * d
    src_tps, tgt_tps, peak = 3000.0, 600.0, 125e12
    hand = 6 * (enc * src_tps + dec * tgt_tps + head * tgt_tps) / peak
    mfu = model_flops_utilization(model_flops_per_s(params, "full", source_tokens_per_s=src_tps,
                                                    target_tokens_per_s=tgt_tps, head_tokens_per_s=tgt_tps), peak)
    assert mfu == pytest.approx(hand, rel=0.05)
    assert params.head == vocab * d and params.encoder > 0 and params.decoder > params.encoder


def test_lora_counts_4_flops_per_weight_and_summary_logits_apply_the_head_to_label_tokens_only():
    p = FlopParameters(encoder=0, decoder=10**9, head=10**8)
    full = model_flops_per_s(p, "full", source_tokens_per_s=1000, target_tokens_per_s=0, head_tokens_per_s=1000)
    lora = model_flops_per_s(p, "lora", source_tokens_per_s=1000, target_tokens_per_s=0, head_tokens_per_s=1000)
    summary = model_flops_per_s(p, "lora", source_tokens_per_s=1000, target_tokens_per_s=0, head_tokens_per_s=100)
    assert full == pytest.approx(6 * 1.1e12) and lora == pytest.approx(4 * 1.1e12)
    assert summary == pytest.approx(4 * (1e12 + 1e10))
    assert model_flops_utilization(None, 1e12) is None and model_flops_utilization(1e12, None) is None
    assert "6 x weights" in FLOPS_FORMULA["full"] and "4 x weights" in FLOPS_FORMULA["lora"]


def test_causal_counts_exclude_input_embeddings_and_count_a_tied_head_once():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True)
    params = flop_parameters(LlamaForCausalLM(config), seq2seq=False)
    layer = 4 * 64 * 64 + 3 * 64 * 128  # q, k, v, o + gate, up, down (no biases)
    assert params.encoder == 0 and params.head == 1000 * 64
    assert params.decoder == pytest.approx(2 * layer, rel=0.02)  # + RMSNorm weights


def test_mfu_under_data_parallelism_divides_every_ranks_rate_by_every_ranks_peak():
    """4 ranks, each at one GPU's pace: samples and tokens per second are 4x one GPU's, and so is the peak."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from sumbench.training.timed import Hardware, timed_training

    params = FlopParameters(encoder=0, decoder=10**9, head=10**8)
    hardware = Hardware(device_name="NVIDIA H100 80GB HBM3", compute_dtype="bfloat16", flop_params=params,
                        finetune="lora")

    @contextmanager
    def window():
        yield SimpleNamespace(window=None)

    def mfu(world_size: int) -> float:
        summary = SimpleNamespace(source_tokens_per_s=1000.0 * world_size, target_tokens_per_s=0.0,
                                  loss_tokens_per_s=100.0 * world_size, world_size=world_size,
                                  memory=SimpleNamespace(memory_kind="cuda_max_allocated"))
        measurement = SimpleNamespace(rows=[], summary=lambda warmup: summary)
        trainer = SimpleNamespace(train=lambda: None, args=SimpleNamespace(optim="adamw_torch"))
        run = timed_training(trainer, measurement, SimpleNamespace(window=window), 0, hardware)
        assert run.peak_flops == pytest.approx(989.4e12)  # the record keeps one device's peak
        return run.mfu

    one = 4 * 1.1e9 * 1000.0 / 989.4e12
    assert mfu(1) == pytest.approx(one) and mfu(4) == pytest.approx(one)  # not 4x one GPU's
    assert model_flops_utilization(4e12, 1e12, devices=4) == pytest.approx(1.0)
