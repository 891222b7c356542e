"""Any transformers model family with one YAML: the architecture is checked against transformers' registries, tiny
twins of any type are built from config, and a family the project never named (Mistral) trains a cell from one file.
A tokenizer that loses Hangul (KoBART's tokenizer.json rebuilt byte-level by the wrong auto class) fails at load,
in one line with the fix, and doctor shows it as a check.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sumbench.config.model import load_model, spec_from_dict
from sumbench.doctor import render, run_doctor
from sumbench.errors import ConfigError
from sumbench.io import read_jsonl
from sumbench.training.cell import Cell, run_cell
from sumbench.training.models import build_tiny, load_pretrained
from sumbench.training.tokenizer import ROUND_TRIP_PROBE

from .conftest import toy_pairs

BASE = {"name": "m", "kind": "causal", "pretrained": "some/model"}
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=512)
MISTRAL_YAML = """\
# Mistral, a family sumbench never named: one file is all it takes.
name: tiny-mistral
kind: causal
architecture: mistral
pretrained: {pretrained}
finetune: lora
lora: {{r: 4, alpha: 8, dropout: 0.0, target_modules: all-linear}}
dtype: float32
training: {{learning_rate: 5.0e-4, dropout: 0.0}}
lengths: {{source: 128, target: 32}}
generation: {{num_beams: 1, max_new_tokens: 8, batch_size: 8}}
resources: {{gpus: 0, mem_mb: 4000, runtime: 30}}
"""


# ------------------------------------------------------------------------------------------ architecture
@pytest.mark.parametrize("architecture, kind", [("mistral", "causal"), ("phi3", "causal"), ("gemma2", "causal"),
                                                ("t5", "seq2seq"), ("mbart", "seq2seq"), ("gpt_neox", "causal")])
def test_any_transformers_model_type_of_the_right_kind_is_accepted(architecture, kind):
    assert spec_from_dict({**BASE, "architecture": architecture, "kind": kind}, "x.yaml").architecture == architecture


@pytest.mark.parametrize("architecture, kind, message", [
    ("lama", "causal", r"^x\.yaml: key 'architecture': 'lama' is not a transformers model type \(did you mean llama"),
    ("t5", "causal", r"^x\.yaml: architecture t5 is seq2seq, not causal \(set kind: seq2seq\)$"),
    ("bart", "causal", r"architecture bart is seq2seq, not causal"),  # BartForCausalLM is a decoder, not a summarizer
    ("qwen3", "seq2seq", r"architecture qwen3 is causal, not seq2seq"),
    ("vit", "causal", r"architecture vit has no causal or seq2seq language-model head in transformers"),
])
def test_an_unknown_type_or_the_wrong_kind_is_one_line(architecture, kind, message):
    with pytest.raises(ConfigError, match=message) as caught:
        spec_from_dict({**BASE, "architecture": architecture, "kind": kind}, "x.yaml")
    assert "\n" not in str(caught.value)


def test_custom_code_may_bring_its_own_model_type():
    spec = spec_from_dict({**BASE, "architecture": "my_custom_lm", "trust_remote_code": True}, "x.yaml")
    assert spec.architecture == "my_custom_lm"


@pytest.mark.parametrize("architecture, extra", [("mistral", {}), ("phi3", {}), ("gemma2", {"head_dim": 16})])
def test_tiny_twins_of_any_type_are_built_from_config(toy_tokenizer, architecture, extra):
    spec = spec_from_dict({"name": "t", "kind": "causal", "architecture": architecture,
                           "tiny": {"config": {**TINY, **extra}}}, "t.yaml")
    model = build_tiny(spec, toy_tokenizer)
    assert model.config.model_type == architecture and model.config.vocab_size == len(toy_tokenizer)
    assert model.config.num_hidden_layers == 2


def test_a_bad_tiny_config_key_is_one_line(toy_tokenizer):
    spec = spec_from_dict({"name": "t", "kind": "causal", "architecture": "mistral",
                           "tiny": {"config": {**TINY, "hidden_act": "nope"}}}, "t.yaml")
    with pytest.raises(ConfigError, match=r"^t\.yaml: key 'tiny\.config': no mistral model can be built from it "
                                          r"\(KeyError: 'nope'\)$") as caught:
        build_tiny(spec, toy_tokenizer)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------------------ a new family, one YAML
def test_a_mistral_yaml_in_its_own_folder_trains_a_cell(toy_tokenizer, tmp_path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from sumbench.data.split import write_folds
    from sumbench.data.synth import write_corpus

    weights = tmp_path / "mistral"
    torch.manual_seed(0)
    config = AutoConfig.for_model("mistral", **TINY, vocab_size=len(toy_tokenizer), bos_token_id=toy_tokenizer.bos_token_id,
                                  eos_token_id=toy_tokenizer.eos_token_id, pad_token_id=toy_tokenizer.pad_token_id)
    AutoModelForCausalLM.from_config(config).save_pretrained(weights)
    toy_tokenizer.save_pretrained(weights)
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "tiny-mistral.yaml").write_text(MISTRAL_YAML.format(pretrained=weights), encoding="utf-8")
    write_corpus(tmp_path / "src", n=16, seed=2, dev_n=4)
    write_folds(tmp_path / "src/train.csv", tmp_path / "src/dev.csv", k=2, seed=0, out_dir=tmp_path / "folds")
    out = tmp_path / "cell"
    record = run_cell(Cell(model="tiny-mistral", batch_size=4, grad_accum=1, fold=0, data=tmp_path / "folds", out=out,
                           max_steps=2, max_eval_samples=4, warmup_steps=1, models_dir=models_dir))
    assert record.status == "ok", record.message
    assert record.settings["model"]["architecture"] == "mistral" and record.trainable_params < record.total_params
    assert len(read_jsonl(out / "train_log.jsonl")) == 2 and len(read_jsonl(out / "predictions.jsonl")) == 8


# ------------------------------------------------------------------------------ tokenizers that lose Hangul
@pytest.fixture
def kobart_like(tmp_path) -> Path:
    """A BART checkpoint whose sentencepiece-style tokenizer.json is saved without a tokenizer class: transformers 5
    rebuilds it as BART's byte-level tokenizer, which drops every Hangul syllable."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    texts = [d + "\n" + s for d, s in toy_pairs(64)] + [ROUND_TRIP_PROBE] * 4
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer, raw.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    raw.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                  unk_token="<unk>")
    folder = tmp_path / "kobart-like"
    tok.save_pretrained(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config.pop("tokenizer_class", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    BartForConditionalGeneration(BartConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)).save_pretrained(folder)
    return folder


def test_a_tokenizer_that_loses_hangul_fails_at_load_with_the_fix(kobart_like):
    spec = load_model("kobart", overrides=[f"pretrained={kobart_like}", "resources.gpus=0", "tokenizer_class=null"])
    with pytest.raises(ConfigError) as caught:
        load_pretrained(spec)
    line = str(caught.value)
    assert "\n" not in line and line.startswith("model 'kobart': the tokenizer from ")
    assert "does not round-trip Korean" in line and "set `tokenizer_class: PreTrainedTokenizerFast` in " in line
    checks = run_doctor(spec)
    assert [(c.name, c.status) for c in checks] == [("device", "pass"), ("korean round trip", "fail")]
    assert "FAILED: korean round trip" in render(checks, "kobart")


def test_kobart_yaml_names_the_tokenizer_class_that_keeps_hangul(kobart_like):
    spec = load_model("kobart", overrides=[f"pretrained={kobart_like}", "resources.gpus=0"])
    assert spec.tokenizer_class == "PreTrainedTokenizerFast"
    _, tokenizer = load_pretrained(spec)
    assert tokenizer.decode(tokenizer(ROUND_TRIP_PROBE, add_special_tokens=False)["input_ids"]) == ROUND_TRIP_PROBE
