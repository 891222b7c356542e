"""Model-based methods: ``back_translation`` and ``paraphrase`` rewrite each turn with a seq2seq model.

The model is a hub id or a local directory, loaded once per method; generation is greedy or beam search,
never sampling, so a copy is deterministic too. The summary is the label and is kept.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

from sumbench.data.augment.registry import Augmenter, join_turns, register, specials, turns
from sumbench.data.corpus import Example
from sumbench.errors import ConfigError


class Seq2SeqRewriter:
    """A seq2seq model (hub id or local directory) that rewrites a batch of texts; greedy/beam, no sampling."""

    def __init__(self, model_id: str, key: str, *, num_beams: int, min_new_tokens: int, max_new_tokens: int,
                 batch_size: int):
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_id)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(model_id).eval()
        except (OSError, ValueError, KeyError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{key} {model_id!r}: cannot load a seq2seq model ({reason})") from None
        self.num_beams, self.batch_size = num_beams, batch_size
        self.min_new_tokens, self.max_new_tokens = min_new_tokens, max_new_tokens

    def __call__(self, texts: Sequence[str], *, src_lang: str | None = None, tgt_lang: str | None = None,
                 prefix: str = "") -> list[str]:
        import torch

        tok = self.tokenizer
        if src_lang:
            tok.src_lang = src_lang
        extra = {}
        if tgt_lang:
            extra["forced_bos_token_id"] = tok.convert_tokens_to_ids(tgt_lang)
        todo = [i for i, t in enumerate(texts) if t.strip()]  # an empty text (e.g. a failed first leg) stays empty
        out = [""] * len(texts)
        for start in range(0, len(todo), self.batch_size):
            index = todo[start:start + self.batch_size]
            enc = tok([prefix + texts[i] for i in index], return_tensors="pt", padding=True, truncation=True,
                      max_length=512)
            if enc["input_ids"].shape[-1] == 0:
                continue
            with torch.no_grad():
                gen = self.model.generate(**enc, num_beams=self.num_beams, do_sample=False,
                                          min_new_tokens=self.min_new_tokens, max_new_tokens=self.max_new_tokens,
                                          **extra)
            for i, text in zip(index, tok.batch_decode(gen, skip_special_tokens=True)):
                out[i] = " ".join(text.split())
        return out


class _TurnRewriter(Augmenter):
    """Rewrite each turn's text with a seq2seq model. A turn whose output is empty, unchanged, broken
    (U+FFFD, a newline) or has other ``#...#`` tokens than the input keeps its original text; a dialogue
    with no rewritten turn yields no copy."""

    section: ClassVar[str]

    @classmethod
    def check(cls, settings):
        if not getattr(settings, cls.section).model:
            raise ConfigError(f"{settings.source}: {cls.name} needs a seq2seq model, but key '{cls.section}.model' "
                              f"is not set (a hub id or local directory{cls.example})")

    example: ClassVar[str] = ""

    def rewrite(self, texts: list[str]) -> list[str]:
        raise NotImplementedError

    def augment_batch(self, examples, rngs):
        slots = [(k, j, text) for k, ex in enumerate(examples) for j, (_, text) in enumerate(turns(ex.dialogue))
                 if text.strip()]
        new_texts = self.rewrite([text for _, _, text in slots]) if slots else []
        changed: dict[int, dict[int, str]] = {}
        for (k, j, old), new in zip(slots, new_texts):
            if new and new != old and specials(new) == specials(old) and not set(new) & {"\n", "\ufffd"}:
                changed.setdefault(k, {})[j] = new
        out: list[Example | None] = []
        for k, ex in enumerate(examples):
            if k not in changed:
                out.append(None)
                continue
            parts = [(tag, changed[k].get(j, text)) for j, (tag, text) in enumerate(turns(ex.dialogue))]
            out.append(dataclasses.replace(ex, dialogue=join_turns(parts)))
        return out


@register
class BackTranslation(_TurnRewriter):
    """Each turn source -> pivot -> source through ``back_translation.model`` (``reverse_model`` for the way back
    when it is a different model, e.g. a Marian pair; ``src_lang``/``pivot_lang`` for many-to-many models such as
    NLLB: ``kor_Hang``/``eng_Latn``)."""

    name = "back_translation"
    section = "back_translation"
    example = ", e.g. facebook/nllb-200-distilled-600M with src_lang kor_Hang and pivot_lang eng_Latn"

    def __init__(self, settings):
        super().__init__(settings)
        s = settings.back_translation
        opts = dict(num_beams=s.num_beams, min_new_tokens=s.min_new_tokens, max_new_tokens=s.max_new_tokens,
                    batch_size=s.batch_size)
        self.forward = Seq2SeqRewriter(s.model, f"{settings.source}: back_translation.model", **opts)
        self.backward = (self.forward if not s.reverse_model or s.reverse_model == s.model else
                         Seq2SeqRewriter(s.reverse_model, f"{settings.source}: back_translation.reverse_model", **opts))

    def rewrite(self, texts):
        s = self.settings.back_translation
        pivot = self.forward(texts, src_lang=s.src_lang, tgt_lang=s.pivot_lang)
        return self.backward(pivot, src_lang=s.pivot_lang, tgt_lang=s.src_lang)


@register
class Paraphrase(_TurnRewriter):
    """Each turn through a Korean paraphrase model (``paraphrase.model``, optional ``prefix`` such as
    ``"paraphrase: "``)."""

    name = "paraphrase"
    section = "paraphrase"

    def __init__(self, settings):
        super().__init__(settings)
        s = settings.paraphrase
        self.model = Seq2SeqRewriter(s.model, f"{settings.source}: paraphrase.model", num_beams=s.num_beams,
                                     min_new_tokens=s.min_new_tokens, max_new_tokens=s.max_new_tokens,
                                     batch_size=s.batch_size)

    def rewrite(self, texts):
        return self.model(texts, prefix=self.settings.paraphrase.prefix)
