"""LoRA, QLoRA (bitsandbytes 4-bit on the CPU) and gradient checkpointing on the tiny twins of all four architectures.

Every twin is warm-started for 2 steps in fp32 and saved with save_pretrained; cells then load it through
from_pretrained, quantized while loading, as the real models are. Cells train 2 steps in-process (torch and
transformers are imported once), so the whole file runs in about a minute on 2 cores.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sumbench.config.model import load_model
from sumbench.errors import ConfigError
from sumbench.training.features import Featurizer
from sumbench.io import read_jsonl
from sumbench.evaluation.generate import generate
from sumbench.training.cell import Cell, run_cell
from sumbench.training.models import apply_finetune, count_parameters, load_for_training, load_pretrained
from sumbench.training.warmstart import warmstart

pytest.importorskip("bitsandbytes")

ARCHS = ("tiny-bart", "tiny-llama", "tiny-qwen3", "tiny-gptneox")
SETTINGS = {  # what each cell changes in the model's YAML
    "lora": ["finetune=lora"],
    "qlora4": ["finetune=lora", "quantization.load_in_4bit=true"],
    "checkpointing": ["training.gradient_checkpointing=true"],  # the YAML's finetune: full for BART, LoRA otherwise
}
FAST = ["generation.num_beams=1", "generation.max_new_tokens=8"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A small synthetic corpus, 2 folds, and the four twins warm-started for 2 steps."""
    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus

    root = tmp_path_factory.mktemp("llm")
    write_corpus(root / "src", n=48, seed=5, dev_n=8)
    write_folds(root / "src/train.csv", root / "src/dev.csv", k=2, seed=0, out_dir=root / "folds")
    for name in ARCHS:
        spec = load_model(name, overrides=["tiny.warmstart_corpus_size=40"])
        warmstart(spec, root / "src/train.csv", root / "base" / name, steps=2)
    return root


def spec_of(ws: Path, name: str, *overrides: str):
    return load_model(name, overrides=[f"pretrained={ws / 'base' / name}", *overrides])


def batch(tokenizer, spec, ws: Path, n: int = 4) -> dict[str, torch.Tensor]:
    """``n`` training examples of fold 0, right-padded with labels -100 at the pads."""
    from sumbench.data.corpus import load_csv

    feat = Featurizer.for_spec(tokenizer, spec)
    rows = [feat.train_example(e.dialogue, e.summary) for e in load_csv(ws / "folds/fold0/train.csv")[:n]]
    fill = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0, "labels": -100}
    out = {}
    for key, value in fill.items():  # seq2seq labels have their own width
        width = max(len(r[key]) for r in rows)
        out[key] = torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows])
    return out


def lora_grads(model, inputs) -> dict[str, torch.Tensor | None]:
    model.train()
    model.zero_grad(set_to_none=True)
    model(**inputs).loss.backward()
    return {n: (None if p.grad is None else p.grad.detach().clone())
            for n, p in model.named_parameters() if p.requires_grad}


# ------------------------------------------------------------------------------------------ the cells
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", ARCHS)
def test_cell_trains_evaluates_and_generates(ws, tmp_path, name, setting):
    out = tmp_path / "cell"
    cell = Cell(model=name, batch_size=4, grad_accum=1, fold=0, data=ws / "folds", out=out, max_steps=2,
                max_eval_samples=4, warmup_steps=1,
                overrides=(f"pretrained={ws / 'base' / name}", *SETTINGS[setting], *FAST))
    record = run_cell(cell)
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record.status == saved["status"] == "ok", saved.get("message")
    assert saved["steps"] == 2 and saved["eval_loss"] > 0 and saved["peak_memory_bytes"] > 0
    assert 0 < saved["trainable_params"] <= saved["total_params"]
    model_settings = saved["settings"]["model"]
    assert model_settings["quantization"]["load_in_4bit"] is (setting == "qlora4")
    assert model_settings["training"]["gradient_checkpointing"] is (setting == "checkpointing")
    if model_settings["finetune"] == "lora":
        assert saved["trainable_params"] < saved["total_params"] / 5
    steps = read_jsonl(out / "train_log.jsonl")
    assert len(steps) == 2 and all(s["grad_norm"] > 0 for s in steps)  # gradients reached the trainable weights
    preds = read_jsonl(out / "predictions.jsonl")
    assert len(preds) == 8 and all(isinstance(p["prediction"], str) for p in preds)


