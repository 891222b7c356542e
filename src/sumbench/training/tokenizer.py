"""A byte-level BPE tokenizer trained locally on the dialogue corpus (for tiny twins).

Speaker tags (``#Person1#`` ...) and PII masks (``#PhoneNumber#`` ...) are added as whole, *non-special*
tokens: they survive ``decode(..., skip_special_tokens=True)``, so generated summaries keep them.
The trained tokenizer is cached by a hash of the corpus text and the vocabulary size.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterable

from sumbench.korean import PII_MASKS

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]
SPEAKER_TAGS = [f"#Person{i}#" for i in range(1, 8)]
CACHE_DIR = Path(os.environ.get("SUMBENCH_CACHE", Path.home() / ".cache" / "sumbench"))


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
