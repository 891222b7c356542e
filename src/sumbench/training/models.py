"""Build or load a model and its tokenizer from a :class:`~sumbench.config.ModelSpec`.

Two sources, one code path after loading:
- ``pretrained:`` a hub id or a local directory -> ``from_pretrained`` (a missing download is one clear line);
- a tiny twin -> ``AutoConfig.for_model(architecture, **tiny.config)``, random init, and a tokenizer trained on the
  corpus. Any transformers model type of the YAML's kind works; the warm start saves the twin with
  ``save_pretrained``, and the grid then loads it through the ``pretrained`` path like any hub model.

On that path the YAML's fine-tuning settings apply, in the names of transformers / peft / bitsandbytes:
``dtype`` and ``attn_implementation`` (resolved per device by :mod:`sumbench.training.device`, which also refuses
a GPU model where CUDA is unavailable), ``quantization`` (a ``BitsAndBytesConfig``; 4-bit + LoRA = QLoRA via
``prepare_model_for_kbit_training``) and ``lora`` (checked against the model's own linear modules and layer count).
Every trainable parameter is fp32. The tokenizer must keep Korean intact (:mod:`sumbench.training.tokenizer`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any

from sumbench.config.model import ModelSpec
from sumbench.errors import ConfigError
from sumbench.training import device
from sumbench.training.device import Precision

DROPOUT_KEYS = ("dropout", "attention_dropout", "activation_dropout", "hidden_dropout", "attention_probs_dropout_prob",
                "classifier_dropout")
MAX_CAUSE_CHARS = 300  # a load error's first line, cut there: a shard list or a config dump is no one-line cause
# bitsandbytes, at import on CPUs with AVX512-BF16, asks the `kernels` package for its optional packed-weight
# inference kernel from the Hub; offline, `kernels` logs that it skips the publisher check and bitsandbytes that the
# kernel is missing. sumbench never uses that path (see disable_cpu_weight_packing), so both lines are noise in every
# log, and they would break a bad input's one-line error.
for _noisy in ("bitsandbytes.backends.cpu.ops", "kernels"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


def module_available(name: str) -> bool:
    """Whether ``import name`` would work (a seam: tests fake missing or present packages)."""
    return importlib.util.find_spec(name) is not None


# ------------------------------------------------------------------------------------- quantization
def quantization_config(spec: ModelSpec, precision: Precision):
    """A transformers ``BitsAndBytesConfig`` for ``spec.quantization`` (None when off)."""
    q = spec.quantization
    if not q.enabled:
        return None
    if not module_available("bitsandbytes"):
        which = "load_in_4bit" if q.load_in_4bit else "load_in_8bit"
        raise ConfigError(f"{spec.source_file}: key 'quantization.{which}' needs the bitsandbytes package "
                          f"(pip install bitsandbytes)")
    from transformers import BitsAndBytesConfig

    if q.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=q.quant_type,
                              bnb_4bit_use_double_quant=q.double_quant,
                              bnb_4bit_compute_dtype=precision.quant_compute)


def disable_cpu_weight_packing(model) -> int:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference; returns layers touched.

    On a CPU with AVX512-BF16, a ``Linear4bit`` forward in eval mode without grad repacks its weight into
    a bf16-kernel layout, and the backward of every later training step then returns no gradient through
    it: LoRA stops learning after the first evaluation or generation, silently.
    """
    n = 0
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def is_quantized(model) -> bool:
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False)
                or getattr(model, "is_quantized", False))


def _auto_class(spec: ModelSpec):
    import transformers

    return transformers.AutoModelForSeq2SeqLM if spec.kind == "seq2seq" else transformers.AutoModelForCausalLM


def whole_weights() -> None:
    """Models load (or are built) whole, never partitioned as they load: once a Trainer ran under ZeRO-3 in this
    process, transformers may still hold its DeepSpeed config (while that Trainer's arguments are alive), and then
    ``from_pretrained`` and ``from_config`` make empty placeholders of every weight for DeepSpeed to gather. A Trainer
    under ZeRO-3 partitions the whole model it is given all the same."""
    import sys

    if "transformers.integrations.deepspeed" in sys.modules:
        sys.modules["transformers.integrations.deepspeed"].unset_hf_deepspeed_config()


def build_tiny(spec: ModelSpec, tokenizer) -> Any:
    """A randomly initialised twin of ``spec.architecture`` (any transformers model type) sized by ``spec.tiny.config``.

    The token ids come from the tokenizer; an encoder-decoder starts decoding at EOS and is forced to end with it,
    as BART checkpoints are configured.
    """
    from transformers import AutoConfig

    assert spec.tiny is not None
    whole_weights()
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    if spec.kind == "seq2seq":
        ids.update(decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id)
    try:
        return _auto_class(spec).from_config(AutoConfig.for_model(spec.architecture, **{**spec.tiny.config, **ids}))
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{spec.source_file}: key 'tiny.config': no {spec.architecture} model can be built from it "
                          f"({type(exc).__name__}: {exc})".splitlines()[0]) from None


