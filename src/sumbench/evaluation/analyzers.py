"""How ROUGE cuts Korean into tokens. The number depends on it, so each analyzer is named with its version.

- ``kiwi``: kiwipiepy morphemes, sumbench's primary. Speaker tags and PII masks (``#Person1#``, ``#PhoneNumber#``,
  ...) are handed to Kiwi as pre-tokenized spans, so they stay whole and the particle after them keeps its context
  (``#Person1#와`` → ``#Person1#``, ``와``/JKB; Kiwi alone gives ``#Person1``, ``#와``).
- ``mecab``: Mecab-ko morphemes (python-mecab-ko with the mecab-ko-dic it bundles; ``MeCab().morphs`` forms), what
  most public solutions of the competition use. Mecab analyses the whole text, then the pieces it cut a tag into
  (``#``, ``Person``, ``1``, ``#``) are put back together by where they lie in the text, so every other morpheme is
  exactly what ``morphs`` gives and the particle after a tag is analysed in context as with Kiwi.
- ``whitespace``: words as the ``rouge`` 1.0.1 package (pinned by many notebooks) cuts them: every ``.`` ends a
  sentence and disappears, the rest is split on whitespace; commas and other punctuation stay attached to their
  word and case is kept, exactly as that package does (it does not lower-case). Tags stay whole (``#Person1#은`` is
  one word, as there). rouge_score then counts the words, so two things still differ from that package: it counts
  repeated n-grams (the package counts distinct ones) and ROUGE-L is one LCS over the text (the package unions LCS
  over its ``.``-sentences).

Both morpheme analyzers drop tokens made only of punctuation, symbols or spaces and lower-case Latin letters. Every
analyzer reads NFC text (:func:`sumbench.korean.nfc`), so decomposed Hangul never reaches it as jamo.
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import metadata
from typing import Sequence

from sumbench.errors import SumbenchError
from sumbench.korean import ANY_TAG_RE, kiwi, nfc

ANALYZERS = ("kiwi", "mecab", "whitespace")
PRIMARY = "kiwi"
# What ROUGE counts under each analyzer: morphemes or words (goes into metric_version).
UNIT = {"kiwi": "morph", "mecab": "morph", "whitespace": "word"}


def _is_punct(token: str) -> bool:
    """Only punctuation, symbols or spaces (Mecab gives an ideographic space ``\u3000`` as a token of its own)."""
    return all(unicodedata.category(ch)[0] in "PSZ" for ch in token)


# --- kiwi ----------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8192)
def _kiwi_tokens(text: str) -> tuple[str, ...]:
    spans = [(m.start(), m.end(), "NNP") for m in ANY_TAG_RE.finditer(text)]
    out = []
    for tok in kiwi().tokenize(text, pretokenized=spans or None):
        if ANY_TAG_RE.fullmatch(tok.form):
            out.append(tok.form)
        elif not _is_punct(tok.form):
            out.append(tok.form.lower())
    return tuple(out)


# --- mecab ---------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def mecab():
    """The process-wide Mecab-ko tagger (python-mecab-ko; its dictionary comes with python-mecab-ko-dic)."""
    try:
        from mecab import MeCab
    except ImportError as exc:
        raise SumbenchError(f"ROUGE analyzer 'mecab' needs python-mecab-ko ({exc}); pip install python-mecab-ko") \
            from None
    try:
        return MeCab()
    except Exception as exc:  # a missing or broken dictionary: MeCabError, RuntimeError
        raise SumbenchError(f"ROUGE analyzer 'mecab': python-mecab-ko cannot start ({type(exc).__name__}: "
                            f"{exc})".splitlines()[0]) from None


@functools.lru_cache(maxsize=8192)
def _mecab_tokens(text: str) -> tuple[str, ...]:
    tags = [(m.start(), m.end(), m.group()) for m in ANY_TAG_RE.finditer(text)]
    out: list[str] = []
    emitted: set[int] = set()
    position = 0
    for form in mecab().morphs(text):
        # Where the morph lies, found in the text: python-mecab-ko 1.3.7's own spans shift after leading whitespace.
        start = text.find(form, position)
        inside = []
        if start >= 0:  # always, so far: morphs are pieces of the text as written
            position = start + len(form)
            inside = [i for i, (s, e, _) in enumerate(tags) if s < position and start < e]
        if inside:  # a piece of a tag: the first piece stands for the whole tag, the others are dropped
            out += [tags[i][2] for i in inside if i not in emitted]
            emitted.update(inside)
        elif not _is_punct(form):
            out.append(form.lower())
    return tuple(out)


# --- whitespace ----------------------------------------------------------------------------------------------
def _whitespace_tokens(text: str) -> tuple[str, ...]:
    return tuple(text.replace(".", " ").split())


_TOKENS = {"kiwi": _kiwi_tokens, "mecab": _mecab_tokens, "whitespace": _whitespace_tokens}
# (module to import, distribution whose version names the analyzer); whitespace needs nothing.
_PACKAGES = {
    "kiwi": (("kiwipiepy", "kiwipiepy"),),
    "mecab": (("mecab", "python-mecab-ko"), ("mecab_ko_dic", "python-mecab-ko-dic")),
    "whitespace": (),
}


def _known(name: str) -> None:
    if name not in ANALYZERS:
        raise SumbenchError(f"unknown ROUGE analyzer {name!r} (choose from {', '.join(ANALYZERS)})")


def check_analyzers(names: str | Sequence[str]) -> tuple[str, ...]:
    """``names`` (a sequence, or one string of names joined by commas) as a tuple, each known and installed;
    otherwise a one-line :class:`SumbenchError`. The first is the primary analyzer."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = tuple(names)
    if not names:
        raise SumbenchError(f"no ROUGE analyzer given (choose from {', '.join(ANALYZERS)})")
    for name in names:
        _known(name)
        if names.count(name) > 1:
            raise SumbenchError(f"ROUGE analyzer {name!r} given twice")
    for name in names:
        analyzer_version(name)
    return names


