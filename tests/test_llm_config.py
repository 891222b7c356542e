"""LLM fine-tuning settings without training: precision, attention, quantization, prompts, the six real YAMLs.

GPU-only decisions are reached through seams (``cuda_available`` / ``bf16_supported`` booleans, a faked
package lookup), so they are tested on this CPU.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest
import torch

from sumbench.training import models
from sumbench.config.model import DEFAULT_MODELS_DIR, load_model, model_files
from sumbench.errors import ConfigError
from sumbench.evaluation.generate import generation_config
from sumbench.training.features import IGNORE, Featurizer
from sumbench.training import device
from sumbench.training.device import Precision, resolve_attn_implementation, resolve_precision
from sumbench.training.models import precision_and_memory_args
from sumbench.training.tokenizer import prepare_tokenizer

from .conftest import toy_pairs

BIG = ("solar-10.7b", "polyglot-ko-12.8b", "kullm-v2")  # >= 10B: QLoRA on one 24 GB GPU
MID = ("llama-3.2-korean-3b", "qwen3-4b")  # 3-4B: LoRA on a bf16 base
HUB = {"kobart": "digit82/kobart-summarization", "llama-3.2-korean-3b": "Bllossom/llama-3.2-Korean-Bllossom-3B",
       "qwen3-4b": "Qwen/Qwen3-4B", "solar-10.7b": "upstage/SOLAR-10.7B-Instruct-v1.0",
       "polyglot-ko-12.8b": "EleutherAI/polyglot-ko-12.8b", "kullm-v2": "nlpai-lab/kullm-polyglot-12.8b-v2"}
CPU = {"cuda_available": False, "bf16_supported": False}
AMPERE = {"cuda_available": True, "bf16_supported": True}  # A100 / RTX 30xx-40xx: bf16
TURING = {"cuda_available": True, "bf16_supported": False}  # T4 / V100: fp16 with loss scaling


# ------------------------------------------------------------------------------------------ real YAMLs
def test_the_six_real_yamls_point_at_the_hub_and_open_with_their_command():
    files = model_files(DEFAULT_MODELS_DIR)
    for name, hub in HUB.items():
        spec = load_model(name)
        assert spec.pretrained == hub and not spec.trust_remote_code
        head = [line for line in Path(files[name]).read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert any(f"sumbench train --model {name} " in line for line in head), f"{name}: no run command on top"


@pytest.mark.parametrize("name", BIG)
def test_big_models_default_to_qlora_sized_for_24gb(name):
    spec = load_model(name)
    q = spec.quantization
    assert spec.finetune == "lora" and q.load_in_4bit and q.quant_type == "nf4" and q.double_quant
    assert spec.training.gradient_checkpointing and spec.training.optim == "paged_adamw_8bit"
    p = resolve_precision(spec, **AMPERE)
    assert p.compute == p.quant_compute == torch.bfloat16 and p.bf16  # bf16 compute of the 4-bit weights
    assert resolve_precision(spec, **TURING).quant_compute == torch.float16


@pytest.mark.parametrize("name", MID)
def test_3b_and_4b_models_default_to_lora_on_a_bf16_base(name):
    spec = load_model(name)
    assert spec.finetune == "lora" and not spec.quantization.enabled and spec.lora.target_modules == "all-linear"
    p = resolve_precision(spec, **AMPERE)
    assert p.weights == p.compute == torch.bfloat16


def test_kobart_is_a_full_fine_tune_with_fp32_master_weights():
    spec = load_model("kobart")
    assert spec.finetune == "full" and not spec.quantization.enabled
    p = resolve_precision(spec, **AMPERE)
    assert p.compute == torch.bfloat16 and p.weights == torch.float32


def test_qwen3_turns_thinking_off_in_its_chat_template():
    assert load_model("qwen3-4b").chat_template_kwargs == {"enable_thinking": False}


# ------------------------------------------------------------------------------------------ precision
@pytest.mark.parametrize("device, finetune, compute, weights, flags", [
    (CPU, "lora", torch.float32, torch.float32, (False, False)),
    (AMPERE, "lora", torch.bfloat16, torch.bfloat16, (True, False)),
    (TURING, "lora", torch.float16, torch.float16, (False, True)),
    (AMPERE, "full", torch.bfloat16, torch.float32, (True, False)),
    (TURING, "full", torch.float16, torch.float32, (False, True)),
])
def test_dtype_auto_resolves_per_device(device, finetune, compute, weights, flags):
    spec = load_model("tiny-llama", overrides=["dtype=auto", f"finetune={finetune}"])
    p = resolve_precision(spec, **device)
    assert (p.compute, p.weights, (p.bf16, p.fp16)) == (compute, weights, flags)
    assert p.quant_compute is None


def test_trainer_flags_follow_the_device(monkeypatch):
    spec = load_model("tiny-llama", overrides=["dtype=auto", "training.gradient_checkpointing=true"])
    monkeypatch.setattr(device, "cuda_state", lambda: (True, False))
    args = precision_and_memory_args(spec)
    assert args == {"bf16": False, "fp16": True, "activation_checkpointing": True,  # = gradient_checkpointing
                    "activation_checkpointing_kwargs": {"use_reentrant": False}}
    monkeypatch.setattr(device, "cuda_state", lambda: (True, True))
    assert precision_and_memory_args(spec)["bf16"] is True
    monkeypatch.setattr(device, "cuda_state", lambda: (False, False))
    assert precision_and_memory_args(load_model("tiny-llama")) == {"bf16": False, "fp16": False}


def test_quantization_compute_dtype_auto_follows_dtype_and_can_be_set():
    spec = load_model("tiny-llama", overrides=["dtype=auto", "quantization.load_in_4bit=true"])
    assert resolve_precision(spec, **TURING).quant_compute == torch.float16
    spec = load_model("tiny-llama", overrides=["quantization.load_in_4bit=true", "quantization.compute_dtype=bfloat16"])
    assert resolve_precision(spec, **CPU).quant_compute == torch.bfloat16


def test_impossible_dtypes_are_config_errors():
    with pytest.raises(ConfigError, match=r"tiny-llama\.yaml: key 'dtype': float16 needs a CUDA device"):
        resolve_precision(load_model("tiny-llama", overrides=["dtype=float16"]), **CPU)
    with pytest.raises(ConfigError, match="does not support bfloat16"):
        resolve_precision(load_model("tiny-llama", overrides=["dtype=bfloat16"]), **TURING)


def test_precision_flags():
    assert Precision(compute=torch.bfloat16, weights=torch.bfloat16).bf16
    assert Precision(compute=torch.float16, weights=torch.float32).fp16


# ------------------------------------------------------------------------------------------ attention
def test_attention_defaults_to_sdpa():
    spec = load_model("tiny-llama")
    assert spec.attn_implementation == "sdpa"
    assert resolve_attn_implementation(spec, cuda_available=False, flash_attn_available=False) == "sdpa"


def test_flash_attention_on_a_cpu_is_a_config_error():
    spec = load_model("tiny-llama", overrides=["attn_implementation=flash_attention_2"])
    with pytest.raises(ConfigError, match=r"key 'attn_implementation': flash_attention_2 needs a CUDA GPU"):
        resolve_attn_implementation(spec, cuda_available=False, flash_attn_available=True)


def test_flash_attention_on_a_gpu_without_the_package_falls_back_with_one_warning():
    spec = load_model("tiny-llama", overrides=["attn_implementation=flash_attention_2"])
    with pytest.warns(UserWarning, match="flash-attn package is not installed; using sdpa") as caught:
        assert resolve_attn_implementation(spec, cuda_available=True, flash_attn_available=False) == "sdpa"
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_attn_implementation(spec, cuda_available=True, flash_attn_available=True) == "flash_attention_2"


# --------------------------------------------------------------------------------------- config errors
@pytest.mark.parametrize("overrides, message", [
    (["lora.rank=4"], r"unknown key 'lora\.rank'"),
    (["quantization.load_in_3bit=true"], r"unknown key 'quantization\.load_in_3bit'"),
    (["quantization.quant_type=int4"], r"key 'quantization\.quant_type'"),
    (["attn_implementation=flash"], r"key 'attn_implementation'"),
    (["quantization.load_in_4bit=true", "quantization.load_in_8bit=true"], "exclude each other"),
    (["finetune=full", "quantization.load_in_4bit=true"], "quantization needs finetune: lora"),
    (["lora.bias=some"], r"key 'lora\.bias'"),
    (["training.warmup_ratio=1"], r"key 'training\.warmup_ratio'"),  # transformers would read 1 as one step
])
def test_bad_llm_settings_fail_at_load(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_model("tiny-llama", overrides=overrides)


def test_4bit_without_bitsandbytes_is_a_config_error(monkeypatch):
    monkeypatch.setattr(models, "module_available", lambda name: name != "bitsandbytes")
    spec = load_model("tiny-llama", overrides=["quantization.load_in_4bit=true"])
    with pytest.raises(ConfigError, match=r"key 'quantization\.load_in_4bit' needs the bitsandbytes package "
                                          r"\(pip install bitsandbytes\)"):
        models.quantization_config(spec, resolve_precision(spec, **CPU))
    with pytest.raises(ConfigError, match="paged_adamw_8bit needs the bitsandbytes package"):
        models.check_optimizer(load_model("solar-10.7b"))


def test_layers_to_transform_accepts_negative_indices_and_rejects_out_of_range():
    spec = load_model("tiny-llama", overrides=["lora.layers_to_transform=[0, -1]"])
    assert models.resolve_layers(spec, 2) == [0, 1]
    assert models.resolve_layers(load_model("tiny-llama", overrides=["lora.layers_to_transform=-2"]), 2) == [0]
    for bad in ("2", "-3", "[0, 5]"):
        spec = load_model("tiny-llama", overrides=[f"lora.layers_to_transform={bad}"])
        with pytest.raises(ConfigError, match=r"key 'lora\.layers_to_transform': layer -?\d is out of range for a "
                                              r"model with 2 layers"):
            models.resolve_layers(spec, 2)


# ------------------------------------------------------------------------------------------- prompts
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n"
          "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}")


@pytest.fixture
def chat_tokenizer(toy_tokenizer):
    tok = copy.deepcopy(toy_tokenizer)
    tok.add_tokens(["<|im_start|>", "<|im_end|>", "<think>", "</think>"], special_tokens=True)
    tok.chat_template = CHATML
    return tok


def _decode(tok, ids):
    return tok.decode(ids, skip_special_tokens=False)


def test_plain_prompt_masks_labels_to_the_summary_and_appends_eos(toy_tokenizer):
    spec = load_model("tiny-llama")
    feat = Featurizer.for_spec(toy_tokenizer, spec)
    dialogue, summary = toy_pairs(1)[0]
    ex = feat.train_example(dialogue, summary)
    src = feat.generation_input(dialogue)
    assert ex["input_ids"][: len(src)] == src and src[0] == toy_tokenizer.bos_token_id
    assert ex["labels"][: len(src)] == [IGNORE] * len(src)
    summary_ids = toy_tokenizer(summary, add_special_tokens=False)["input_ids"]
    assert ex["labels"][len(src):] == summary_ids + [toy_tokenizer.eos_token_id] == ex["input_ids"][len(src):]
    assert toy_tokenizer.pad_token_id not in ex["labels"]
    assert "### 요약:" in _decode(toy_tokenizer, src) and not feat.chat


def test_chat_template_prompt_keeps_the_template_around_a_truncated_dialogue(chat_tokenizer):
    spec = load_model("tiny-llama", overrides=["chat_template_kwargs={enable_thinking: false}", "lengths.source=100"])
    feat = Featurizer.for_spec(chat_tokenizer, spec)
    assert feat.chat
    long_dialogue = "\n".join(d for d, _ in toy_pairs(6))
    ex = feat.train_example(long_dialogue, "#Person1#은 예약을 한다")
    src = feat.generation_input(long_dialogue)
    text = _decode(chat_tokenizer, src)
    assert len(src) == 100 and feat.truncation.source_truncated == 1
    assert text.startswith("<s><|im_start|>user\n다음 대화를 요약하세요.")  # ChatML writes no BOS: sumbench adds it
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")  # the kwargs reached the template
    assert src[-len(feat.prompt_tail):] == feat.prompt_tail and src.count(chat_tokenizer.bos_token_id) == 1
    assert ex["labels"][: len(src)] == [IGNORE] * len(src) and ex["labels"][-1] == chat_tokenizer.eos_token_id
    assert _decode(chat_tokenizer, ex["labels"][len(src):-1]) == "#Person1#은 예약을 한다"


def test_prompt_format_plain_ignores_a_chat_template_and_chat_needs_one(chat_tokenizer, toy_tokenizer):
    plain = Featurizer.for_spec(chat_tokenizer, load_model("tiny-llama", overrides=["prompt_format=plain"]))
    assert not plain.chat and "<|im_start|>" not in _decode(chat_tokenizer, plain.generation_input("#Person1#: 네"))
    with pytest.raises(ConfigError, match=r"tiny-llama\.yaml: key 'prompt_format' is chat but the tokenizer has no "
                                          r"chat template"):
        Featurizer.for_spec(toy_tokenizer, load_model("tiny-llama", overrides=["prompt_format=chat"]))


def test_a_source_budget_smaller_than_the_prompt_is_a_config_error(toy_tokenizer):
    with pytest.raises(ConfigError, match=r"key 'lengths\.source' \(8 tokens\) leaves no room for the dialogue"):
        Featurizer.for_spec(toy_tokenizer, load_model("tiny-llama", overrides=["lengths.source=8"]))


def test_pad_token_is_made_distinct_from_eos(toy_tokenizer):
    spec = load_model("tiny-llama")
    tok = copy.deepcopy(toy_tokenizer)
    tok.pad_token = tok.eos_token  # the usual `pad = eos` of decoder-only checkpoints
    prepare_tokenizer(tok, spec)
    assert tok.pad_token_id != tok.eos_token_id and tok.pad_token == tok.unk_token and tok.padding_side == "right"
    tok = copy.deepcopy(toy_tokenizer)
    tok.pad_token, tok.unk_token = tok.eos_token, None
    before = len(tok)
    prepare_tokenizer(tok, spec)
    assert tok.pad_token == "<pad>" and len(tok) == before  # an existing pad-like token, no resize needed


def test_generation_config_never_samples_and_stops_at_every_end_token(toy_tokenizer):
    from transformers import GenerationConfig

    class FakeModel:
        generation_config = GenerationConfig(do_sample=True, temperature=0.6, top_p=0.95, top_k=20,
                                             eos_token_id=[toy_tokenizer.eos_token_id, 7])

    spec = load_model("tiny-llama", overrides=["generation.num_beams=1", "generation.max_new_tokens=5"])
    config = generation_config(FakeModel(), toy_tokenizer, spec)
    assert config.do_sample is False and config.num_beams == 1 and config.max_new_tokens == 5
    assert config.eos_token_id == [toy_tokenizer.eos_token_id, 7] and config.pad_token_id == toy_tokenizer.pad_token_id
    assert FakeModel.generation_config.do_sample is True  # the model's own config is left alone
    config.validate(strict=True)  # no "flag is set but do_sample is False" leftovers


# ------------------------------------------------------------------------------ no silent CPU fallback
CPU_BUILD_NO_DRIVER = device.CudaFacts(available=False, torch_version="2.13.0+cpu", torch_cuda=None, driver=None)


@pytest.mark.parametrize("facts, cause", [
    (CPU_BUILD_NO_DRIVER, "no NVIDIA driver on this machine, and torch 2.13.0+cpu is a CPU-only build"),
    (device.CudaFacts(False, "2.13.0+cpu", None, "550.54.14"), "torch 2.13.0+cpu is a CPU-only build (NVIDIA driver "
                                                               "550.54.14 is present)"),
    (device.CudaFacts(False, "2.13.0", "13.0", None), "no NVIDIA driver on this machine (torch 2.13.0 is built for "
                                                      "CUDA 13.0)"),
    (device.CudaFacts(False, "2.13.0", "13.0", "550.54.14"), "torch 2.13.0 is built for CUDA 13.0, newer than NVIDIA "
                                                             "driver 550.54.14 runs (CUDA 13 needs driver 580 or newer)"),
    (device.CudaFacts(False, "2.13.0+cu128", "12.8", "570.86.10"), "torch sees no GPU (check nvidia-smi and "
                                                                   "CUDA_VISIBLE_DEVICES)"),
])
def test_a_gpu_model_refuses_to_load_without_cuda_naming_the_cause(facts, cause):
    spec = load_model("llama-3.2-korean-3b")
    with pytest.raises(ConfigError) as caught:
        device.require_cuda(spec, facts)
    line = str(caught.value)
    assert "\n" not in line and cause in line
    assert line.startswith("model 'llama-3.2-korean-3b' asks for 1 GPU (resources.gpus in ")
    assert line.endswith("To train on the CPU on purpose: --set resources.gpus=0")
    device.require_cuda(load_model("llama-3.2-korean-3b", overrides=["resources.gpus=0"]), facts)  # on purpose: fine
    device.require_cuda(spec, device.CudaFacts(True, "2.13.0+cu128", "12.8", "570.86.10"))


def test_load_refuses_before_reading_any_weights(monkeypatch):
    monkeypatch.setattr(device, "cuda_facts", lambda: CPU_BUILD_NO_DRIVER)
    monkeypatch.setattr(models, "_auto_class", lambda spec: pytest.fail("weights were loaded"))
    with pytest.raises(ConfigError, match="CUDA is unavailable: no NVIDIA driver"):
        models.load_pretrained(load_model("qwen3-4b"))


def test_sumbench_train_of_a_gpu_yaml_on_this_cpu_is_one_line(tmp_path):
    import subprocess
    import sys

    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    write_corpus(tmp_path / "src", n=12, seed=1, dev_n=2)
    write_folds(tmp_path / "src/train.csv", tmp_path / "src/dev.csv", k=2, seed=0, out_dir=tmp_path / "folds")
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", "train", "--model", "llama-3.2-korean-3b",
                           "--batch-size", "4", "--grad-accum", "1", "--fold", "0", "--data", str(tmp_path / "folds"),
                           "--out", str(tmp_path / "cell")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("sumbench: model 'llama-3.2-korean-3b' asks for 1 GPU")
    assert "--set resources.gpus=0" in proc.stderr and not (tmp_path / "cell" / "metrics.json").exists()


def test_bf16_only_with_native_support(monkeypatch):
    """Turing says True to is_bf16_supported() through emulation; dtype auto must then be fp16 with loss scaling."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert device.cuda_state() == (True, False)
    spec = load_model("tiny-llama", overrides=["dtype=auto"])
    assert precision_and_memory_args(spec) == {"bf16": False, "fp16": True}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere and newer
    assert device.cuda_state() == (True, True) and precision_and_memory_args(spec)["bf16"] is True


