"""Tokenizers: loading a model's own, checking it keeps Korean, and training one for a tiny twin.

A loaded tokenizer (:func:`load_tokenizer`) must encode and decode the Korean probe ``ROUND_TRIP_PROBE`` back intact:
in transformers 5 a checkpoint whose ``tokenizer_config.json`` names no tokenizer class is rebuilt by its model
type's default class, and for BART-type checkpoints (KoBART) that is a byte-level BPE that silently drops every
Hangul syllable. :func:`prepare_tokenizer` then gives it a pad token distinct from EOS and right padding.

Tiny twins get a byte-level BPE trained on the dialogue corpus (:func:`cached_tokenizer`). Speaker tags
(``#Person1#`` ...) and PII masks (``#PhoneNumber#`` ...) are added as whole, *non-special* tokens: they survive
``decode(..., skip_special_tokens=True)``, so generated summaries keep them. The trained tokenizer is cached by a
hash of the corpus text and the vocabulary size.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Iterable

from sumbench.errors import ConfigError
from sumbench.korean import PII_MASKS

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]
SPEAKER_TAGS = [f"#Person{i}#" for i in range(1, 8)]
CACHE_DIR = Path(os.environ.get("SUMBENCH_CACHE", Path.home() / ".cache" / "sumbench"))
ROUND_TRIP_PROBE = "#Person1#: 내일 오후 세 시에 #Address#에서 만나요."
# Existing vocabulary entries that can serve as a pad token distinct from EOS (before adding a new one); Llama 3
# has none of these names but 250 unused <|reserved_special_token_N|> entries.
PAD_CANDIDATES = ("<pad>", "<|pad|>", "<|finetune_right_pad_id|>", "<|endoftext|>", "[PAD]")
RESERVED_TOKEN = re.compile(r"<\|reserved_special_token_\d+\|>")
NEW_PAD_TOKEN = "<|sumbench_pad|>"


# ------------------------------------------------------------------------------ a model's own tokenizer
def load_tokenizer(where: str, spec, *, check: bool = True):
    """The tokenizer at ``where``: the class ``spec.tokenizer_class`` names, else transformers' AutoTokenizer.

    Checked with the Korean round trip (unless ``check`` is False: doctor shows the check itself) and prepared for
    training (:func:`prepare_tokenizer`).
    """
    import transformers

    kwargs = {"trust_remote_code": spec.trust_remote_code}
    if spec.tokenizer_class:
        cls = getattr(transformers, spec.tokenizer_class, None)
        if cls is None or not hasattr(cls, "from_pretrained"):
            raise ConfigError(f"{spec.source_file}: key 'tokenizer_class': transformers has no tokenizer class "
                              f"{spec.tokenizer_class!r} (e.g. PreTrainedTokenizerFast loads tokenizer.json as saved)")
        tokenizer = cls.from_pretrained(where, **kwargs)
    else:
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, **kwargs)
    problem = round_trip_problem(tokenizer, spec, where) if check else None
    if problem:
        raise ConfigError(problem)
    return prepare_tokenizer(tokenizer, spec)


def round_trip(tokenizer, text: str = ROUND_TRIP_PROBE) -> str:
    """``text`` encoded without special tokens and decoded again."""
    return tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"], skip_special_tokens=False)


def round_trip_intact(tokenizer, text: str = ROUND_TRIP_PROBE) -> bool:
    """Every non-space character comes back in order (spacing may differ: some decoders add or strip a space)."""
    return re.sub(r"\s+", "", round_trip(tokenizer, text)) == re.sub(r"\s+", "", text)


def round_trip_problem(tokenizer, spec, where: str) -> str | None:
    """One line naming the model and the fix when the tokenizer loses Korean text; None when it keeps it."""
    if round_trip_intact(tokenizer):
        return None
    named = (f"the class set in tokenizer_class ({spec.tokenizer_class})" if spec.tokenizer_class else
             f"AutoTokenizer's choice ({type(tokenizer).__name__})")
    return (f"model {spec.name!r}: the tokenizer from {where}, loaded as {named}, does not round-trip Korean: "
            f"{ROUND_TRIP_PROBE!r} comes back as {round_trip(tokenizer)!r}; if the checkpoint has a tokenizer.json, "
            f"set `tokenizer_class: PreTrainedTokenizerFast` in {spec.source_file} to load it as saved")


def pad_candidate(tokenizer) -> str | None:
    """An existing token that can pad: UNK, a pad-like name, or Llama 3's first reserved special token."""
    vocab = tokenizer.get_vocab()
    reserved = sorted((i, t) for t, i in vocab.items() if RESERVED_TOKEN.fullmatch(t))
    candidates = [tokenizer.unk_token, *PAD_CANDIDATES, *(t for _, t in reserved[:1])]
    return next((t for t in candidates if t is not None and t in vocab and t != tokenizer.eos_token
                 and vocab[t] != tokenizer.eos_token_id and t != tokenizer.bos_token), None)


def prepare_tokenizer(tokenizer, spec=None):
    """A pad token distinct from EOS, right padding for training.

    A tokenizer without a pad token, or whose pad is its EOS, gets its UNK or an existing pad-like token
    as pad, else a new ``<|sumbench_pad|>`` (the caller then resizes the embeddings). Labels are -100 at pad
    positions anyway, so the distinction matters for the EOS at the end of each summary: it stays a target.
    A tokenizer saved with left padding is switched to the right; generation pads on the left by hand
    (:func:`sumbench.evaluation.generate.generate`).
    """
    if tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        choice = pad_candidate(tokenizer)
        if choice is not None:
            tokenizer.pad_token = choice
        else:
            tokenizer.add_special_tokens({"pad_token": NEW_PAD_TOKEN})
    tokenizer.padding_side = "right"
    return tokenizer


# ------------------------------------------------------------------------------ a tiny twin's tokenizer


def corpus_key(texts: list[str], vocab_size: int) -> str:
    digest = hashlib.sha256(f"v1|{vocab_size}|".encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """Train byte-level BPE on ``texts`` and wrap it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                   unk_token=UNK)
    fast.add_tokens(SPEAKER_TAGS + list(PII_MASKS))
    return fast


def cached_tokenizer(texts: list[str], vocab_size: int, cache_dir: Path = CACHE_DIR):
    """Return a tokenizer for ``texts``, training it once per corpus and vocabulary size."""
    from transformers import AutoTokenizer

    path = Path(cache_dir) / "tokenizers" / corpus_key(texts, vocab_size)
    if (path / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(path)
    tok = train_tokenizer(texts, vocab_size)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tok.save_pretrained(tmp)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, path)
    except OSError:  # another process won the race; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return AutoTokenizer.from_pretrained(path)
