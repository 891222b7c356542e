"""Examples -> token ids for training and generation, with truncation accounting.

seq2seq: encoder input ``<s> dialogue </s>``; labels ``summary </s>``.
causal:  ``prompt(dialogue) summary EOS``; labels are -100 over the prompt, so the loss is on the summary
and its EOS only. The prompt is the tokenizer's chat template when it has one (one user message holding the
instruction and the dialogue, then the template's generation prompt, e.g. ``<|im_start|>assistant``), else
``prompt`` as plain text; either way it starts with the tokenizer's BOS (when it has one) exactly once.
Dialogues are truncated *inside* the prompt, so the instruction, the template's tags and the summary survive.
Padding is left to the collator (dynamic padding per batch, on the right); generation pads on the left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sumbench.errors import ConfigError

IGNORE = -100
DIALOGUE_MARK = "\u2063SUMBENCH_DIALOGUE\u2063"  # stands in for the dialogue while the chat template renders


@dataclass
class Truncation:
    examples: int = 0
    source_truncated: int = 0
    target_truncated: int = 0

    @property
    def source_rate(self) -> float:
        return self.source_truncated / self.examples if self.examples else 0.0

    @property
    def target_rate(self) -> float:
        return self.target_truncated / self.examples if self.examples else 0.0


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _wrap(tokenizer, ids: list[int], budget: int) -> tuple[list[int], bool]:
    """Truncate ``ids`` so that, with the tokenizer's BOS/EOS around them, they fit ``budget``."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id]
    room = budget - len(bos) - len(eos)
    return bos + ids[:room] + eos, len(ids) > room


def uses_chat_template(tokenizer, prompt_format: str = "auto") -> bool:
    """``auto``: the tokenizer's chat template when it has one; ``chat`` insists on it; ``plain`` never."""
    has = bool(getattr(tokenizer, "chat_template", None))
    if prompt_format == "chat" and not has:
        raise ConfigError("key 'prompt_format' is chat but the tokenizer has no chat template (use auto or plain)")
    return has and prompt_format != "plain"


def chat_prompt_parts(tokenizer, prompt: str, chat_template_kwargs: dict[str, Any] | None = None) -> tuple[str, str]:
    """The chat template rendered around the dialogue: (text before it, text after it, up to the summary)."""
    content = prompt.replace("{dialogue}", DIALOGUE_MARK)
    text = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                         add_generation_prompt=True, **(chat_template_kwargs or {}))
    if text.count(DIALOGUE_MARK) != 1:
        raise ConfigError("the chat template does not keep the user message verbatim; set prompt_format: plain")
    head, _, tail = text.partition(DIALOGUE_MARK)
    return head, tail


class Featurizer:
    def __init__(self, tokenizer, kind: str, source_len: int, target_len: int, prompt: str, *,
                 prompt_format: str = "auto", chat_template_kwargs: dict[str, Any] | None = None):
        self.tokenizer, self.kind = tokenizer, kind
        self.source_len, self.target_len = source_len, target_len
        self.chat = kind == "causal" and uses_chat_template(tokenizer, prompt_format)
        if self.chat:  # the template's role tags around the dialogue
            head, tail = chat_prompt_parts(tokenizer, prompt, chat_template_kwargs)
        else:
            head, _, tail = prompt.partition("{dialogue}")
        self.prompt_head, self.prompt_tail = _ids(tokenizer, head), _ids(tokenizer, tail)
        # BOS exactly once: Llama 3's template writes it, SOLAR's does not, a plain prompt never does
        bos = tokenizer.bos_token_id
        self.bos: list[int] = [bos] if bos is not None and self.prompt_head[:1] != [bos] else []
        self.room = source_len - len(self.bos) - len(self.prompt_head) - len(self.prompt_tail)  # dialogue tokens
        if kind == "causal" and self.room < 1:
            raise ConfigError(f"key 'lengths.source' ({source_len} tokens) leaves no room for the dialogue: the "
                              f"prompt alone takes {source_len - self.room}")
        self.truncation = Truncation()

    @classmethod
    def for_spec(cls, tokenizer, spec) -> Featurizer:
        """The featurizer a :class:`~sumbench.config.ModelSpec` asks for (lengths, prompt, chat template)."""
        try:
            return cls(tokenizer, spec.kind, spec.lengths.source, spec.lengths.target, spec.prompt,
                       prompt_format=spec.prompt_format, chat_template_kwargs=spec.chat_template_kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{spec.source_file}: {exc}") from None

    def _prompt(self, dialogue: str) -> tuple[list[int], bool]:
        """Causal prompt ids: BOS? + head + dialogue (truncated to fit ``source_len``) + tail."""
        dialogue_ids = _ids(self.tokenizer, dialogue)
        return (self.bos + self.prompt_head + dialogue_ids[: self.room] + self.prompt_tail,
                len(dialogue_ids) > self.room)

    def source(self, dialogue: str) -> tuple[list[int], bool]:
        if self.kind == "causal":
            return self._prompt(dialogue)
        return _wrap(self.tokenizer, _ids(self.tokenizer, dialogue), self.source_len)

    def train_example(self, dialogue: str, summary: str) -> dict:
        src, src_cut = self.source(dialogue)
        tgt_ids = _ids(self.tokenizer, summary)
        tgt = tgt_ids[: self.target_len - 1] + [self.tokenizer.eos_token_id]
        t = self.truncation
        t.examples += 1
        t.source_truncated += src_cut
        t.target_truncated += len(tgt_ids) > self.target_len - 1
        if self.kind == "causal":
            return {"input_ids": src + tgt, "attention_mask": [1] * (len(src) + len(tgt)),
                    "labels": [IGNORE] * len(src) + tgt}
        return {"input_ids": src, "attention_mask": [1] * len(src), "labels": tgt}

    def generation_input(self, dialogue: str) -> list[int]:
        return self.source(dialogue)[0]