def cannot_load(spec: ModelSpec, where: str, exc: Exception) -> ConfigError:
    """One line for weights or a tokenizer that did not load: from where, the cause (its first line: a missing file
    offline, a corrupt shard, a version that cannot read the config all look alike otherwise), and the usual fix.
    Raise it ``from exc``: the traceback keeps the whole cause."""
    cause = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:MAX_CAUSE_CHARS]
    if Path(where).expanduser().is_dir():
        hint = "the directory needs a model saved with save_pretrained"
    else:
        hint = (f"if its files are not in the Hugging Face cache, run `hf download {where}` on a machine with internet "
                f"(or set `pretrained:` in {spec.source_file} to a local directory)")
    return ConfigError(f"model {spec.name!r}: cannot load {where!r} ({cause}); {hint}")


def load_pretrained(spec: ModelSpec, path: str | None = None) -> tuple[Any, Any]:
    """``from_pretrained`` for the model and tokenizer at ``path`` (default ``spec.pretrained``).

    A model that asks for GPUs refuses to load without CUDA (one line with the cause). Dtype, attention kernel and
    quantization follow the YAML (resolved for this device). The tokenizer must round-trip Korean. Tiny twins come
    through here too: the warm start saved them in fp32, and 4-bit is applied while loading, as for a hub model.
    """
    from sumbench.training.tokenizer import load_tokenizer

    where = path or spec.pretrained
    if where is None:
        raise ConfigError(f"{spec.source_file}: model {spec.name!r} is a tiny twin; warm-start it first "
                          f"(`sumbench warmstart --model {spec.name} ...`)")
    local = Path(where).expanduser()
    if where.startswith((".", "/", "~")) and not local.is_dir():
        raise ConfigError(f"model {spec.name!r}: pretrained directory {where} does not exist")
    device.require_cuda(spec)
    cuda, bf16 = device.cuda_state()
    precision = device.resolve_precision(spec, cuda_available=cuda, bf16_supported=bf16)
    check_optimizer(spec)
    model_kwargs: dict[str, Any] = {
        "dtype": precision.weights, "trust_remote_code": spec.trust_remote_code,
        "attn_implementation": device.resolve_attn_implementation(
            spec, cuda_available=cuda, flash_attn_available=module_available("flash_attn"))}
    quant = quantization_config(spec, precision)
    if quant is not None:  # bitsandbytes places the weights itself: this process's GPU, or the CPU
        model_kwargs.update(quantization_config=quant,
                            device_map={"": int(os.environ.get("LOCAL_RANK", "0"))} if cuda else "cpu")
    try:
        tokenizer = load_tokenizer(where, spec)
        whole_weights()
        model = _auto_class(spec).from_pretrained(where, **model_kwargs)
    except (OSError, ValueError) as exc:
        raise cannot_load(spec, where, exc) from exc
    if model.config.model_type != spec.architecture:
        raise ConfigError(f"{spec.source_file}: architecture is {spec.architecture!r} but {where} holds a "
                          f"{model.config.model_type!r} model")
    disable_cpu_weight_packing(model)
    return model, tokenizer


def check_optimizer(spec: ModelSpec) -> None:
    if spec.training.optim.endswith("8bit") and not module_available("bitsandbytes"):
        raise ConfigError(f"{spec.source_file}: key 'training.optim': {spec.training.optim} needs the bitsandbytes "
                          f"package (pip install bitsandbytes)")


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


# --------------------------------------------------------------------------------------------- LoRA
def linear_modules(model) -> dict[str, Any]:
    """Qualified name -> module of every linear layer except the output head (what "all-linear" adapts)."""
    import torch

    head = model.get_output_embeddings()
    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head}


def num_layers(model) -> int:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(config.num_hidden_layers)


def resolve_layers(spec: ModelSpec, n_layers: int) -> list[int] | None:
    """``lora.layers_to_transform`` with negative indices counted from the end; out of range is an error."""
    layers = spec.lora.layers_to_transform
    if layers is None:
        return None
    out = []
    for i in layers:
        j = i + n_layers if i < 0 else i
        if not 0 <= j < n_layers:
            raise ConfigError(f"{spec.source_file}: key 'lora.layers_to_transform': layer {i} is out of range for "
                              f"a model with {n_layers} layers (use 0..{n_layers - 1} or -{n_layers}..-1)")
        out.append(j)
    return sorted(set(out))


def _matches(name: str, key: str) -> bool:
    return name == key or name.endswith("." + key)