def test_qlora_loads_4bit_linear_layers_with_fp32_adapters(ws):
    import bitsandbytes as bnb

    spec = spec_of(ws, "tiny-llama", "quantization.load_in_4bit=true", "quantization.quant_type=fp4",
                   "quantization.double_quant=false")
    model, _ = load_for_training(spec)
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 14  # 7 linear layers x 2 blocks; the head stays unquantized
    assert {m.weight.quant_type for m in layers} == {"fp4"} and not any(m.support_avx512bf16_for_cpu for m in layers)
    assert not any(m.weight.quant_state.nested for m in layers)  # double_quant off
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}


# ---------------------------- bitsandbytes' CPU repacking of 4-bit weights in eval mode, which loses LoRA's gradients
@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bart"])
def test_lora_gradients_survive_an_evaluation_pass_on_4bit(ws, name):
    spec = spec_of(ws, name, "finetune=lora", "quantization.load_in_4bit=true", *FAST)
    model, tokenizer = load_for_training(spec)
    inputs = batch(tokenizer, spec, ws)
    before = lora_grads(model, inputs)
    model.eval()
    with torch.no_grad():  # what trainer.evaluate() and generate() do
        model(**inputs)
    generate(model, tokenizer, spec, Featurizer.for_spec(tokenizer, spec), ["#Person1#: 안녕하세요\n#Person2#: 네"])
    after = lora_grads(model, inputs)
    assert after.keys() == before.keys() and len(after) > 0
    for key, grad in after.items():
        assert grad is not None, f"{key}: no gradient after an evaluation pass"
        torch.testing.assert_close(grad, before[key], rtol=1e-4, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")


def test_without_the_workaround_the_gradients_do_break(ws):
    """Proves the test above can fail: bitsandbytes' CPU repacking, left on, loses the LoRA gradients."""
    from bitsandbytes.functional import has_avx512bf16

    if not has_avx512bf16():
        pytest.skip("this CPU has no AVX512-BF16; bitsandbytes never repacks here")
    spec = spec_of(ws, "tiny-llama", "quantization.load_in_4bit=true")
    model, tokenizer = load_for_training(spec)
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = True
    inputs = batch(tokenizer, spec, ws)
    before = lora_grads(model, inputs)
    model.eval()
    with torch.no_grad():
        model(**inputs)
    after = lora_grads(model, inputs)
    broken = [k for k, g in after.items() if g is None or not torch.allclose(g, before[k], rtol=1e-3, atol=1e-6)]
    assert broken, "bitsandbytes no longer loses LoRA gradients after eval; the workaround may be obsolete"


# --------------------------------------------------------------------------------- trainable parameters
def expected_lora_params(model, r: int, names: set[str] | None = None, layers: set[int] | None = None) -> int:
    """r x (in + out) over the targeted Linear modules, read off the base model's module shapes."""
    total = 0
    for qualified, module in model.named_modules():
        leaf = qualified.rsplit(".", 1)[-1]
        if not isinstance(module, torch.nn.Linear) or leaf == "lm_head":
            continue
        if names is not None and leaf not in names:
            continue
        index = re.search(r"\.layers\.(\d+)\.", qualified)
        if layers is not None and (index is None or int(index.group(1)) not in layers):
            continue
        total += r * (module.in_features + module.out_features)
    return total


@pytest.mark.parametrize("name", ARCHS)
def test_lora_count_is_r_times_in_plus_out_over_targeted_modules(ws, name):
    spec = spec_of(ws, name, "finetune=lora", "lora.r=4")
    base, _ = load_pretrained(spec)
    expected = expected_lora_params(base, 4)
    trainable, total = count_parameters(apply_finetune(base, spec))
    assert trainable == expected and total == count_parameters(load_pretrained(spec)[0])[1] + expected

    q_spec = spec_of(ws, name, "finetune=lora", "lora.r=4", "quantization.load_in_4bit=true")
    q_model, _ = load_for_training(q_spec)
    q_trainable, q_total = count_parameters(q_model)
    assert q_trainable == expected and q_total == total  # 4-bit weights count as their unpacked elements


def test_lora_count_with_named_targets_and_negative_layer_index(ws):
    spec = spec_of(ws, "tiny-llama", "lora.r=8", "lora.target_modules=[q_proj, down_proj]", "lora.layers_to_transform=-1")
    base, _ = load_pretrained(spec)
    expected = expected_lora_params(base, 8, names={"q_proj", "down_proj"}, layers={1})
    model = apply_finetune(base, spec)
    assert count_parameters(model)[0] == expected == 8 * (128 + 128) + 8 * (512 + 128)
    adapted = {n.split(".lora_A")[0] for n, _ in model.named_parameters() if "lora_A" in n}
    assert adapted == {"base_model.model.model.layers.1.self_attn.q_proj", "base_model.model.model.layers.1.mlp.down_proj"}


def test_all_linear_with_layers_to_transform_and_modules_to_save_and_bias(ws):
    spec = spec_of(ws, "tiny-gptneox", "lora.r=2", "lora.layers_to_transform=[0]", "lora.modules_to_save=[lm_head]",
                   "lora.bias=lora_only")
    base, _ = load_pretrained(spec)
    lora = expected_lora_params(base, 2, layers={0})
    biases = sum(m.bias.numel() for n, m in base.named_modules()
                 if isinstance(m, torch.nn.Linear) and ".layers.0." in n and m.bias is not None)
    head = base.get_output_embeddings().weight.numel()
    assert count_parameters(apply_finetune(base, spec))[0] == lora + biases + head


# ---------------------------------------------------------------------------------------- clear errors
@pytest.mark.parametrize("overrides, message", [
    (["lora.target_modules=[q_proj, query_key_value]"],
     (r"tiny-llama\.yaml: key 'lora\.target_modules': 'query_key_value' is not a linear module of this llama model; "
      r"its linear modules are: down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj$")),
    (["lora.layers_to_transform=[0, 2]"], (r"key 'lora\.layers_to_transform': layer 2 is out of range for a model "
                                           r"with 2 layers")),
    (["lora.modules_to_save=[classifier]"], r"key 'lora\.modules_to_save': 'classifier' not in the model"),
])
def test_lora_settings_the_model_cannot_take_are_config_errors(ws, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_for_training(spec_of(ws, "tiny-llama", *overrides))


def test_a_bad_target_module_is_one_line_from_the_cli(ws, tmp_path):
    out = tmp_path / "cell"
    proc = subprocess.run(
        [sys.executable, "-m", "sumbench.cli", "train", "--model", "tiny-gptneox", "--batch-size", "4", "--grad-accum",
         "1", "--fold", "0", "--data", str(ws / "folds"), "--out", str(out), "--base", str(ws / "base/tiny-gptneox"),
         "--set", "lora.target_modules=[q_proj]"], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.strip().splitlines() if line.startswith("sumbench:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr  # (after the weights' loading bar)
    assert ("'q_proj' is not a linear module of this gpt_neox model; its linear modules are: dense, dense_4h_to_h, "
            "dense_h_to_4h, query_key_value") in errors[0] and proc.stderr.strip().endswith(errors[0])
    assert not (out / "metrics.json").exists()


# ------------------------------------------------------------------------------ precision and memory
def test_fp16_base_trains_under_a_grad_scaler_because_trainables_are_fp32(ws):
    """The user's "Attempting to unscale FP16 gradients": fp16 trainable params (here a modules_to_save head) under
    fp16 loss scaling. sumbench keeps every trainable parameter fp32; stock peft leaves the head copy fp16."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    spec = spec_of(ws, "tiny-gptneox", "lora.modules_to_save=[lm_head]")

    def scaled_step(model) -> None:
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer, scaler = torch.optim.AdamW(params), torch.amp.GradScaler("cpu")
        ids = torch.randint(10, 200, (2, 12))
        with torch.autocast("cpu", dtype=torch.float16):
            loss = model(input_ids=ids, labels=ids).loss
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)

    def fp16_base():
        return AutoModelForCausalLM.from_pretrained(ws / "base/tiny-gptneox", dtype=torch.float16)

    model = apply_finetune(fp16_base(), spec)
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    scaled_step(model)
    stock = get_peft_model(fp16_base(), LoraConfig(r=4, target_modules="all-linear", modules_to_save=["lm_head"]))
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaled_step(stock)


def test_bf16_compute_on_cpu_keeps_lora_fp32_and_the_trainer_autocasts(ws, tmp_path):
    spec = spec_of(ws, "tiny-qwen3", "dtype=bfloat16", "quantization.load_in_4bit=true",
                   "training.gradient_checkpointing=true", *FAST)
    model, tokenizer = load_for_training(spec)
    assert model.get_input_embeddings().weight.dtype == torch.float32  # prepare_model_for_kbit_training upcast
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    from sumbench.training.trainer import make_trainer

    feat = Featurizer.for_spec(tokenizer, spec)
    trainer = make_trainer(model, tokenizer, spec, [feat.train_example("#Person1#: 네 " * k, "요약") for k in range(1, 9)],
                           batch_size=4, grad_accum=1, max_steps=2, out=tmp_path)
    assert trainer.args.bf16 and not trainer.args.fp16
    assert trainer.args.gradient_checkpointing and trainer.args.gradient_checkpointing_kwargs == {"use_reentrant": False}
    assert trainer.args.activation_checkpointing_kwargs == {"use_reentrant": False}
    trainer.train()
    assert model.base_model.model.is_activation_checkpointing
    assert all(h["grad_norm"] > 0 for h in trainer.state.log_history if "grad_norm" in h)


def test_8bit_and_paged_8bit_adam_train_on_cpu(ws, tmp_path):
    out = tmp_path / "cell"
    cell = Cell(model="tiny-gptneox", batch_size=4, grad_accum=1, fold=0, data=ws / "folds", out=out, max_steps=2,
                max_eval_samples=2, warmup_steps=1,
                overrides=(f"pretrained={ws / 'base/tiny-gptneox'}", "quantization.load_in_8bit=true",
                           "training.optim=paged_adamw_8bit", *FAST))
    assert run_cell(cell).status == "ok"


# ------------------------------------------------------------------------------------------ generation
def test_generation_pads_left_decodes_only_new_tokens_and_never_samples(ws):
    spec = spec_of(ws, "tiny-llama", "quantization.load_in_4bit=true", "generation.num_beams=1",
                   "generation.max_new_tokens=6", "generation.batch_size=3")
    model, tokenizer = load_for_training(spec)
    feat = Featurizer.for_spec(tokenizer, spec)
    dialogues = ["#Person1#: 안녕하세요", "#Person1#: 내일 저녁 일곱 시에 네 명 예약하고 싶어요\n#Person2#: 네", "#Person2#: 감사합니다"]
    seen = []
    real_generate = model.generate

    def spy(**kwargs):
        seen.append(kwargs)
        return real_generate(**kwargs)

    model.generate = spy
    model.generation_config.do_sample, model.generation_config.temperature = True, 5.0  # a hub default like Qwen3's
    first, n_tokens, _ = generate(model, tokenizer, spec, feat, dialogues)
    second, _, _ = generate(model, tokenizer, spec, feat, dialogues)
    assert first == second and 0 < n_tokens <= 3 * 6  # deterministic; only new tokens are counted
    ids, mask = seen[0]["input_ids"], seen[0]["attention_mask"]
    for row, m, dialogue in zip(ids.tolist(), mask.tolist(), dialogues):
        prompt = feat.generation_input(dialogue)
        assert m == [0] * (len(row) - len(prompt)) + [1] * len(prompt)  # left padding
        assert row[len(row) - len(prompt):] == prompt
    assert not any("요약하세요" in text for text in first)  # the prompt is not decoded

    # left padding is transparent to the model: the last prompt position gives the same logits alone or in a batch
    model.eval()
    with torch.no_grad():
        batched = model(input_ids=ids, attention_mask=mask).logits[:, -1]
        for j, dialogue in enumerate(dialogues):
            alone = model(input_ids=torch.tensor([feat.generation_input(dialogue)])).logits[0, -1]
            torch.testing.assert_close(batched[j], alone, rtol=1e-3, atol=1e-3)


def test_qlora_cell_from_the_real_cli(ws, tmp_path):
    out = tmp_path / "cell"
    proc = subprocess.run(
        [sys.executable, "-m", "sumbench.cli", "train", "--model", "tiny-qwen3", "--batch-size", "4", "--grad-accum", "2",
         "--fold", "1", "--data", str(ws / "folds"), "--out", str(out), "--base", str(ws / "base/tiny-qwen3"),
         "--max-steps", "2", "--max-eval-samples", "4", "--warmup-steps", "1", "--set", "quantization.load_in_4bit=true",
         "--set", "training.gradient_checkpointing=true", "--set", "training.optim=paged_adamw_8bit",
         *[x for o in FAST for x in ("--set", o)]], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["environment"]["packages"]["bitsandbytes"]
    assert record["trainable_params"] == 16 * 2 * ((128 + 128) + 2 * (128 + 64) + (128 + 128) + 3 * (128 + 512))
    assert "Failed to load CPU gemm_4bit_forward" not in proc.stderr  # bitsandbytes' import-time noise is silenced


# ---------------------------------------------------------------------------------------------- GPU path
def test_on_a_gpu_qlora_loads_in_bf16_with_flash_attention_on_this_process_device(ws, monkeypatch):
    """What load_pretrained asks from_pretrained for on an Ampere GPU with flash-attn (faked: this is a CPU)."""
    from sumbench.training import models

    seen = {}

    class Capture:
        @staticmethod
        def from_pretrained(where, **kwargs):
            seen.update(kwargs)
            raise OSError("stop here")

    monkeypatch.setattr(models.device, "cuda_state", lambda: (True, True))
    monkeypatch.setattr(models.device, "require_cuda", lambda spec: None)
    monkeypatch.setattr(models, "module_available", lambda name: True)
    monkeypatch.setattr(models, "_auto_class", lambda spec: Capture)
    monkeypatch.setenv("LOCAL_RANK", "1")
    spec = spec_of(ws, "tiny-llama", "dtype=auto", "quantization.load_in_4bit=true",
                   "attn_implementation=flash_attention_2")
    with pytest.raises(ConfigError):
        load_pretrained(spec)
    q = seen["quantization_config"]
    assert seen["dtype"] == torch.bfloat16 and seen["attn_implementation"] == "flash_attention_2"
    assert seen["device_map"] == {"": 1} and seen["trust_remote_code"] is False
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert q.bnb_4bit_compute_dtype == torch.bfloat16


@pytest.mark.gpu
def test_qlora_cell_on_a_gpu_with_auto_precision(ws, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    out = tmp_path / "cell"
    cell = Cell(model="tiny-llama", batch_size=4, grad_accum=2, fold=0, data=ws / "folds", out=out, max_steps=3,
                max_eval_samples=4, warmup_steps=1,
                overrides=(f"pretrained={ws / 'base/tiny-llama'}", "dtype=auto", "quantization.load_in_4bit=true",
                           "training.gradient_checkpointing=true", "training.optim=paged_adamw_8bit", *FAST))
    record = run_cell(cell)
    assert record.status == "ok", record.message  # fp16 on pre-Ampere GPUs: no "unscale FP16 gradients"
    assert record.memory_kind.startswith("cuda") and record.trainable_params == 94208
