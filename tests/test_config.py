from pathlib import Path

import pytest
import yaml

from sumbench.config.model import DEFAULT_MODELS_DIR, load_model, model_files, spec_from_dict
from sumbench.errors import ConfigError
from sumbench.overrides import apply_overrides, parse_value

REAL_MODELS = {"kobart", "llama-3.2-korean-3b", "qwen3-4b", "solar-10.7b", "polyglot-ko-12.8b", "kullm-v2"}
TINY_MODELS = {"tiny-bart", "tiny-llama", "tiny-qwen3", "tiny-gptneox"}


def test_every_model_yaml_validates_recursively():
    files = model_files(DEFAULT_MODELS_DIR)
    assert REAL_MODELS | TINY_MODELS <= set(files)
    for name in files:
        spec = load_model(name)
        assert spec.name == name
        assert spec.container, f"{name} names no container image"
        assert open(files[name], encoding="utf-8").readline().startswith("#"), f"{name}.yaml should open with a comment"


def test_real_models_point_at_the_hub_ids_of_the_design():
    hub = {n: load_model(n).pretrained for n in REAL_MODELS}
    assert hub["kobart"] == "digit82/kobart-summarization"
    assert hub["solar-10.7b"] == "upstage/SOLAR-10.7B-Instruct-v1.0"
    assert hub["kullm-v2"] == "nlpai-lab/kullm-polyglot-12.8b-v2"
    assert all(not load_model(n).trust_remote_code for n in REAL_MODELS)


def _write(tmp_path: Path, name: str, body: dict) -> Path:
    d = tmp_path / "models"
    d.mkdir(exist_ok=True)
    (d / f"{name}.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return d


BASE = {"name": "m", "kind": "causal", "architecture": "llama", "pretrained": "some/model"}


def test_unknown_key_names_file_and_key(tmp_path):
    d = _write(tmp_path, "m", {**BASE, "training": {"learning_rat": 1e-4}})
    with pytest.raises(ConfigError, match=r"m\.yaml: unknown key 'training\.learning_rat'"):
        load_model("m", d)


def test_wrong_type_names_key(tmp_path):
    d = _write(tmp_path, "m", {**BASE, "lengths": {"source": "long"}})
    with pytest.raises(ConfigError, match=r"key 'lengths\.source'"):
        load_model("m", d)


def test_name_must_match_file(tmp_path):
    d = _write(tmp_path, "m", {**BASE, "name": "other"})
    with pytest.raises(ConfigError, match="name"):
        load_model("m", d)


def test_duplicate_names_in_subfolders_are_rejected(tmp_path):
    d = _write(tmp_path, "m", BASE)
    (d / "sub").mkdir()
    (d / "sub" / "m.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    with pytest.raises(ConfigError, match="already defined"):
        model_files(d)


def test_overrides_apply_and_are_validated(tmp_path):
    d = _write(tmp_path, "m", BASE)
    spec = load_model("m", d, overrides=["training.learning_rate=3e-4", "lora.r=4", "generation.num_beams=1"])
    assert spec.training.learning_rate == 3e-4 and spec.lora.r == 4 and spec.generation.num_beams == 1
    with pytest.raises(ConfigError, match="unknown key 'training.nope'"):
        load_model("m", d, overrides=["training.nope=1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_model("m", d, overrides=["training.learning_rate"])


def test_one_override_parser_for_model_yamls_and_augmentation_settings():
    """`--set` of `sumbench train`/`doctor` and of `sumbench data augment` parse KEY=VALUE the same way."""
    base = {"training": {"learning_rate": 1e-3}, "paraphrase": {"prefix": "x"}}
    out = apply_overrides(base, ["training.learning_rate=3e-4", "paraphrase.prefix=paraphrase: ", "lora.r=4",
                                 "paraphrase.model=", "back_translation.model=null", "synonym.lexicon=''"], "f.yaml")
    assert out == {"training": {"learning_rate": 3e-4}, "paraphrase": {"prefix": "paraphrase: ", "model": None},
                   "lora": {"r": 4}, "back_translation": {"model": None}, "synonym": {"lexicon": ""}}
    assert base == {"training": {"learning_rate": 1e-3}, "paraphrase": {"prefix": "x"}}  # the input is left alone
    assert parse_value("3e-4") == 3e-4 and parse_value("true") is True and parse_value("a: b") == "a: b"
    with pytest.raises(ConfigError, match="'training.learning_rate.x=1': 'learning_rate' is not a section of f.yaml"):
        apply_overrides(base, ["training.learning_rate.x=1"], "f.yaml")


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="pretrained"):
        spec_from_dict({**BASE, "pretrained": None}, "x.yaml")
    with pytest.raises(ConfigError, match="architecture llama is causal, not seq2seq"):
        spec_from_dict({**BASE, "kind": "seq2seq"}, "x.yaml")
    with pytest.raises(ConfigError, match="prompt"):
        spec_from_dict({**BASE, "prompt": "no placeholder"}, "x.yaml")


def test_unknown_model_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown model 'nope'.*tiny-bart"):
        load_model("nope")