def analyzer_version(name: str) -> str:
    """The analyzer and the versions of the packages it runs on, e.g. ``kiwipiepy-0.24.1``,
    ``python-mecab-ko-1.3.7+python-mecab-ko-dic-2.1.1.post2``, ``whitespace``; a missing package is an error."""
    _known(name)
    parts = []
    for module, dist in _PACKAGES[name]:
        try:
            __import__(module)
            parts.append(f"{dist}-{metadata.version(dist)}")
        except (ImportError, metadata.PackageNotFoundError) as exc:
            raise SumbenchError(f"ROUGE analyzer {name!r} needs {dist} ({exc}); pip install {dist}") from None
    return "+".join(parts) or name


def load(name: str) -> None:
    """Load analyzer ``name``'s model now (Kiwi's and Mecab-ko's take seconds on first use; whitespace none)."""
    _known(name)
    {"kiwi": kiwi, "mecab": mecab}.get(name, lambda: None)()


def tokenize(name: str, text: str) -> list[str]:
    """The tokens ROUGE counts in ``text`` under analyzer ``name`` (text is NFC-normalized first)."""
    _known(name)
    return list(_TOKENS[name](nfc(text))) if text and text.strip() else []


def tokenize_ko(text: str) -> list[str]:
    """Kiwi morpheme forms of ``text``; tags/masks kept whole, Latin lower-cased, punctuation/symbols dropped."""
    return tokenize("kiwi", text)


class Tokenizer:
    """A rouge_score ``Tokenizer``-compatible object: ``RougeScorer(types, tokenizer=Tokenizer("mecab"))``."""

    def __init__(self, name: str = PRIMARY):
        _known(name)
        self.name = name

    def tokenize(self, text: str) -> list[str]:
        return tokenize(self.name, text)


def clear_caches() -> None:
    """Forget cached tokens and analysers (tests that switch a package off)."""
    for fn in (_kiwi_tokens, _mecab_tokens, mecab, kiwi):
        fn.cache_clear()