def lora_targets(model, spec: ModelSpec) -> str | list[str]:
    """``lora.target_modules`` checked against the model: every name must be one of its linear modules."""
    linear = linear_modules(model)
    leaves = sorted({name.rsplit(".", 1)[-1] for name in linear})
    targets = spec.lora.target_modules
    if targets == "all-linear":
        # peft refuses layers_to_transform with a string target; the explicit list means the same modules
        return leaves if spec.lora.layers_to_transform is not None else "all-linear"
    if isinstance(targets, str):
        raise ConfigError(f"{spec.source_file}: key 'lora.target_modules': {targets!r} is neither 'all-linear' nor "
                          f"a list; this model's linear modules are: {', '.join(leaves)}")
    missing = [t for t in targets if not any(_matches(name, t) for name in linear)]
    if missing:
        raise ConfigError(f"{spec.source_file}: key 'lora.target_modules': {', '.join(map(repr, missing))} "
                          f"{'is not a linear module' if len(missing) == 1 else 'are not linear modules'} of this "
                          f"{spec.architecture} model; its linear modules are: {', '.join(leaves)}")
    return list(targets)


def _check_modules_to_save(model, spec: ModelSpec) -> list[str] | None:
    names = spec.lora.modules_to_save
    if not names:
        return None
    all_names = [n for n, _ in model.named_modules() if n]
    missing = [t for t in names if not any(_matches(n, t) for n in all_names)]
    if missing:
        tops = sorted({n.rsplit(".", 1)[-1] for n in all_names if not re.search(r"\.\d+(\.|$)", n)})
        raise ConfigError(f"{spec.source_file}: key 'lora.modules_to_save': {', '.join(map(repr, missing))} not in "
                          f"the model; modules outside the layer stack: {', '.join(tops)}")
    return list(names)


def apply_finetune(model, spec: ModelSpec):
    """Full fine-tuning leaves the model as is; ``lora`` wraps it with peft adapters (QLoRA on a quantized base).

    A quantized base goes through ``prepare_model_for_kbit_training`` first (norms and embeddings to fp32,
    input grads for checkpointing, non-reentrant checkpointing when the YAML asks for it). Every trainable
    parameter ends up fp32 whatever the base dtype: adapters, ``modules_to_save`` copies and biases.
    """
    if spec.finetune == "full":
        return model
    import torch
    from peft import (
        LoraConfig,
        TaskType,
        get_peft_model,
        prepare_model_for_kbit_training,
    )

    lora = spec.lora
    targets = lora_targets(model, spec)
    layers = resolve_layers(spec, num_layers(model))
    to_save = _check_modules_to_save(model, spec)
    if is_quantized(model):
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=spec.training.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                        layers_to_transform=layers, modules_to_save=to_save, bias=lora.bias,
                        task_type=TaskType.SEQ_2_SEQ_LM if spec.kind == "seq2seq" else TaskType.CAUSAL_LM)
    try:
        model = get_peft_model(model, config, autocast_adapter_dtype=True)
    except ValueError as exc:
        raise ConfigError(f"{spec.source_file}: key 'lora': {exc}".splitlines()[0]) from None
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
    return model


def precision_and_memory_args(spec: ModelSpec) -> dict[str, Any]:
    """TrainingArguments keys for mixed precision and gradient checkpointing (resolved for this device).

    bf16/fp16 follow the compute dtype (fp16 on CUDA brings the GradScaler, which the fp32 trainable
    parameters make safe). Checkpointing is always non-reentrant: the reentrant variant drops gradients
    when only some parameters (the adapters) require them. transformers 5.23 renamed TrainingArguments'
    ``gradient_checkpointing[_kwargs]`` to ``activation_checkpointing[_kwargs]`` (the old names still mirror
    them); the YAML keeps the name users know.
    """
    precision = device.device_precision(spec)
    args: dict[str, Any] = {"bf16": precision.bf16, "fp16": precision.fp16}
    if spec.training.gradient_checkpointing:
        args.update(activation_checkpointing=True, activation_checkpointing_kwargs={"use_reentrant": False})
    return args


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; a packed 4-bit weight counts its unpacked elements."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        if type(p).__name__ == "Params4bit":  # two 4-bit values per byte of storage
            n *= 2 * getattr(getattr(p, "quant_storage", None), "itemsize", 1)
        total += n
        trainable += n if p.requires_grad else 0
    return trainable, total


def load_for_training(spec: ModelSpec) -> tuple[Any, Any]:
    """Model + tokenizer through the pretrained path, with dropout override and LoRA applied."""
    from transformers import set_seed

    set_seed(spec.training.seed)  # new rows of a resized embedding and LoRA's A matrices start random: seed them
    model, tokenizer = load_pretrained(spec)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:  # a pad token was added
        model.resize_token_embeddings(len(tokenizer))
    model = apply_finetune(model, spec)
    set_dropout(model, spec.training.dropout)  # after LoRA wrapping, so lora_dropout follows it too
    return model, tokenizer
