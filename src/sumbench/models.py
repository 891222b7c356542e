"""Build or load a model and its tokenizer from a :class:`~sumbench.config.ModelSpec`.

Two sources, one code path after loading:
- ``pretrained:`` a hub id or a local directory -> ``from_pretrained`` (a missing download is one clear line);
- a tiny twin -> the architecture's config class with ``spec.tiny.config``, random init, and a tokenizer
  trained on the corpus. The warm start saves it with ``save_pretrained``, and the grid then loads it
  through the ``pretrained`` path like any hub model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sumbench.config import ModelSpec
from sumbench.errors import ConfigError

CONFIG_CLASSES = {"bart": "BartConfig", "llama": "LlamaConfig", "qwen3": "Qwen3Config", "gpt_neox": "GPTNeoXConfig"}
DROPOUT_KEYS = ("dropout", "attention_dropout", "activation_dropout", "hidden_dropout", "attention_probs_dropout_prob",
                "classifier_dropout")


def resolve_dtype(name: str, *, cuda_available: bool, bf16_supported: bool):
    """``auto`` = bf16 where the device supports it, else fp16 on CUDA, else fp32."""
    import torch

    if name == "auto":
        if cuda_available and bf16_supported:
            return torch.bfloat16
        return torch.float16 if cuda_available else torch.float32
    return getattr(torch, name)


def device_dtype(spec: ModelSpec):
    import torch

    cuda = torch.cuda.is_available()
    return resolve_dtype(spec.dtype, cuda_available=cuda, bf16_supported=cuda and torch.cuda.is_bf16_supported())


def _auto_class(spec: ModelSpec):
    import transformers

    return transformers.AutoModelForSeq2SeqLM if spec.kind == "seq2seq" else transformers.AutoModelForCausalLM


def build_tiny(spec: ModelSpec, tokenizer) -> Any:
    """A randomly initialised twin of ``spec.architecture`` sized by ``spec.tiny.config``."""
    import transformers

    assert spec.tiny is not None
    config_cls = getattr(transformers, CONFIG_CLASSES[spec.architecture])
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    if spec.architecture == "bart":
        ids.update(decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id)
    try:
        config = config_cls(**{**spec.tiny.config, **ids})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{spec.source_file}: key 'tiny.config': {exc}") from None
    return _auto_class(spec).from_config(config)


def _missing_weights(spec: ModelSpec, where: str, exc: Exception) -> ConfigError:
    if Path(where).expanduser().is_dir():
        hint = f"the directory {where} has no loadable model ({type(exc).__name__}); save one there with save_pretrained"
    else:
        hint = (f"weights for {where!r} are not available offline; on a machine with internet run "
                f"`hf download {where}` (or set `pretrained:` in {spec.source_file} to a local directory)")
    return ConfigError(f"model {spec.name!r}: {hint}")


def load_pretrained(spec: ModelSpec, path: str | None = None) -> tuple[Any, Any]:
    """``from_pretrained`` for the model and tokenizer at ``path`` (default ``spec.pretrained``)."""
    from transformers import AutoTokenizer

    where = path or spec.pretrained
    if where is None:
        raise ConfigError(f"{spec.source_file}: model {spec.name!r} is a tiny twin; warm-start it first "
                          f"(`sumbench warmstart --model {spec.name} ...`)")
    local = Path(where).expanduser()
    if where.startswith((".", "/", "~")) and not local.is_dir():
        raise ConfigError(f"model {spec.name!r}: pretrained directory {where} does not exist")
    kwargs = dict(trust_remote_code=spec.trust_remote_code)
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        model = _auto_class(spec).from_pretrained(where, dtype=device_dtype(spec), **kwargs)
    except (OSError, ValueError) as exc:
        raise _missing_weights(spec, where, exc) from None
    if model.config.model_type != spec.architecture:
        raise ConfigError(f"{spec.source_file}: architecture is {spec.architecture!r} but {where} holds a "
                          f"{model.config.model_type!r} model")
    return model, prepare_tokenizer(tokenizer, spec)


def prepare_tokenizer(tokenizer, spec: ModelSpec):
    """Give causal tokenizers a pad token distinct from EOS where they lack one; pad on the right for training."""
    if tokenizer.pad_token is None:
        if tokenizer.unk_token is not None and tokenizer.unk_token != tokenizer.eos_token:
            tokenizer.pad_token = tokenizer.unk_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<|sumbench_pad|>"})
    tokenizer.padding_side = "right"
    return tokenizer


def set_dropout(model, value: float | None) -> None:
    """Override every dropout probability in the config and in the live modules (None = keep)."""
    import torch

    if value is None:
        return
    for key in DROPOUT_KEYS:
        if hasattr(model.config, key):
            setattr(model.config, key, value)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = value
    for module in model.modules():  # BART applies functional dropout with these attributes
        for attr in ("dropout", "activation_dropout", "attention_dropout"):
            if isinstance(getattr(module, attr, None), float):
                setattr(module, attr, value)


def apply_finetune(model, spec: ModelSpec):
    """Full fine-tuning leaves the model as is; ``lora`` wraps it with peft adapters."""
    if spec.finetune == "full":
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    lora = spec.lora
    targets = lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules)
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                        task_type=TaskType.SEQ_2_SEQ_LM if spec.kind == "seq2seq" else TaskType.CAUSAL_LM)
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ConfigError(f"{spec.source_file}: key 'lora.target_modules': {exc}".splitlines()[0]) from None


def precision_and_memory_args(spec: ModelSpec) -> dict[str, Any]:
    """TrainingArguments keys for mixed precision, gradient checkpointing and the like (none yet)."""
    return {}


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