def test_environment_records_the_cuda_build_driver_and_gpu(tmp_path, monkeypatch):
    from sumbench import environment

    proc_version = tmp_path / "version"
    proc_version.write_text("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  "
                            "(dvs-builder@U16)  Fri Aug 16 21:42:42 UTC 2024\nGCC version:  gcc 12\n")
    assert environment.nvidia_driver(proc_version, smi=None) == ("560.35.03", None)
    assert environment.nvidia_driver(tmp_path / "absent", smi=None) == (None, None)
    fake_smi = tmp_path / "nvidia-smi"
    fake_smi.write_text("#!/bin/sh\necho '550.54.14, NVIDIA A100-SXM4-80GB'\n")
    fake_smi.chmod(0o755)
    assert environment.nvidia_driver(tmp_path / "absent", smi=str(fake_smi)) == ("550.54.14", "NVIDIA A100-SXM4-80GB")
    if torch.cuda.is_available():
        return  # capture then reads the real GPU
    monkeypatch.setattr(environment, "nvidia_driver", lambda: ("550.54.14", "NVIDIA A100-SXM4-80GB"))
    env = environment.capture({}, seed=1)
    assert env["cuda"] == torch.version.cuda and env["driver"] == "550.54.14"
    assert env["gpu_name"] == "NVIDIA A100-SXM4-80GB" and env["device"] == "cpu"


# ------------------------------------------------------------------------------------- multi-GPU LoRA
@pytest.mark.parametrize("overrides, expected", [
    ([], False),  # LoRA: every adapter runs in every forward, DDP need not search for unused parameters
    (["lora.modules_to_save=[lm_head]"], None),  # a module copy the forward may skip: transformers' default
    (["finetune=full"], None),
])
def test_ddp_skips_the_unused_parameter_search_for_plain_lora(toy_tokenizer, tmp_path, overrides, expected):
    from sumbench.training.models import apply_finetune, build_tiny
    from sumbench.training.trainer import make_trainer

    spec = load_model("tiny-llama", overrides=overrides)
    feat = Featurizer.for_spec(toy_tokenizer, spec)
    trainer = make_trainer(apply_finetune(build_tiny(spec, toy_tokenizer), spec), toy_tokenizer, spec,
                           [feat.train_example(d, s) for d, s in toy_pairs(4)], batch_size=2, grad_accum=1,
                           max_steps=1, out=tmp_path)
    assert trainer.args.ddp_find_unused_parameters is expected
    assert trainer.args.prediction_loss_only  # evaluation never gathers full logits
