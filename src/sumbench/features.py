"""Examples -> token ids for training and generation, with truncation accounting.

seq2seq: encoder input ``<s> dialogue </s>``; labels ``summary </s>``.
causal:  ``<s>? prompt(dialogue) summary </s>``; labels are -100 over the prompt, so the loss is on the
summary only. Dialogues are truncated *inside* the prompt, so the instruction and the summary survive.
Padding is left to the collator (dynamic padding per batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

IGNORE = -100


@dataclass
class Truncation:
    examples: int = 0
    source_truncated: int = 0
    target_truncated: int = 0
    source_lengths: list[int] = field(default_factory=list)
    target_lengths: list[int] = field(default_factory=list)

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


class Featurizer:
    def __init__(self, tokenizer, kind: str, source_len: int, target_len: int, prompt: str):
        self.tokenizer, self.kind = tokenizer, kind
        self.source_len, self.target_len = source_len, target_len
        head, _, tail = prompt.partition("{dialogue}")
        self.prompt_head, self.prompt_tail = _ids(tokenizer, head), _ids(tokenizer, tail)
        self.truncation = Truncation()

    def _prompt(self, dialogue: str) -> tuple[list[int], bool]:
        """Causal prompt ids: BOS? + head + dialogue (truncated to fit ``source_len``) + tail."""
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        room = self.source_len - len(bos) - len(self.prompt_head) - len(self.prompt_tail)
        dialogue_ids = _ids(self.tokenizer, dialogue)
        return bos + self.prompt_head + dialogue_ids[:room] + self.prompt_tail, len(dialogue_ids) > room

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
        t.source_lengths.append(len(src))
        t.target_lengths.append(len(tgt))
        if self.kind == "causal":
            return {"input_ids": src + tgt, "attention_mask": [1] * (len(src) + len(tgt)),
                    "labels": [IGNORE] * len(src) + tgt}
        return {"input_ids": src, "attention_mask": [1] * len(src), "labels": tgt}

    def generation_input(self, dialogue: str) -> list[int]:
        return self.source(dialogue)[0]
