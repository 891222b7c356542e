"""Summaries from a trained model: batched beam search with the YAML's decoding, never sampling.

Causal prompts are padded on the left and only the new tokens are decoded, up to the first stop token (the
tokenizer's EOS or one of the model's own end-of-turn tokens). Imports torch and transformers lazily.
"""

from __future__ import annotations

import copy
import time
from typing import NamedTuple

from sumbench.config.model import ModelSpec

SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "typical_p")


class Generated(NamedTuple):
    summaries: list[str]
    new_tokens: int  # generated tokens, prompt and padding excluded
    seconds: float


def stop_token_ids(model, tokenizer) -> list[int]:
    """The tokenizer's EOS plus the model's own end tokens (chat models end turns with e.g. ``<|eot_id|>``)."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for i in configured if isinstance(configured, (list, tuple)) else [configured]:
        if i is not None and i not in ids:
            ids.append(i)
    return [i for i in ids if i is not None]


def generation_config(model, tokenizer, spec: ModelSpec):
    """The model's GenerationConfig with the YAML's decoding, deterministic.

    Hub models ship sampling defaults (Qwen3: do_sample with temperature 0.6); evaluation must not sample,
    so sampling is switched off and its knobs reset. Decoder start / forced tokens of the model stay.
    """
    from transformers import GenerationConfig

    g = spec.generation
    config = copy.deepcopy(model.generation_config) if getattr(model, "generation_config", None) else GenerationConfig()
    defaults = GenerationConfig()
    config.do_sample = False
    for key in SAMPLING_KEYS:
        if hasattr(config, key):
            setattr(config, key, getattr(defaults, key, None))
    config.num_beams, config.max_new_tokens, config.max_length = g.num_beams, g.max_new_tokens, None
    config.length_penalty, config.no_repeat_ngram_size = g.length_penalty, g.no_repeat_ngram_size
    config.repetition_penalty = g.repetition_penalty
    config.early_stopping = True if g.num_beams > 1 else defaults.early_stopping
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = stop_token_ids(model, tokenizer)
    return config


def generate(model, tokenizer, spec: ModelSpec, featurizer, dialogues: list[str], synced: bool = False) -> Generated:
    """Batched beam search over ``dialogues`` in batches of ``generation.batch_size``. ``synced``: every process of
    the job runs this same call on weights split over them (ZeRO-3), each forward pass gathering them from all, so
    all keep stepping until every one is done (transformers' ``synced_gpus``)."""
    import torch

    g = spec.generation
    model.eval()
    outputs: list[str] = []
    new_tokens = 0
    pad = tokenizer.pad_token_id
    config = generation_config(model, tokenizer, spec)
    stops = set(config.eos_token_id)
    left = spec.kind == "causal"  # decoder-only models continue the prompt: pad on the left
    start = time.perf_counter()
    for i in range(0, len(dialogues), g.batch_size):
        rows = [featurizer.generation_input(d) for d in dialogues[i:i + g.batch_size]]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, row in enumerate(rows):
            sl = slice(width - len(row), width) if left else slice(0, len(row))
            ids[j, sl] = torch.tensor(row)
            mask[j, sl] = 1
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                                 generation_config=config, synced_gpus=synced)
        # causal: drop the prompt; seq2seq: drop the decoder start token (BART starts with </s>)
        gen = gen[:, width:] if left else gen[:, 1:]
        for seq in gen.tolist():
            stop = next((k for k, t in enumerate(seq) if t in stops), None)
            if stop is not None:
                seq = seq[:stop]
            body = [t for t in seq if t not in (pad, tokenizer.bos_token_id)]
            new_tokens += len(body)
            outputs.append(tokenizer.decode(body, skip_special_tokens=True).strip())
    return Generated(outputs, new_tokens, time.perf_counter() - start)
