"""Model YAMLs -> validated, frozen dataclasses.

One file per model in ``configs/models/`` (searched recursively). Each file is validated against
``workflow/schemas/model.schema.yaml`` (``additionalProperties: false``, so a typo fails loudly), then
turned into a :class:`ModelSpec`. Defaults live here, in the dataclasses, not in the schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sumbench.config.deepspeed import NO_DEEPSPEED, DeepSpeedSetting, check_for_model, parse_axis
from sumbench.config.schema import MODEL_SCHEMA, REPO_ROOT, validate_with_schema
from sumbench.errors import ConfigError
from sumbench.overrides import apply_overrides

DEFAULT_MODELS_DIR = Path(os.environ.get("SUMBENCH_MODELS_DIR", REPO_ROOT / "configs" / "models"))


@dataclass(frozen=True)
class TinySpec:
    config: dict[str, Any]
    vocab_size: int = 4000
    warmstart_steps: int = 300
    warmstart_batch_size: int = 16
    warmstart_learning_rate: float = 1e-3
    warmstart_corpus_size: int = 1500


@dataclass(frozen=True)
class LoraSpec:
    """peft ``LoraConfig`` (names as there, ``alpha`` = ``lora_alpha``, ``dropout`` = ``lora_dropout``)."""

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] | str = "all-linear"
    layers_to_transform: tuple[int, ...] | None = None  # negative = counted from the last layer
    modules_to_save: tuple[str, ...] | None = None
    bias: str = "none"


@dataclass(frozen=True)
class QuantizationSpec:
    """bitsandbytes ``BitsAndBytesConfig`` of the frozen base weights (QLoRA when ``load_in_4bit``)."""

    load_in_4bit: bool = False
    load_in_8bit: bool = False
    quant_type: str = "nf4"  # bnb_4bit_quant_type
    double_quant: bool = True  # bnb_4bit_use_double_quant
    compute_dtype: str = "auto"  # bnb_4bit_compute_dtype; auto = the model's resolved `dtype`

    @property
    def enabled(self) -> bool:
        return self.load_in_4bit or self.load_in_8bit


@dataclass(frozen=True)
class TrainingSpec:
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.0
    lr_scheduler_type: str = "linear"
    max_grad_norm: float = 1.0
    label_smoothing: float = 0.0
    epochs: float = 1.0
    dropout: float | None = None
    optim: str = "adamw_torch"
    gradient_checkpointing: bool = False  # always non-reentrant (use_reentrant=False)
    seed: int = 42
    loss_normalization: str = "step_tokens"
    logits: str = "summary"  # causal models: the LM head only at summary positions; full = at every position
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    early_stopping_threshold: float = 0.0
    eval_steps: int = 50


@dataclass(frozen=True)
class DataLoaderSpec:
    group_by_length: bool = True
    pad_to_max_length: bool = False
    num_workers: int = 0
    pin_memory: bool = True
    prefetch_factor: int | None = None
    persistent_workers: bool = False


@dataclass(frozen=True)
class LengthSpec:
    source: int = 256
    target: int = 64


@dataclass(frozen=True)
class GenerationSpec:
    num_beams: int = 4
    max_new_tokens: int = 64
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0  # off: #Person1# is several real tokens, and a summary names speakers twice
    repetition_penalty: float = 1.0  # off: it penalizes the speaker tags and names a summary copies from the prompt
    batch_size: int = 16


@dataclass(frozen=True)
class ResourceSpec:
    gpus: int = 1  # > 0: loading refuses to fall back to the CPU where CUDA is unavailable; > 1: one process per GPU
    cpu_processes: int = 1  # with gpus 0: data-parallel processes on the CPU (gloo)
    mem_mb: int = 32000
    runtime: int = 240


DEFAULT_PROMPT = "다음 대화를 요약하세요.\n### 대화:\n{dialogue}\n### 요약:\n"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    architecture: str
    source_file: str
    pretrained: str | None = None
    parameters: float | None = None  # approximate parameter count: only scales a known throughput in `sumbench plan`
    trust_remote_code: bool = False
    tokenizer_class: str | None = None  # None = AutoTokenizer's choice
    tiny: TinySpec | None = None
    finetune: str = "full"
    lora: LoraSpec = field(default_factory=LoraSpec)
    quantization: QuantizationSpec = field(default_factory=QuantizationSpec)
    dtype: str = "auto"
    attn_implementation: str = "sdpa"
    training: TrainingSpec = field(default_factory=TrainingSpec)
    dataloader: DataLoaderSpec = field(default_factory=DataLoaderSpec)
    lengths: LengthSpec = field(default_factory=LengthSpec)
    generation: GenerationSpec = field(default_factory=GenerationSpec)
    prompt: str = DEFAULT_PROMPT
    prompt_format: str = "auto"  # auto = the tokenizer's chat template when it has one, else `prompt` as plain text
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    container: str | None = None
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    deepspeed: tuple[DeepSpeedSetting, ...] = (NO_DEEPSPEED,)  # the DeepSpeed settings the profile times


    def __post_init__(self) -> None:
        where = f"{self.source_file}"
        if self.pretrained is None and self.tiny is None:
            raise ConfigError(f"{where}: set `pretrained` (hub id or directory) or `tiny` (a twin built from config)")
        check_architecture(self.architecture, self.kind, where, custom_code=self.trust_remote_code)
        if self.kind == "causal" and "{dialogue}" not in self.prompt:
            raise ConfigError(f"{where}: key prompt must contain {{dialogue}}")
        q = self.quantization
        if q.load_in_4bit and q.load_in_8bit:
            raise ConfigError(f"{where}: keys quantization.load_in_4bit and quantization.load_in_8bit exclude each other")
        if q.enabled and self.finetune != "lora":
            raise ConfigError(f"{where}: key quantization needs finetune: lora (quantized weights stay frozen; "
                              f"the LoRA adapters train)")
        if self.lora.modules_to_save and self.finetune != "lora":
            raise ConfigError(f"{where}: key lora.modules_to_save needs finetune: lora")
        if self.prompt_format == "chat" and self.kind != "causal":
            raise ConfigError(f"{where}: key prompt_format: chat is for causal models")
        if self.resources.cpu_processes > 1 and self.resources.gpus > 0:
            raise ConfigError(f"{where}: key resources.cpu_processes needs resources.gpus: 0 (with GPUs a job runs "
                              f"one process per GPU)")
        for setting in self.deepspeed:
            check_for_model(setting, self)
        dl = self.dataloader
        if dl.num_workers == 0 and (dl.prefetch_factor is not None or dl.persistent_workers):
            raise ConfigError(f"{where}: key dataloader.prefetch_factor/persistent_workers needs dataloader.num_workers > 0")

    @property
    def is_tiny(self) -> bool:
        return self.pretrained is None


@functools.cache
def model_types() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """transformers' own registries: (every model type, causal LM types, seq2seq LM types).

    A type in both LM registries (BART, mBART, Pegasus... also have a decoder-only ``ForCausalLM``) counts as seq2seq.
    Reading them imports torch (~2.5 s), so they are kept per transformers version in the sumbench cache, and a
    workflow's start or ``sumbench images list`` reads a small JSON file instead.
    """
    from importlib import metadata

    cache = Path(os.environ.get("SUMBENCH_CACHE", Path.home() / ".cache" / "sumbench"))
    path = cache / f"model-types-transformers-{metadata.version('transformers')}.json"
    try:
        known, causal, seq2seq = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
            MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
        )

        seq2seq = sorted(MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)
        known, causal = sorted(CONFIG_MAPPING_NAMES), sorted(set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) - set(seq2seq))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
            tmp.write_text(json.dumps([known, causal, seq2seq]), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # a read-only cache: read the registries again next time
            pass
    return frozenset(known), frozenset(causal), frozenset(seq2seq)


def check_architecture(architecture: str, kind: str, where: str, *, custom_code: bool = False) -> None:
    """``architecture`` must be a transformers model type of ``kind``; one line naming what it is otherwise.

    With ``trust_remote_code`` a type transformers does not know is the checkpoint's own code, and is let through.
    """
    known, causal, seq2seq = model_types()
    if architecture not in known:
        if custom_code:
            return
        close = difflib.get_close_matches(architecture, sorted(known), n=3)
        raise ConfigError(f"{where}: key 'architecture': {architecture!r} is not a transformers model type"
                          + (f" (did you mean {', '.join(close)}?)" if close else "")
                          + "; it is the model_type in the checkpoint's config.json")
    actual = "causal" if architecture in causal else "seq2seq" if architecture in seq2seq else None
    if actual is None:
        raise ConfigError(f"{where}: architecture {architecture} has no causal or seq2seq language-model head in "
                          f"transformers (AutoModelForCausalLM / AutoModelForSeq2SeqLM); it cannot summarize")
    if actual != kind:
        raise ConfigError(f"{where}: architecture {architecture} is {actual}, not {kind} (set kind: {actual})")


_NESTED = {"tiny": TinySpec, "lora": LoraSpec, "quantization": QuantizationSpec, "training": TrainingSpec,
           "dataloader": DataLoaderSpec, "lengths": LengthSpec,
           "generation": GenerationSpec, "resources": ResourceSpec}


def spec_from_dict(data: dict, source: str) -> ModelSpec:
    validate_with_schema(data, MODEL_SCHEMA, source)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        cls = _NESTED.get(key)
        if cls is not None and value is not None:
            if cls is LoraSpec:
                value = _lora_tuples(value)
            value = cls(**value)
        if key == "deepspeed":
            value = parse_axis(value, source)
        kwargs[key] = value
    try:
        return ModelSpec(source_file=source, **kwargs)
    except TypeError as exc:  # a required dataclass field missing (e.g. tiny.config)
        raise ConfigError(f"{source}: {exc}") from None


def _lora_tuples(value: dict) -> dict:
    """YAML lists -> tuples (the spec is frozen); a single layer index -> a 1-tuple."""
    value = dict(value)
    for key in ("target_modules", "modules_to_save", "layers_to_transform"):
        item = value.get(key)
        if isinstance(item, list):
            value[key] = tuple(item)
        elif key == "layers_to_transform" and isinstance(item, int):
            value[key] = (item,)
    return value


def model_files(models_dir: str | os.PathLike = DEFAULT_MODELS_DIR) -> dict[str, Path]:
    """Map model name -> YAML path, walking the folder recursively; a duplicate name is an error."""
    found: dict[str, Path] = {}
    for path in sorted(Path(models_dir).rglob("*.yaml")):
        name = path.stem
        if name in found:
            raise ConfigError(f"{path}: model name {name!r} is already defined in {found[name]}")
        found[name] = path
    return found


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def load_model(name: str, models_dir: str | os.PathLike = DEFAULT_MODELS_DIR,
               overrides: list[str] | None = None) -> ModelSpec:
    files = model_files(models_dir)
    if name not in files:
        raise ConfigError(f"unknown model {name!r}: no {name}.yaml under {models_dir} "
                          f"(known: {', '.join(sorted(files)) or 'none'})")
    path = files[name]
    data = _read_yaml(path)
    if isinstance(data, dict) and data.get("name") != name:
        raise ConfigError(f"{path}: key 'name' is {data.get('name')!r} but the file is {name}.yaml")
    if overrides:
        data = apply_overrides(data, overrides, str(path))
    return spec_from_dict(data, str(path))


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """Plain dict of every setting (for records and `diff`)."""
    return dataclasses.asdict(spec)
